import type { ClickHouseClient } from '@clickhouse/client';
import type { TableRowWriter } from './ingest/ingest.js';
import type { LagBatch, LagSink, PollRecord } from './sources/scheduler.js';
import type { FailureRecord, LagSample } from './sources/types.js';

export const LAG_TABLE = 'integration_lag';
export const FAILURES_TABLE = 'integration_failures';
export const SOURCE_POLLS_TABLE = 'source_polls';

/**
 * Time a written batch waits for more batches before the rows are inserted, in
 * milliseconds. Each insert has a fixed cost. On embedded chDB, inserting 100
 * samples and 5 poll records a second took about 2.7% of a core above idle
 * when flushed every 2 s, and about 0.4% when flushed every 5 s. Each figure
 * is one 20 s measurement on a shared 2-core machine.
 */
export const LAG_FLUSH_INTERVAL_MS = 5_000;

/** Buffered rows, over all three tables, at which the writer inserts without waiting for the flush interval. */
export const MAX_LAG_BATCH_ROWS = 10_000;

/** Buffered rows at which `write` rejects new batches until a flush makes room. */
export const MAX_PENDING_LAG_ROWS = 200_000;

/** Stable codes of the errors the lag writer raises. */
export const LAG_WRITER_ERROR_CODES = {
  bufferFull: 'COLLECTOR_ERR_LAG_BUFFER_FULL',
  insertFailed: 'COLLECTOR_ERR_LAG_INSERT_FAILED',
} as const;

export type LagWriterErrorCode = (typeof LAG_WRITER_ERROR_CODES)[keyof typeof LAG_WRITER_ERROR_CODES];

/** An error raised by the lag writer, with a stable code. */
export class LagWriterError extends Error {
  readonly code: LagWriterErrorCode;

  constructor(code: LagWriterErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(`${code}: ${message}`, { cause: options.cause });
    this.name = 'LagWriterError';
    this.code = code;
  }
}

/** Row of `integration_lag`; optional numbers are NULL, not zero, when a source cannot report them. */
export interface LagRow {
  observed_at: string;
  integration: string;
  workflow: string;
  source: string;
  source_kind: string;
  entity: string;
  status: string;
  lag_seconds: number | null;
  lag_estimated: boolean;
  depth: number | null;
  in_flight: number | null;
  consumers: number | null;
  inflow_per_second: number | null;
  outflow_per_second: number | null;
  stuck: number | null;
  failed: number | null;
  state_counts: Record<string, number>;
  detail: string;
  attributes: Record<string, string>;
  conditions: string[];
}

/** Row of `integration_failures`. */
export interface FailureRow {
  observed_at: string;
  failed_at: string;
  integration: string;
  workflow: string;
  source: string;
  source_kind: string;
  entity: string;
  failure_id: string;
  exception_name: string;
  exception_message: string;
  retry_count: number;
  attributes: Record<string, string>;
}

/** Row of `source_polls`. */
export interface PollRow {
  started_at: string;
  source: string;
  source_kind: string;
  integration: string;
  duration_ms: number;
  outcome: string;
  samples: number;
  down_samples: number;
  failures: number;
  consecutive_failures: number;
  error: string;
}

export interface LagWriterOptions {
  /** Default `LAG_FLUSH_INTERVAL_MS`; 0 inserts on the next turn of the event loop. */
  flushIntervalMs?: number;
  /** Default `MAX_LAG_BATCH_ROWS`. */
  maxBatchRows?: number;
  /** Default `MAX_PENDING_LAG_ROWS`. */
  maxPendingRows?: number;
  /**
   * Batched, spooled ingest that takes the rows in place of direct inserts
   * with `client`, so they survive a store outage. Default: direct inserts.
   */
  rowWriter?: TableRowWriter;
}

