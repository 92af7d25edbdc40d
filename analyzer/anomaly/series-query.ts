import type { ClickHouseClient } from '@clickhouse/client';

/** One per-minute value of one series, as the store aggregates it. */
export interface SeriesPoint {
  metric: string;
  integration: string;
  workflow: string;
  plant: string;
  /** Start of the minute, milliseconds since the epoch. */
  ts: number;
  value: number;
}

/** Series the anomaly stage scores, with the unit of each. */
export const SERIES_METRICS = {
  lag_seconds: 's',
  probe_latency_ms: 'ms',
  failures_per_minute: 'failures',
  retries_per_minute: 'retries',
  spans_per_minute: 'spans',
  error_rate: '%',
  latency_p50_seconds: 's',
  latency_p95_seconds: 's',
} as const;
export type SeriesMetric = keyof typeof SERIES_METRICS;

/** Transactions older than this before the window are not read for latency. */
const TRANSACTION_LOOKBACK_SECONDS = 3600;

/**
 * One statement that aggregates every series per minute in [start, end).
 * Queue lag and partner probe response time (largest observation of the
 * minute), failures, retries, spans and the share of error spans are per
 * integration, workflow and plant. End-to-end latency percentiles are per
 * workflow and plant, by the minute a transaction ended. Lag and probe response time come from one
 * scan of `integration_lag`. Each branch reads only the day partitions
 * of the window.
 */
export const SERIES_QUERY = `
SELECT metric, integration, workflow, plant, toUnixTimestamp(minute) AS t, value FROM (
    SELECT arrayJoin(['lag_seconds', 'probe_latency_ms']) AS metric, integration, workflow, plant, minute,
        if(metric = 'lag_seconds', lag, probe) AS value
    FROM (
        SELECT integration, workflow, attributes['plant'] AS plant, toStartOfMinute(observed_at) AS minute,
            maxIf(lag_seconds, status = 'ok' AND lag_seconds IS NOT NULL) AS lag,
            maxIf(toFloat64OrNull(attributes['latency_ms']), source_kind = 'http_probe' AND attributes['latency_ms'] != '') AS probe
        FROM integration_lag
        WHERE observed_at >= {start:DateTime64(3)} AND observed_at < {end:DateTime64(3)}
        GROUP BY integration, workflow, plant, minute
    )
    WHERE value IS NOT NULL
    UNION ALL
    SELECT 'failures_per_minute', integration, workflow, attributes['plant'],
        toStartOfMinute(failed_at) AS minute, toFloat64(uniqExact(failure_id))
    FROM integration_failures
    WHERE failed_at >= {start:DateTime64(3)} AND failed_at < {end:DateTime64(3)}
    GROUP BY integration, workflow, attributes['plant'], minute
    UNION ALL
    SELECT 'retries_per_minute', integration, workflow, attributes['plant'],
        toStartOfMinute(failed_at) AS minute, toFloat64(sum(retry_count))
    FROM (
        SELECT integration, workflow, attributes, failed_at, failure_id, max(retry_count) AS retry_count
        FROM integration_failures
        WHERE failed_at >= {start:DateTime64(3)} AND failed_at < {end:DateTime64(3)}
        GROUP BY integration, workflow, attributes, failed_at, failure_id
    )
    GROUP BY integration, workflow, attributes['plant'], minute
    UNION ALL
    SELECT arrayJoin(['spans_per_minute', 'error_rate']) AS m, integration, workflow, plant, minute,
        if(m = 'spans_per_minute', toFloat64(spans), 100 * errors / spans)
    FROM (
        SELECT SpanAttributes['syncwatch.integration'] AS integration, SpanAttributes['syncwatch.workflow'] AS workflow,
            if(SpanAttributes['syncwatch.plant'] != '', SpanAttributes['syncwatch.plant'], ResourceAttributes['syncwatch.plant']) AS plant,
            toStartOfMinute(Timestamp) AS minute, count() AS spans, countIf(StatusCode = 'Error') AS errors
        FROM otel_traces
        WHERE Timestamp >= {start:DateTime64(3)} AND Timestamp < {end:DateTime64(3)}
            AND SpanAttributes['syncwatch.integration'] != ''
        GROUP BY integration, workflow, plant, minute
    )
    UNION ALL
    SELECT arrayJoin(['latency_p50_seconds', 'latency_p95_seconds']) AS m, '', workflow, plant, minute,
        if(m = 'latency_p50_seconds', q[1], q[2]) / 1000
    FROM (
        SELECT workflow, plant, toStartOfMinute(ended_at) AS minute, quantiles(0.5, 0.95)(latency_ms) AS q
        FROM (
            SELECT correlation_id, max(workflow) AS workflow, max(plant) AS plant,
                min(first_span_start) AS started_at, max(last_span_end) AS ended_at,
                (toUnixTimestamp64Nano(ended_at) - toUnixTimestamp64Nano(started_at)) / 1000000 AS latency_ms,
                sum(producer_span_count) AS producers, sum(consumer_span_count) AS consumers
            FROM workflow_transactions
            WHERE first_span_start >= {start:DateTime64(3)} - toIntervalSecond(${TRANSACTION_LOOKBACK_SECONDS})
            GROUP BY correlation_id
            HAVING ended_at >= {start:DateTime64(3)} AND ended_at < {end:DateTime64(3)} AND producers <= consumers
        )
        WHERE workflow != ''
        GROUP BY workflow, plant, minute
    )
)
ORDER BY metric, integration, workflow, plant, t`;

/** Undoes TabSeparated escaping of backslashes, tabs and newlines in a name. */
function unescapeTsv(text: string): string {
  if (!text.includes('\\')) return text;
  const escapes: Record<string, string> = { t: '\t', n: '\n', '0': '\0' };
  return text.replace(/\\(.)/g, (_, c: string) => escapes[c] ?? c);
}

function toClickHouseTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/**
 * Streams every series' per-minute values in [startMs, endMs) to `onPoint`,
 * ordered by series and minute, without holding the result in memory.
 * Returns the number of points.
 */
export async function streamSeries(
  client: ClickHouseClient,
  startMs: number,
  endMs: number,
  onPoint: (point: SeriesPoint) => void,
): Promise<number> {
  // TabSeparated rows parse faster than JSON rows. ClickHouse escapes tabs, newlines and backslashes in names.
  const result = await client.query({
    query: SERIES_QUERY,
    query_params: { start: toClickHouseTime(startMs), end: toClickHouseTime(endMs) },
    format: 'TabSeparated',
  });
  let count = 0;
  for await (const rows of result.stream()) {
    for (const row of rows) {
      const [metric, integration, workflow, plant, t, value] = row.text.split('\t') as [string, string, string, string, string, string];
      const v = Number(value);
      if (value === '\\N' || !Number.isFinite(v)) continue;
      onPoint({ metric, integration: unescapeTsv(integration), workflow: unescapeTsv(workflow), plant: unescapeTsv(plant), ts: Number(t) * 1000, value: v });
      count++;
    }
  }
  return count;
}

/** Reads every series' per-minute values in [startMs, endMs), ordered by series and minute. */
export async function querySeries(client: ClickHouseClient, startMs: number, endMs: number): Promise<SeriesPoint[]> {
  const points: SeriesPoint[] = [];
  await streamSeries(client, startMs, endMs, (point) => points.push(point));
  return points;
}
