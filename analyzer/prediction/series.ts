import type { ClickHouseClient } from '@clickhouse/client';

/**
 * One minute of one integration, workflow and plant, aggregated in SQL from
 * `integration_lag` and `integration_failures`. Values a source did not
 * report are null, never zero.
 */
export interface MinutePoint {
  /** Start of the minute, epoch milliseconds. */
  minuteMs: number;
  /** Max lag of the queue samples, in seconds. */
  lagSeconds: number | null;
  /** Sum over entities of the mean depth in the minute. */
  depth: number | null;
  /** Sum over entities of the mean consumers attached in the minute. */
  consumers: number | null;
  inflowPerSecond: number | null;
  outflowPerSecond: number | null;
  stuck: number | null;
  /** Dead-lettered or failed items the sources count, summed over entities. */
  failed: number | null;
  /** Distinct failures that happened in the minute. */
  failures: number;
  /** Sum of the retry counts of those failures. */
  retries: number;
  /** Mean response time of the partner probes, in milliseconds. */
  partnerLatencyMs: number | null;
  /** Minimum days left on a probed credential or certificate. */
  credentialDaysLeft: number | null;
  /** Share of samples whose source could not be read. */
  sourceDownShare: number;
}

/** An integration, workflow and plant whose predictions are kept apart. */
export interface SeriesKey {
  integration: string;
  workflow: string;
  plant: string;
}

export interface KeyedSeries extends SeriesKey {
  /** Ordered by `minuteMs`, with gaps where nothing was stored. */
  points: MinutePoint[];
}

interface LagMinuteRow {
  integration: string;
  workflow: string;
  plant: string;
  minute_ms: number | string;
  lag_seconds: number | null;
  depth: number | null;
  consumers: number | null;
  inflow: number | null;
  outflow: number | null;
  stuck: number | null;
  failed: number | null;
  latency_ms: number | null;
  credential_days_left: number | null;
  down_share: number;
}

interface FailureMinuteRow {
  integration: string;
  workflow: string;
  plant: string;
  minute_ms: number | string;
  failures: number | string;
  retries: number | string;
}

/**
 * Per-entity aggregates first, so an entity polled every 5 s weighs the same
 * as one polled every minute, then per integration, workflow, plant and
 * minute. The plant comes from the samples' `plant` attribute, empty when
 * the source does not set one.
 */
const LAG_MINUTES_QUERY = `
SELECT
    integration,
    workflow,
    plant,
    toUnixTimestamp64Milli(toDateTime64(minute, 3)) AS minute_ms,
    max(entity_lag) AS lag_seconds,
    sumOrNull(entity_depth) AS depth,
    sumOrNull(entity_consumers) AS consumers,
    sumOrNull(entity_inflow) AS inflow,
    sumOrNull(entity_outflow) AS outflow,
    sumOrNull(entity_stuck) AS stuck,
    sumOrNull(entity_failed) AS failed,
    avgOrNull(entity_latency) AS latency_ms,
    minOrNull(entity_credential_days) AS credential_days_left,
    sum(entity_down) / sum(entity_samples) AS down_share
FROM (
    SELECT
        integration,
        workflow,
        attributes['plant'] AS plant,
        entity,
        toStartOfMinute(observed_at) AS minute,
        maxIf(lag_seconds, status = 'ok') AS entity_lag,
        avgIf(depth, status = 'ok') AS entity_depth,
        avgIf(consumers, status = 'ok') AS entity_consumers,
        avgIf(inflow_per_second, status = 'ok') AS entity_inflow,
        avgIf(outflow_per_second, status = 'ok') AS entity_outflow,
        maxIf(stuck, status = 'ok') AS entity_stuck,
        maxIf(failed, status = 'ok') AS entity_failed,
        avg(toFloat64OrNull(attributes['latency_ms'])) AS entity_latency,
        min(toFloat64OrNull(attributes['tls_days_left'])) AS entity_credential_days,
        countIf(status = 'source_down') AS entity_down,
        count() AS entity_samples
    FROM integration_lag
    WHERE observed_at >= fromUnixTimestamp64Milli({fromMs:Int64})
        AND observed_at < fromUnixTimestamp64Milli({toMs:Int64})
        AND workflow != ''
    GROUP BY integration, workflow, plant, entity, minute
)
GROUP BY integration, workflow, plant, minute
ORDER BY integration, workflow, plant, minute`;

