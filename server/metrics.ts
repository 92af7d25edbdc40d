import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Self-metrics of syncwatch, exposed at `GET /metrics` in the Prometheus text
 * format through prom-client. Components record through the
 * `SyncwatchMetrics` interface, so they depend on no metrics library and can
 * run with `NOOP_METRICS` in tests.
 *
 * Every label value becomes its own time series, so `table`, `reason` and
 * `source` must come from a small fixed set: a table name, an error code such
 * as `COLLECTOR_ERR_INVALID_SPAN`, a configured source name. Never pass an
 * error message or an id.
 */

/** Outcome of one insert, for the insert duration histogram. */
export type InsertOutcome = 'ok' | 'error';

/**
 * Outcome of one source poll, the same values as the scheduler's poll
 * outcome: `ok` when no sample is `source_down`, `down` when one is, `error`
 * when the poll rejected, `timeout` when it passed its time limit.
 */
export type SourcePollOutcome = 'ok' | 'down' | 'error' | 'timeout';

/** Recording side of the self-metrics. Methods are cheap and clamp a negative or non-finite number to 0. */
export interface SyncwatchMetrics {
  /** Sets the rows waiting in memory for the next insert into `table`. */
  setQueueDepth(table: string, rows: number): void;
  /** Records the row count of one insert batch into `table`. */
  observeBatchSize(table: string, rows: number): void;
  /** Records how long one insert into `table` took, in seconds. */
  observeInsertDuration(table: string, seconds: number, outcome: InsertOutcome): void;
  /** Sets the bytes the disk spool occupies. */
  setSpoolBytes(bytes: number): void;
  /** Adds rows acknowledged to a client or a poll, bound for `table`. */
  countRowsAccepted(table: string, rows: number): void;
  /** Adds rows refused as invalid before they were acknowledged. */
  countRowsRejected(table: string, reason: string, rows: number): void;
  /** Adds rows lost after they were acknowledged, such as a corrupt spool record. */
  countRowsDropped(table: string, reason: string, rows: number): void;
  /** Counts one OTLP/HTTP request by response status and error code ('' on success). */
  countOtlpRequest(statusCode: number, errorCode: string): void;
  /** Counts one poll of a configured source. */
  countSourcePoll(source: string, outcome: SourcePollOutcome): void;
}

/** Self-metrics with the registry that `GET /metrics` serializes. */
export interface MetricsRegistry extends SyncwatchMetrics {
  /** `Content-Type` of `serialize`'s output. */
  readonly contentType: string;
  /** Returns every metric in the Prometheus text exposition format 0.0.4. */
  serialize(): Promise<string>;
}

export interface MetricsOptions {
  /** Also export prom-client's process metrics (CPU, RSS, event loop lag, GC). Default true. */
  includeProcessMetrics?: boolean;
}

/** Prefix of every metric name. */
export const METRIC_PREFIX = 'syncwatch_';

/** Upper bounds of the batch size histogram, in rows. */
export const BATCH_SIZE_BUCKETS_ROWS = [1, 10, 100, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000];

/** Upper bounds of the insert duration histogram, in seconds. */
export const INSERT_DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Metrics that record nothing, for components started without a registry. */
export const NOOP_METRICS: SyncwatchMetrics = {
  setQueueDepth() {},
  observeBatchSize() {},
  observeInsertDuration() {},
  setSpoolBytes() {},
  countRowsAccepted() {},
  countRowsRejected() {},
  countRowsDropped() {},
  countOtlpRequest() {},
  countSourcePoll() {},
};

/**
 * Creates a registry of its own with every syncwatch metric, so two services
 * in one process (as in tests) do not share counters.
 */
export function createMetricsRegistry(options: MetricsOptions = {}): MetricsRegistry {
  const registry = new Registry();
  const registers = [registry];
  if (options.includeProcessMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  }

  const queueDepth = new Gauge({
    name: `${METRIC_PREFIX}ingest_queue_rows`,
    help: 'Rows waiting in memory for the next insert, by table.',
    labelNames: ['table'] as const,
    registers,
  });
  const batchSize = new Histogram({
    name: `${METRIC_PREFIX}ingest_batch_rows`,
    help: 'Rows per insert batch, by table.',
    labelNames: ['table'] as const,
    buckets: BATCH_SIZE_BUCKETS_ROWS,
    registers,
  });
  const insertDuration = new Histogram({
    name: `${METRIC_PREFIX}insert_duration_seconds`,
    help: 'Duration of one insert into ClickHouse, by table and outcome (ok or error).',
    labelNames: ['table', 'outcome'] as const,
    buckets: INSERT_DURATION_BUCKETS_SECONDS,
    registers,
  });
  const spoolBytes = new Gauge({
    name: `${METRIC_PREFIX}spool_bytes`,
    help: 'Bytes in the local disk spool waiting to be replayed into ClickHouse.',
    registers,
  });
  const rowsAccepted = new Counter({
    name: `${METRIC_PREFIX}rows_accepted_total`,
    help: 'Rows acknowledged to a client or a poll, by destination table.',
    labelNames: ['table'] as const,
    registers,
  });
  const rowsRejected = new Counter({
    name: `${METRIC_PREFIX}rows_rejected_total`,
    help: 'Rows rejected as invalid before acknowledgement, by table and reason code.',
    labelNames: ['table', 'reason'] as const,
    registers,
  });
  const rowsDropped = new Counter({
    name: `${METRIC_PREFIX}rows_dropped_total`,
    help: 'Rows lost after acknowledgement, by table and reason code.',
    labelNames: ['table', 'reason'] as const,
    registers,
  });
  const otlpRequests = new Counter({
    name: `${METRIC_PREFIX}otlp_requests_total`,
    help: 'OTLP/HTTP export requests, by response status and error code (empty on success).',
    labelNames: ['status_code', 'error_code'] as const,
    registers,
  });
  const sourcePolls = new Counter({
    name: `${METRIC_PREFIX}source_polls_total`,
    help: 'Polls of configured sources, by source and outcome (ok, down, error, timeout).',
    labelNames: ['source', 'outcome'] as const,
    registers,
  });

  return {
    contentType: registry.contentType,
    serialize: () => registry.metrics(),
    setQueueDepth: (table, rows) => queueDepth.set({ table }, toCount(rows)),
    observeBatchSize: (table, rows) => batchSize.observe({ table }, toCount(rows)),
    observeInsertDuration: (table, seconds, outcome) =>
      insertDuration.observe({ table, outcome }, Math.max(0, seconds)),
    setSpoolBytes: (bytes) => spoolBytes.set(toCount(bytes)),
    countRowsAccepted: (table, rows) => rowsAccepted.inc({ table }, toCount(rows)),
    countRowsRejected: (table, reason, rows) => rowsRejected.inc({ table, reason }, toCount(rows)),
    countRowsDropped: (table, reason, rows) => rowsDropped.inc({ table, reason }, toCount(rows)),
    countOtlpRequest: (statusCode, errorCode) =>
      otlpRequests.inc({ status_code: String(statusCode), error_code: errorCode }),
    countSourcePoll: (source, outcome) => sourcePolls.inc({ source, outcome }),
  };
}

/**
 * Clamps a count to a finite, non-negative number, because prom-client
 * throws on a negative counter increment and a metric must never fail the
 * caller's work.
 */
function toCount(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}
