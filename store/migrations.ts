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
];