/** Writes the results of source polls to ClickHouse. */
export interface LagWriter extends LagSink {
  /**
   * Buffers a batch and resolves once its rows are inserted. Rejects with
   * `COLLECTOR_ERR_LAG_BUFFER_FULL` when the buffer is full and with
   * `COLLECTOR_ERR_LAG_INSERT_FAILED` when the insert fails.
   */
  write(batch: LagBatch): Promise<void>;
  /** Inserts the buffered rows now and waits for every insert started so far. */
  flush(): Promise<void>;
  /** Rows buffered and not yet handed to an insert. */
  readonly pendingRows: number;
}

/** Rows collected from several batches, inserted together. */
interface PendingRows {
  samples: LagRow[];
  failures: FailureRow[];
  polls: PollRow[];
  waiters: { resolve: () => void; reject: (error: unknown) => void }[];
}

/**
 * Creates a writer that collects batches for `flushIntervalMs` and then
 * inserts their samples into `integration_lag`, failures into
 * `integration_failures` and poll records into `source_polls`, one insert per
 * table. Collecting matters because each insert creates a part in the store:
 * a thousand sources polled every ten seconds would otherwise make hundreds
 * of inserts a second. Inserts run one at a time, in the order of the batches.
 *
 * NOTE: the three inserts of one flush are not atomic. When a later one fails,
 * the rows of the earlier ones stay stored while every batch of the flush rejects.
 */
export function createLagWriter(client: ClickHouseClient, options: LagWriterOptions = {}): LagWriter {
  const flushIntervalMs = options.flushIntervalMs ?? LAG_FLUSH_INTERVAL_MS;
  const maxBatchRows = options.maxBatchRows ?? MAX_LAG_BATCH_ROWS;
  const maxPendingRows = options.maxPendingRows ?? MAX_PENDING_LAG_ROWS;
  let pending = createPendingRows();
  let pendingRows = 0;
  let timer: NodeJS.Timeout | undefined;
  /** The last insert started; the next one waits for it so rows arrive in order. */
  let lastInsert: Promise<void> = Promise.resolve();

  const flush = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    if (pendingRows === 0) return lastInsert.catch(() => undefined);

    const rows = pending;
    pending = createPendingRows();
    pendingRows = 0;
    const insert = lastInsert
      .catch(() => undefined)
      .then(() => insertRows(client, rows, options.rowWriter));
    lastInsert = insert.then(
      () => {
        for (const waiter of rows.waiters) waiter.resolve();
      },
      (error: unknown) => {
        const failure = new LagWriterError(
          LAG_WRITER_ERROR_CODES.insertFailed,
          `insert of ${rows.samples.length} samples, ${rows.failures.length} failures and ${rows.polls.length} poll records failed: ${describeCause(error)}`,
          { cause: error },
        );
        for (const waiter of rows.waiters) waiter.reject(failure);
        throw failure;
      },
    );
    return lastInsert.catch(() => undefined);
  };

  const write = (batch: LagBatch): Promise<void> => {
    const polls = batch.polls ?? [];
    const rowCount = batch.samples.length + batch.failures.length + polls.length;
    if (rowCount === 0) return Promise.resolve();
    if (pendingRows + rowCount > maxPendingRows) {
      return Promise.reject(
        new LagWriterError(
          LAG_WRITER_ERROR_CODES.bufferFull,
          `buffer holds ${pendingRows} rows and cannot take ${rowCount} more within its limit of ${maxPendingRows}: the store is slower than the sources`,
        ),
      );
    }

    pending.samples.push(...batch.samples.map(toLagRow));
    pending.failures.push(...batch.failures.map(toFailureRow));
    pending.polls.push(...polls.map(toPollRow));
    pendingRows += rowCount;
    const written = new Promise<void>((resolve, reject) => {
      pending.waiters.push({ resolve, reject });
    });

    if (pendingRows >= maxBatchRows) {
      void flush();
    } else if (timer === undefined) {
      timer = setTimeout(() => void flush(), flushIntervalMs);
      timer.unref();
    }
    return written;
  };

  return {
    write,
    flush,
    get pendingRows() {
      return pendingRows;
    },
  };
}

function createPendingRows(): PendingRows {
  return { samples: [], failures: [], polls: [], waiters: [] };
}

