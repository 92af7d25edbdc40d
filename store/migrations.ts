/**
 * Versioned ClickHouse schema. Each migration is a list of statements that are
 * safe to run twice (`IF NOT EXISTS`), so a crash between a statement and the
 * bookkeeping row only repeats harmless work. Append new versions; never edit
 * one that has shipped.
 */
export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/**
 * `otel_traces` as the OpenTelemetry Collector's ClickHouse exporter creates
 * it (opentelemetry-collector-contrib, exporter/clickhouseexporter,
 * traces_table.sql, bloom-filter variant), so Grafana's ClickHouse plugin reads
 * it in OpenTelemetry mode without a mapping.
 */
const OTEL_TRACES = `
CREATE TABLE IF NOT EXISTS otel_traces (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    ResourceAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(ResourceAttributes, 'Array(Tuple(String, String))')),
    SpanAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(SpanAttributes, 'Array(Tuple(String, String))')),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1,
    INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1`;

/** The exporter's trace-id lookup: first and last span time of each trace. */
const OTEL_TRACES_TRACE_ID_TS = `
CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = AggregatingMergeTree
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1`;

const OTEL_TRACES_TRACE_ID_TS_MV = `
CREATE MATERIALIZED VIEW IF NOT EXISTS otel_traces_trace_id_ts_mv
TO otel_traces_trace_id_ts
AS SELECT
    TraceId,
    min(Timestamp) AS Start,
    max(Timestamp) AS End
FROM otel_traces
WHERE TraceId != ''
GROUP BY TraceId`;

/**
 * One row per observation of one entity (a queue, a job channel and function)
 * of one pull source. Nullable columns are NULL when the source cannot report
 * that value, which is different from zero.
 */
const INTEGRATION_LAG = `
CREATE TABLE IF NOT EXISTS integration_lag (
    observed_at DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    integration LowCardinality(String) CODEC(ZSTD(1)),
    workflow LowCardinality(String) CODEC(ZSTD(1)),
    source LowCardinality(String) CODEC(ZSTD(1)),
    source_kind LowCardinality(String) CODEC(ZSTD(1)),
    entity String CODEC(ZSTD(1)),
    status LowCardinality(String) CODEC(ZSTD(1)),
    lag_seconds Nullable(Float64) CODEC(ZSTD(1)),
    lag_estimated Bool CODEC(ZSTD(1)),
    depth Nullable(UInt64) CODEC(T64, ZSTD(1)),
    in_flight Nullable(UInt64) CODEC(T64, ZSTD(1)),
    consumers Nullable(UInt32) CODEC(ZSTD(1)),
    inflow_per_second Nullable(Float64) CODEC(ZSTD(1)),
    outflow_per_second Nullable(Float64) CODEC(ZSTD(1)),
    stuck Nullable(UInt64) CODEC(T64, ZSTD(1)),
    failed Nullable(UInt64) CODEC(T64, ZSTD(1)),
    state_counts Map(LowCardinality(String), UInt64) CODEC(ZSTD(1)),
    detail String CODEC(ZSTD(1)),
    attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    INDEX idx_status status TYPE set(16) GRANULARITY 4
) ENGINE = MergeTree
PARTITION BY toDate(observed_at)
ORDER BY (integration, source, entity, observed_at)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1`;

/**
 * Failures read from integrations (a failed Odoo job, a dead-lettered
 * message), one row per failure and observation. ReplacingMergeTree keeps the
 * latest observation of each failure once parts merge; query with FINAL for an
 * exact list.
 */
const INTEGRATION_FAILURES = `
CREATE TABLE IF NOT EXISTS integration_failures (
    observed_at DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    failed_at DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    integration LowCardinality(String) CODEC(ZSTD(1)),
    workflow LowCardinality(String) CODEC(ZSTD(1)),
    source LowCardinality(String) CODEC(ZSTD(1)),
    source_kind LowCardinality(String) CODEC(ZSTD(1)),
    entity String CODEC(ZSTD(1)),
    failure_id String CODEC(ZSTD(1)),
    exception_name String CODEC(ZSTD(1)),
    exception_message String CODEC(ZSTD(1)),
    retry_count UInt32 CODEC(ZSTD(1)),
    attributes Map(LowCardinality(String), String) CODEC(ZSTD(1))
) ENGINE = ReplacingMergeTree(observed_at)
PARTITION BY toYYYYMM(failed_at)
ORDER BY (source, failure_id)
SETTINGS index_granularity = 8192`;