const FAILURE_MINUTES_QUERY = `
SELECT
    integration,
    workflow,
    attributes['plant'] AS plant,
    toUnixTimestamp64Milli(toDateTime64(toStartOfMinute(failed_at), 3)) AS minute_ms,
    uniqExact(failure_id) AS failures,
    sum(retry_count) AS retries
FROM (
    SELECT integration, workflow, attributes, failed_at, failure_id, max(retry_count) AS retry_count
    FROM integration_failures
    WHERE failed_at >= fromUnixTimestamp64Milli({fromMs:Int64})
        AND failed_at < fromUnixTimestamp64Milli({toMs:Int64})
        AND workflow != ''
    GROUP BY integration, workflow, attributes, failed_at, failure_id
)
GROUP BY integration, workflow, plant, minute_ms`;

/**
 * Reads the per-minute indicator series of every integration, workflow and
 * plant with samples in `[from, to)`. The prediction stage reads its recent
 * window this way, and training and evaluation read whole histories with the
 * same query, so the model reads exactly the data the service reads.
 */
export async function readMinuteSeries(client: ClickHouseClient, from: Date, to: Date): Promise<KeyedSeries[]> {
  const query_params = { fromMs: from.getTime(), toMs: to.getTime() };
  const lagResult = await client.query({ query: LAG_MINUTES_QUERY, query_params, format: 'JSONEachRow' });
  const lagRows = await lagResult.json<LagMinuteRow>();
  const failureResult = await client.query({ query: FAILURE_MINUTES_QUERY, query_params, format: 'JSONEachRow' });
  const failureRows = await failureResult.json<FailureMinuteRow>();

  const failuresByMinute = new Map<string, FailureMinuteRow>();
  for (const row of failureRows) failuresByMinute.set(`${keyOf(row)}\u0000${Number(row.minute_ms)}`, row);

  const series = new Map<string, KeyedSeries>();
  for (const row of lagRows) {
    const key = keyOf(row);
    let entry = series.get(key);
    if (!entry) {
      entry = { integration: row.integration, workflow: row.workflow, plant: row.plant, points: [] };
      series.set(key, entry);
    }
    const minuteMs = Number(row.minute_ms);
    const failures = failuresByMinute.get(`${key}\u0000${minuteMs}`);
    entry.points.push({
      minuteMs,
      lagSeconds: toNumberOrNull(row.lag_seconds),
      depth: toNumberOrNull(row.depth),
      consumers: toNumberOrNull(row.consumers),
      inflowPerSecond: toNumberOrNull(row.inflow),
      outflowPerSecond: toNumberOrNull(row.outflow),
      stuck: toNumberOrNull(row.stuck),
      failed: toNumberOrNull(row.failed),
      failures: Number(failures?.failures ?? 0),
      retries: Number(failures?.retries ?? 0),
      partnerLatencyMs: toNumberOrNull(row.latency_ms),
      credentialDaysLeft: toNumberOrNull(row.credential_days_left),
      sourceDownShare: Number(row.down_share),
    });
  }
  return [...series.values()];
}

/**
 * Reads the objective of every active workflow, in seconds. Only the lag
 * objective matters here: the workflow breaks it when its queues' oldest
 * message is older than the objective.
 */
export async function readObjectiveSeconds(client: ClickHouseClient): Promise<Map<string, number>> {
  const result = await client.query({
    query: `SELECT workflow, objective_ms FROM workflow_objectives FINAL WHERE active AND objective_ms IS NOT NULL`,
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ workflow: string; objective_ms: number | string }>();
  return new Map(rows.map((row) => [row.workflow, Number(row.objective_ms) / 1000]));
}

export function keyOf(key: SeriesKey): string {
  return `${key.integration}\u0000${key.workflow}\u0000${key.plant}`;
}

function toNumberOrNull(value: number | string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
}