async function insertRows(client: ClickHouseClient, rows: PendingRows, rowWriter?: TableRowWriter): Promise<void> {
  if (rowWriter) {
    // Each table has its own batch in the ingest, so the three wait for their flushes together.
    await Promise.all([
      rowWriter.writeRows(LAG_TABLE, rows.samples),
      rowWriter.writeRows(FAILURES_TABLE, rows.failures),
      rowWriter.writeRows(SOURCE_POLLS_TABLE, rows.polls),
    ]);
    return;
  }
  const insert = async (table: string, values: object[]): Promise<void> => {
    await client.insert({ table, values, format: 'JSONEachRow' });
  };
  if (rows.samples.length > 0) {
    await insert(LAG_TABLE, rows.samples);
  }
  if (rows.failures.length > 0) {
    await insert(FAILURES_TABLE, rows.failures);
  }
  if (rows.polls.length > 0) {
    await insert(SOURCE_POLLS_TABLE, rows.polls);
  }
}

function describeCause(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Converts a sample to its `integration_lag` row. */
export function toLagRow(sample: LagSample): LagRow {
  return {
    observed_at: formatDateTime64(sample.observedAt),
    integration: sample.integration,
    workflow: sample.workflow,
    source: sample.source,
    source_kind: sample.sourceKind,
    entity: sample.entity,
    status: sample.status,
    lag_seconds: toNullableFloat(sample.lagSeconds),
    lag_estimated: sample.lagEstimated ?? false,
    depth: toNullableCount(sample.depth),
    in_flight: toNullableCount(sample.inFlight),
    consumers: toNullableCount(sample.consumers),
    inflow_per_second: toNullableFloat(sample.inflowPerSecond),
    outflow_per_second: toNullableFloat(sample.outflowPerSecond),
    stuck: toNullableCount(sample.stuck),
    failed: toNullableCount(sample.failed),
    state_counts: sample.stateCounts ?? {},
    detail: sample.detail ?? '',
    attributes: sample.attributes ?? {},
    conditions: sample.conditions ?? [],
  };
}

/** Converts a failure to its `integration_failures` row. */
export function toFailureRow(failure: FailureRecord): FailureRow {
  return {
    observed_at: formatDateTime64(failure.observedAt),
    failed_at: formatDateTime64(failure.failedAt),
    integration: failure.integration,
    workflow: failure.workflow,
    source: failure.source,
    source_kind: failure.sourceKind,
    entity: failure.entity,
    failure_id: failure.failureId,
    exception_name: failure.exceptionName,
    exception_message: failure.exceptionMessage,
    retry_count: Math.max(0, Math.trunc(failure.retryCount)),
    attributes: failure.attributes ?? {},
  };
}

/** Converts a poll record to its `source_polls` row. */
export function toPollRow(record: PollRecord): PollRow {
  return {
    started_at: formatDateTime64(record.startedAt),
    source: record.source,
    source_kind: record.sourceKind,
    integration: record.integration,
    duration_ms: Math.max(0, Math.round(record.durationMs)),
    outcome: record.outcome,
    samples: record.samples,
    down_samples: record.downSamples,
    failures: record.failures,
    consecutive_failures: record.consecutiveFailures,
    error: record.error,
  };
}

/**
 * Formats a date for a DateTime64(3) column as `seconds.milliseconds` since
 * the epoch, which ClickHouse's default input format reads the same way in
 * every server time zone. No per-insert setting is needed, which matters on
 * chDB, where settings persist for the rest of the session.
 */
function formatDateTime64(date: Date): string {
  const epochMs = date.getTime();
  const seconds = Math.floor(epochMs / 1000);
  const milliseconds = epochMs - seconds * 1000;
  return `${seconds}.${String(milliseconds).padStart(3, '0')}`;
}

function toNullableFloat(value: number | undefined): number | null {
  return value === undefined || !Number.isFinite(value) ? null : value;
}

/** Counts go to UInt columns: a value that is not a finite, non-negative number is stored as NULL. */
function toNullableCount(value: number | undefined): number | null {
  if (value === undefined || !Number.isFinite(value) || value < 0) return null;
  return Math.round(value);
}