/**
 * One row per business transaction and insert: the spans that share a
 * `syncwatch.correlation_id` span attribute, summarised. Rows of one
 * transaction from separate inserts combine by their aggregate functions when
 * parts merge, so read through `workflow_transaction_latency`, which groups by
 * correlation id, rather than from this table.
 */
const WORKFLOW_TRANSACTIONS = `
CREATE TABLE IF NOT EXISTS workflow_transactions (
    correlation_id String CODEC(ZSTD(1)),
    workflow SimpleAggregateFunction(max, String) CODEC(ZSTD(1)),
    plant SimpleAggregateFunction(max, String) CODEC(ZSTD(1)),
    integrations SimpleAggregateFunction(groupUniqArrayArray, Array(String)) CODEC(ZSTD(1)),
    services SimpleAggregateFunction(groupUniqArrayArray, Array(String)) CODEC(ZSTD(1)),
    trace_ids SimpleAggregateFunction(groupUniqArrayArray, Array(String)) CODEC(ZSTD(1)),
    first_span_start SimpleAggregateFunction(min, DateTime64(9)) CODEC(ZSTD(1)),
    last_span_end SimpleAggregateFunction(max, DateTime64(9)) CODEC(ZSTD(1)),
    span_count SimpleAggregateFunction(sum, UInt64) CODEC(ZSTD(1)),
    error_span_count SimpleAggregateFunction(sum, UInt64) CODEC(ZSTD(1)),
    producer_span_count SimpleAggregateFunction(sum, UInt64) CODEC(ZSTD(1)),
    consumer_span_count SimpleAggregateFunction(sum, UInt64) CODEC(ZSTD(1)),
    last_received_at SimpleAggregateFunction(max, DateTime64(3)) CODEC(ZSTD(1))
) ENGINE = AggregatingMergeTree
PARTITION BY toDate(first_span_start)
ORDER BY correlation_id
SETTINGS index_granularity = 8192`;

/**
 * Feeds `workflow_transactions` from every span insert. The workflow and
 * plant are the largest non-empty value among the transaction's spans, so one
 * span that carries them is enough. The plant falls back to the resource
 * attribute of a system that serves one plant.
 */
const WORKFLOW_TRANSACTIONS_MV = `
CREATE MATERIALIZED VIEW IF NOT EXISTS workflow_transactions_mv
TO workflow_transactions
AS SELECT
    SpanAttributes['syncwatch.correlation_id'] AS correlation_id,
    max(SpanAttributes['syncwatch.workflow']) AS workflow,
    max(if(SpanAttributes['syncwatch.plant'] != '', SpanAttributes['syncwatch.plant'], ResourceAttributes['syncwatch.plant'])) AS plant,
    groupUniqArrayIf(SpanAttributes['syncwatch.integration'], SpanAttributes['syncwatch.integration'] != '') AS integrations,
    groupUniqArrayIf(ServiceName, ServiceName != '') AS services,
    groupUniqArray(TraceId) AS trace_ids,
    min(Timestamp) AS first_span_start,
    max(addNanoseconds(Timestamp, Duration)) AS last_span_end,
    count() AS span_count,
    countIf(StatusCode = 'Error') AS error_span_count,
    countIf(SpanKind = 'Producer') AS producer_span_count,
    countIf(SpanKind = 'Consumer') AS consumer_span_count,
    now64(3) AS last_received_at
FROM otel_traces
WHERE SpanAttributes['syncwatch.correlation_id'] != ''
GROUP BY correlation_id`;

/**
 * Each business transaction with its end-to-end latency: from the start of
 * its first span to the end of its last, in milliseconds. A transaction is in
 * flight while it has more PRODUCER spans than CONSUMER spans, because a
 * message it sent to a queue has not been processed yet.
 *
 * A sender that replays a transaction with the same correlation id extends it
 * to the end of the replay, and `trace_ids` then lists one trace per attempt.
 *
 * NOTE: two cases do not keep a transaction in flight: a step that emits no
 * producer span (a scheduled batch, a lost span), and a message read by
 * several consumers. Such a transaction counts as completed with the spans
 * seen so far.
 */
const WORKFLOW_TRANSACTION_LATENCY = `
CREATE VIEW IF NOT EXISTS workflow_transaction_latency AS
SELECT
    correlation_id,
    workflow,
    plant,
    integrations,
    services,
    length(services) AS hops,
    trace_ids,
    started_at,
    ended_at,
    -- An in-flight transaction has no end yet, so it has no latency, only an age.
    if(
        producer_span_count > consumer_span_count,
        NULL,
        (toUnixTimestamp64Nano(ended_at) - toUnixTimestamp64Nano(started_at)) / 1000000
    ) AS latency_ms,
    span_count,
    error_span_count,
    toBool(producer_span_count > consumer_span_count) AS in_flight,
    last_received_at
FROM (
    SELECT
        correlation_id,
        max(workflow) AS workflow,
        max(plant) AS plant,
        arraySort(groupUniqArrayArray(integrations)) AS integrations,
        arraySort(groupUniqArrayArray(services)) AS services,
        arraySort(groupUniqArrayArray(trace_ids)) AS trace_ids,
        min(first_span_start) AS started_at,
        max(last_span_end) AS ended_at,
        sum(span_count) AS span_count,
        sum(error_span_count) AS error_span_count,
        sum(producer_span_count) AS producer_span_count,
        sum(consumer_span_count) AS consumer_span_count,
        max(last_received_at) AS last_received_at
    FROM workflow_transactions
    GROUP BY correlation_id
)`;

/**
 * The configured workflows and their objectives, written by the service at
 * start. Each start inserts a new version of every configured workflow and
 * marks the ones no longer configured inactive; query with FINAL.
 */
const WORKFLOW_OBJECTIVES = `
CREATE TABLE IF NOT EXISTS workflow_objectives (
    workflow LowCardinality(String),
    criticality LowCardinality(String),
    sync_mode LowCardinality(String),
    percentile Nullable(Float64),
    objective_ms Nullable(UInt64),
    integrations Array(String),
    active Bool,
    updated_at DateTime64(3)
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY workflow`;

/**
 * Per workflow, the transactions that started in [window_start, window_end):
 * completed ones with their p50, p95 and p99 latency (nearest rank), in-flight
 * ones, and in-flight ones already older than the objective, which count as
 * outside it. The status is `ok` when at least `percentile` percent of the
 * completed and overdue transactions are within the objective, `breaching`
 * otherwise, `no_data` when there are none, and `no_objective` for a workflow
 * seen in spans without an active objective.
 *
 * NOTE: an in-flight transaction that started before the window is not
 * counted, so a window shorter than the objective never shows one as overdue.
 */
const WORKFLOW_SLO_STATUS_BETWEEN = `
CREATE VIEW IF NOT EXISTS workflow_slo_status_between AS
WITH
    objectives AS (
        SELECT workflow, criticality, sync_mode, percentile, objective_ms
        FROM workflow_objectives FINAL
        WHERE active
    ),
    transactions AS (
        SELECT
            t.workflow AS workflow,
            t.in_flight AS in_flight,
            t.latency_ms AS latency_ms,
            t.error_span_count AS error_span_count,
            (toUnixTimestamp64Milli(now64(3)) - toUnixTimestamp64Milli(toDateTime64(t.started_at, 3))) AS age_ms,
            o.objective_ms AS objective_ms
        FROM workflow_transaction_latency AS t
        LEFT JOIN objectives AS o ON o.workflow = t.workflow
        WHERE t.workflow != ''
            AND t.started_at >= {window_start:DateTime64(3)}
            AND t.started_at < {window_end:DateTime64(3)}
    ),
    stats AS (
        SELECT
            workflow,
            countIf(NOT in_flight) AS completed,
            countIf(in_flight) AS in_flight_count,
            countIf(in_flight AND age_ms > objective_ms) AS overdue_count,
            countIf(NOT in_flight AND latency_ms <= objective_ms) AS within_count,
            countIf(NOT in_flight AND error_span_count > 0) AS completed_with_errors,
            arraySort(groupArrayIf(latency_ms, NOT in_flight)) AS latencies
        FROM transactions
        GROUP BY workflow
    ),
    workflows AS (
        SELECT workflow FROM objectives
        UNION DISTINCT
        SELECT workflow FROM stats
    )
SELECT
    w.workflow AS workflow,
    o.criticality AS criticality,
    o.sync_mode AS sync_mode,
    {window_start:DateTime64(3)} AS window_start,
    {window_end:DateTime64(3)} AS window_end,
    s.completed AS transactions,
    s.completed_with_errors AS transactions_with_errors,
    s.in_flight_count AS in_flight,
    s.overdue_count AS in_flight_over_objective,
    if(empty(s.latencies), NULL, round(s.latencies[toUInt64(ceil(length(s.latencies) * 50 / 100))], 3)) AS p50_ms,
    if(empty(s.latencies), NULL, round(s.latencies[toUInt64(ceil(length(s.latencies) * 95 / 100))], 3)) AS p95_ms,
    if(empty(s.latencies), NULL, round(s.latencies[toUInt64(ceil(length(s.latencies) * 99 / 100))], 3)) AS p99_ms,
    o.percentile AS percentile,
    o.objective_ms AS objective_ms,
    if(
        o.objective_ms IS NULL OR s.completed + s.overdue_count = 0,
        NULL,
        round(s.within_count / (s.completed + s.overdue_count), 4)
    ) AS share_within_objective,
    multiIf(
        o.objective_ms IS NULL, 'no_objective',
        s.completed + s.overdue_count = 0, 'no_data',
        s.within_count * 100 >= o.percentile * (s.completed + s.overdue_count), 'ok',
        'breaching'
    ) AS status
FROM workflows AS w
LEFT JOIN objectives AS o ON o.workflow = w.workflow
LEFT JOIN stats AS s ON s.workflow = w.workflow
ORDER BY w.workflow`;

/** `workflow_slo_status_between` over the last hour, for `syncwatch sql` and dashboards. */
const WORKFLOW_SLO_STATUS = `
CREATE VIEW IF NOT EXISTS workflow_slo_status AS
SELECT *
FROM workflow_slo_status_between(window_start = now64(3) - INTERVAL 1 HOUR, window_end = now64(3))`;

/**
 * Monitoring pitfalls found on a lag sample, such as `no_consumers` or
 * `clock_skew`; `LagCondition` in collector/sources/types.ts lists them all.
 * Rows written before this column existed read as an empty array.
 */
const INTEGRATION_LAG_CONDITIONS = `
ALTER TABLE integration_lag
    ADD COLUMN IF NOT EXISTS conditions Array(LowCardinality(String)) CODEC(ZSTD(1))`;

/**
 * One row per poll of a pull source: when it started, how long it took and
 * how it ended (`ok`, `down`, `error` or `timeout`), with the number of
 * samples and failures it wrote and the error text when it failed.
 */
const SOURCE_POLLS = `
CREATE TABLE IF NOT EXISTS source_polls (
    started_at DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    source LowCardinality(String) CODEC(ZSTD(1)),
    source_kind LowCardinality(String) CODEC(ZSTD(1)),
    integration LowCardinality(String) CODEC(ZSTD(1)),
    duration_ms UInt32 CODEC(T64, ZSTD(1)),
    outcome LowCardinality(String) CODEC(ZSTD(1)),
    samples UInt32 CODEC(T64, ZSTD(1)),
    down_samples UInt32 CODEC(T64, ZSTD(1)),
    failures UInt32 CODEC(T64, ZSTD(1)),
    consecutive_failures UInt32 CODEC(T64, ZSTD(1)),
    error String CODEC(ZSTD(1))
) ENGINE = MergeTree
PARTITION BY toDate(started_at)
ORDER BY (source, started_at)
SETTINGS index_granularity = 8192`;

/**
 * One row per exception fingerprint and integration after merges: the
 * template, occurrence count, first and last time seen, up to a few redacted
 * samples and the latest label. The analyzer appends one increment per cycle,
 * and AggregatingMergeTree sums, takes minimum and maximum and unites the
 * increments of a key, so repeated upserts stay exact. `label` is a tuple led
 * by its time, so `max` keeps the latest label; increments without a label
 * carry the epoch and never win. Read through `exception_fingerprint_summary`
 * or group by (integration, fingerprint).
 */
const EXCEPTION_FINGERPRINTS = `
CREATE TABLE IF NOT EXISTS exception_fingerprints (
    integration LowCardinality(String) CODEC(ZSTD(1)),
    fingerprint String CODEC(ZSTD(1)),
    template SimpleAggregateFunction(any, String) CODEC(ZSTD(1)),
    exception_type SimpleAggregateFunction(any, String) CODEC(ZSTD(1)),
    system SimpleAggregateFunction(any, String) CODEC(ZSTD(1)),
    occurrences SimpleAggregateFunction(sum, UInt64) CODEC(ZSTD(1)),
    first_seen SimpleAggregateFunction(min, DateTime64(3)) CODEC(ZSTD(1)),
    last_seen SimpleAggregateFunction(max, DateTime64(3)) CODEC(ZSTD(1)),
    samples SimpleAggregateFunction(groupUniqArrayArray, Array(String)) CODEC(ZSTD(1)),
    label SimpleAggregateFunction(max, Tuple(
        classified_at DateTime64(3),
        category String,
        retryable Bool,
        confidence Float64,
        classified_by String,
        rule String,
        rationale String
    )) CODEC(ZSTD(1))
) ENGINE = AggregatingMergeTree
ORDER BY (integration, fingerprint)
SETTINGS index_granularity = 8192`;

/**
 * Each fingerprint with its merged counts and its latest label as columns.
 * `category` is empty and `classified_by` too while a fingerprint has no label.
 */
const EXCEPTION_FINGERPRINT_SUMMARY = `
CREATE VIEW IF NOT EXISTS exception_fingerprint_summary AS
SELECT
    integration,
    fingerprint,
    any(template) AS template,
    any(exception_type) AS exception_type,
    any(system) AS system,
    sum(occurrences) AS occurrences,
    min(first_seen) AS first_seen,
    max(last_seen) AS last_seen,
    arraySort(groupUniqArrayArray(samples)) AS samples,
    max(label) AS latest_label,
    tupleElement(latest_label, 'category') AS category,
    tupleElement(latest_label, 'retryable') AS retryable,
    tupleElement(latest_label, 'confidence') AS confidence,
    tupleElement(latest_label, 'classified_by') AS classified_by,
    tupleElement(latest_label, 'rule') AS rule,
    tupleElement(latest_label, 'rationale') AS rationale,
    tupleElement(latest_label, 'classified_at') AS classified_at
FROM exception_fingerprints
GROUP BY integration, fingerprint`;

/** Blocks per table whose insert deduplication tokens ClickHouse remembers. */
export const DEDUPLICATION_WINDOW_BLOCKS = 1000;

/**
 * Tables the collector's batched ingest writes, and the targets of the
 * materialized views on them. Each batch is inserted with its id as
 * `insert_deduplication_token`, so a batch replayed from the disk spool after
 * a failed or interrupted insert is stored once. Plain MergeTree tables keep
 * tokens only with `non_replicated_deduplication_window` set. A view's target
 * needs the window too: ClickHouse 26.7 (the engine of chDB 3.4) still passes
 * a deduplicated block to the views, and their targets drop it by a token
 * derived from the batch's. With the window set, an insert without a token is
 * deduplicated by a hash of its rows instead, so inserting the very same rows
 * twice stores them once.
 */
const DEDUPLICATED_TABLES = [
  'otel_traces',
  'otel_traces_trace_id_ts',
  'workflow_transactions',
  'integration_lag',
  'integration_failures',
  'source_polls',
];

/**
 * Copy of the control plane's append-only audit log, for analysts. The
 * remediation audit mirror copies rows in sequence order; ReplacingMergeTree
 * keyed by `seq` drops a row copied twice when parts merge.
 */
const REMEDIATION_AUDIT = `
CREATE TABLE IF NOT EXISTS remediation_audit (
    seq UInt64,
    at DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    actor LowCardinality(String) CODEC(ZSTD(1)),
    channel LowCardinality(String) CODEC(ZSTD(1)),
    event LowCardinality(String) CODEC(ZSTD(1)),
    proposal_id String CODEC(ZSTD(1)),
    code LowCardinality(String) CODEC(ZSTD(1)),
    detail String CODEC(ZSTD(1))
) ENGINE = ReplacingMergeTree
ORDER BY seq
SETTINGS index_granularity = 8192`;

/**
 * One row per prediction of the analyzer's prediction stage: the probability
 * that a workflow's lag on one integration and plant reaches its objective
 * within `horizon_seconds` after `ts`, the extrapolated breach time, and the
 * indicators that drove it in words and values. `threshold` and `alerted`
 * record whether it raised an alert, and `model_version` which model made it.
 */
const PREDICTIONS = `
CREATE TABLE IF NOT EXISTS predictions (
    ts DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    workflow LowCardinality(String) CODEC(ZSTD(1)),
    integration LowCardinality(String) CODEC(ZSTD(1)),
    plant LowCardinality(String) CODEC(ZSTD(1)),
    horizon_seconds UInt32 CODEC(ZSTD(1)),
    probability Float64 CODEC(ZSTD(1)),
    threshold Float64 CODEC(ZSTD(1)),
    alerted Bool CODEC(ZSTD(1)),
    predicted_breach_at Nullable(DateTime64(3)) CODEC(ZSTD(1)),
    objective_seconds Float64 CODEC(ZSTD(1)),
    lag_seconds Nullable(Float64) CODEC(ZSTD(1)),
    indicators Nested (
        name LowCardinality(String),
        value Float64,
        description String
    ) CODEC(ZSTD(1)),
    model_version LowCardinality(String) CODEC(ZSTD(1))
) ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (workflow, integration, plant, ts)
SETTINGS index_granularity = 8192`;

/**
 * Each prediction beside its outcome: the first queue sample after `ts`
 * whose lag reached the workflow's active objective, and whether that came
 * within the horizon. `first_breach_at` is NULL when no such sample exists
 * yet, so a recent prediction reads as not breached until its horizon has
 * passed.
 */
const PREDICTION_OUTCOMES = `
CREATE VIEW IF NOT EXISTS prediction_outcomes AS
SELECT
    p.*,
    if(b.observed_at > p.ts, b.observed_at, NULL) AS first_breach_at,
    toBool(b.observed_at > p.ts AND b.observed_at <= p.ts + toIntervalSecond(p.horizon_seconds)) AS breached_within_horizon
FROM predictions AS p
ASOF LEFT JOIN (
    SELECT l.integration AS integration, l.workflow AS workflow, l.attributes['plant'] AS plant, l.observed_at AS observed_at
    FROM integration_lag AS l
    INNER JOIN (
        SELECT workflow, objective_ms FROM workflow_objectives FINAL WHERE active AND objective_ms IS NOT NULL
    ) AS o ON o.workflow = l.workflow
    WHERE l.status = 'ok' AND l.lag_seconds * 1000 >= o.objective_ms
) AS b
ON p.integration = b.integration AND p.workflow = b.workflow AND p.plant = b.plant AND p.ts < b.observed_at`;

/**
 * One row per anomalous point the analyzer's anomaly stage scored: the
 * series (`series_key` is `metric|integration|workflow|plant`), its value
 * beside the expected value and the normal band, the score (0.5 and above
 * raised an alarm) and a one-line explanation. ReplacingMergeTree keyed by
 * series and minute keeps one row when a restarted cycle scores a minute again.
 */
const ANOMALIES = `
CREATE TABLE IF NOT EXISTS anomalies (
    ts DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    detected_at DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)),
    series_key String CODEC(ZSTD(1)),
    integration LowCardinality(String) CODEC(ZSTD(1)),
    workflow LowCardinality(String) CODEC(ZSTD(1)),
    plant LowCardinality(String) CODEC(ZSTD(1)),
    metric LowCardinality(String) CODEC(ZSTD(1)),
    kind LowCardinality(String) CODEC(ZSTD(1)),
    value Float64 CODEC(ZSTD(1)),
    expected Float64 CODEC(ZSTD(1)),
    lower Float64 CODEC(ZSTD(1)),
    upper Float64 CODEC(ZSTD(1)),
    score Float64 CODEC(ZSTD(1)),
    explanation String CODEC(ZSTD(1)),
    incident_id String CODEC(ZSTD(1))
) ENGINE = ReplacingMergeTree(detected_at)
PARTITION BY toDate(ts)
ORDER BY (integration, metric, series_key, ts)
SETTINGS index_granularity = 8192`;

/**
 * Incidents the anomaly stage opened: one per cause (`cause_key`), with one
 * row per change. ReplacingMergeTree keyed by `incident_id` keeps the latest
 * `version` once parts merge; query with FINAL for the current state.
 */
const INCIDENTS = `
CREATE TABLE IF NOT EXISTS incidents (
    incident_id String CODEC(ZSTD(1)),
    cause_key String CODEC(ZSTD(1)),
    state LowCardinality(String) CODEC(ZSTD(1)),
    kind LowCardinality(String) CODEC(ZSTD(1)),
    severity LowCardinality(String) CODEC(ZSTD(1)),
    integration LowCardinality(String) CODEC(ZSTD(1)),
    workflow LowCardinality(String) CODEC(ZSTD(1)),
    plant LowCardinality(String) CODEC(ZSTD(1)),
    metric LowCardinality(String) CODEC(ZSTD(1)),
    title String CODEC(ZSTD(1)),
    explanation String CODEC(ZSTD(1)),
    opened_at DateTime64(3, 'UTC') CODEC(ZSTD(1)),
    updated_at DateTime64(3, 'UTC') CODEC(ZSTD(1)),
    resolved_at Nullable(DateTime64(3, 'UTC')) CODEC(ZSTD(1)),
    anomaly_count UInt32 CODEC(ZSTD(1)),
    series_count UInt32 CODEC(ZSTD(1)),
    peak_score Float64 CODEC(ZSTD(1)),
    version UInt64 CODEC(ZSTD(1))
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(opened_at)
ORDER BY incident_id
SETTINGS index_granularity = 8192`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'otel trace tables',
    statements: [OTEL_TRACES, OTEL_TRACES_TRACE_ID_TS, OTEL_TRACES_TRACE_ID_TS_MV],
  },
  {
    version: 2,
    name: 'integration lag and failures',
    statements: [INTEGRATION_LAG, INTEGRATION_FAILURES],
  },
  {
    version: 3,
    name: 'workflow transactions and objectives',
    statements: [
      WORKFLOW_TRANSACTIONS,
      WORKFLOW_TRANSACTIONS_MV,
      WORKFLOW_TRANSACTION_LATENCY,
      WORKFLOW_OBJECTIVES,
      WORKFLOW_SLO_STATUS_BETWEEN,
      WORKFLOW_SLO_STATUS,
    ],
  },
  {
    version: 4,
    name: 'source polls and lag conditions',
    statements: [INTEGRATION_LAG_CONDITIONS, SOURCE_POLLS],
  },
  {
    version: 5,
    name: 'insert deduplication windows',
    statements: DEDUPLICATED_TABLES.map(
      (table) => `ALTER TABLE ${table} MODIFY SETTING non_replicated_deduplication_window = ${DEDUPLICATION_WINDOW_BLOCKS}`,
    ),
  },
  {
    version: 6,
    name: 'anomalies and incidents',
    statements: [ANOMALIES, INCIDENTS],
  },
  {
    version: 7,
    name: 'exception fingerprints',
    statements: [EXCEPTION_FINGERPRINTS, EXCEPTION_FINGERPRINT_SUMMARY],
  },
  {
    version: 8,
    name: 'failure predictions',
    statements: [PREDICTIONS, PREDICTION_OUTCOMES],
  },
  {
    version: 9,
    name: 'remediation audit mirror',
    statements: [REMEDIATION_AUDIT],
  },
];
