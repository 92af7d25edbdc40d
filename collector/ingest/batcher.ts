import { randomBytes } from 'node:crypto';
import type { SyncwatchMetrics } from '../../server/metrics.js';
import { createCollectorError } from '../errors.js';
import type { EncodedBatch, EncodedRows, InsertFormat } from './insert-batch.js';

/**
 * Rows at which a batch is sealed without waiting for the flush interval.
 * Each insert writes one part per table, which background merges rewrite
 * later. In `npm run bench:ingest` on embedded chDB and two shared cores,
 * batches of 30,000 spans took the merge threads about 0.4 CPU seconds per
 * 100,000 spans, against 0.9 for batches of 10,000 (docs/benchmarks.md).
 */
export const MAX_BATCH_ROWS = 30_000;

/**
 * Encoded bytes at which a batch is sealed without waiting for the flush
 * interval: 32 MiB, so that 30,000 trace rows in RowBinary (about 18 MB)
 * fill a batch by rows first.
 */
export const MAX_BATCH_BYTES = 32 * 1024 * 1024;

/**
 * Time the first row of a batch waits for more rows before the batch is
 * sealed, about one insert per second and table while the input is light.
 *
 * NOTE: the response to a request is sent only once its batch is durable.
 * A client that sends one request at a time and waits for the response, as
 * the OpenTelemetry SDKs' batch span processors do, therefore gets about one
 * batch through per interval: 512 spans a second at their default batch size.
 */
export const FLUSH_INTERVAL_MS = 1_000;

/**
 * Rows accepted but not yet durable, per table, past which `add` rejects:
 * room for a full batch in each of the two insert lanes, one waiting for a
 * lane and one open (`INSERT_LANES`, `MAX_BATCHES_WAITING_FOR_LANE`). For
 * trace rows in RowBinary, about 640 bytes each, that is about 96 MB.
 */
export const MAX_QUEUED_ROWS = 150_000;

/**
 * Encoded bytes accepted but not yet durable, per table, past which `add`
 * rejects: 96 MiB. It bounds the memory of queued batches when rows are
 * larger than usual, where `MAX_QUEUED_ROWS` alone would let hundreds of
 * megabytes wait. A single call larger than the limit is still taken when
 * nothing else waits, so it can never be refused for good.
 */
export const MAX_QUEUED_BYTES = 96 * 1024 * 1024;

/** `Retry-After` sent when the queue is full. */
export const QUEUE_FULL_RETRY_AFTER_SECONDS = 1;

/** Makes a sealed batch durable: resolves once it is in ClickHouse or synced to the spool. */
export type DeliverBatch = (batch: EncodedBatch) => Promise<void>;

export interface BatcherOptions {
  /** Table the rows go to, for error messages and metrics. */
  table: string;
  deliver: DeliverBatch;
  /** Default `MAX_BATCH_ROWS`. */
  maxBatchRows?: number;
  /** Default `MAX_BATCH_BYTES`. */
  maxBatchBytes?: number;
  /** Default `FLUSH_INTERVAL_MS`. */
  flushIntervalMs?: number;
  /** Default `MAX_QUEUED_ROWS`. */
  maxQueuedRows?: number;
  /** Default `MAX_QUEUED_BYTES`. */
  maxQueuedBytes?: number;
  metrics?: SyncwatchMetrics;
}

/** Collects the rows of many requests for one table into batches. */
export interface Batcher {
  /**
   * Adds rows to the open batch and resolves once that batch is durable.
   * The rows of one call always stay in one batch, so a batch can pass
   * `maxBatchRows` by up to one call's rows. The rows are encoded before
   * `add` returns, so the caller may drop them while it waits. Rejects with
   * `COLLECTOR_ERR_INGEST_QUEUE_FULL` past `maxQueuedRows`, with
   * `COLLECTOR_ERR_INGEST_QUEUE_BYTES_FULL` past `maxQueuedBytes`, with
   * `COLLECTOR_ERR_INGEST_CLOSED` after `close`, and with the delivery's
   * error when the batch can be neither inserted nor spooled.
   */
  add(rows: readonly object[]): Promise<void>;
  /**
   * Adds rows encoded by the caller, like `add`. A batch contains one format:
   * rows in another format than the open batch's, or with another header,
   * seal it first.
   */
  addEncoded(rows: EncodedRows): Promise<void>;
  /** Seals the open batch now and waits until every sealed batch is delivered or failed. */
  flush(): Promise<void>;
  /** Rejects later `add` calls, then flushes. */
  close(): Promise<void>;
  /** Rows accepted and not yet durable. */
  readonly queuedRows: number;
  /** Encoded bytes of the rows accepted and not yet durable. */
  readonly queuedBytes: number;
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface OpenBatch {
  format: InsertFormat;
  /** Bytes in front of the rows: the RowBinaryWithNamesAndTypes header, or none. */
  header: Buffer | undefined;
  /** The encoded rows of each call: newline-terminated JSONEachRow lines or RowBinary rows. */
  chunks: Buffer[];
  rowCount: number;
  bytes: number;
  waiters: Waiter[];
}

/** Creates a batcher that seals a batch at `maxBatchRows`, `maxBatchBytes` or `flushIntervalMs`, whichever comes first. */
export function createBatcher(options: BatcherOptions): Batcher {
  const maxBatchRows = options.maxBatchRows ?? MAX_BATCH_ROWS;
  const maxBatchBytes = options.maxBatchBytes ?? MAX_BATCH_BYTES;
  const flushIntervalMs = options.flushIntervalMs ?? FLUSH_INTERVAL_MS;
  const maxQueuedRows = options.maxQueuedRows ?? MAX_QUEUED_ROWS;
  const maxQueuedBytes = options.maxQueuedBytes ?? MAX_QUEUED_BYTES;
  const { table, metrics } = options;
  const createBatchId = createBatchIdSequence();
  let open = createOpenBatch();
  let queuedRows = 0;
  let queuedBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const deliveries = new Set<Promise<void>>();

  const seal = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (open.rowCount === 0) return;

    const { rowCount, bytes, format, waiters } = open;
    const batch: EncodedBatch = { batchId: createBatchId(), rowCount, body: joinChunks(open), format };
    // Nothing below keeps the sealed batch's chunks, so they can be collected while the joined body is delivered.
    open = createOpenBatch();
    const release = () => {
      queuedRows -= rowCount;
      queuedBytes -= bytes;
      metrics?.setQueueDepth(table, queuedRows);
    };
    const delivery = settleDelivery(options.deliver, batch, waiters, release);
    deliveries.add(delivery);
    void delivery.then(() => deliveries.delete(delivery));
  };

  const checkRowLimit = (rowCount: number): Promise<void> | undefined => {
    if (closed) return Promise.reject(createClosedError(table));
    if (rowCount === 0) return Promise.resolve();
    if (queuedRows + rowCount > maxQueuedRows) {
      const params = { table, queuedRows, rows: rowCount, maxQueuedRows, retryAfterSeconds: QUEUE_FULL_RETRY_AFTER_SECONDS };
      return Promise.reject(createCollectorError('ingestQueueFull', params, { retryAfterSeconds: QUEUE_FULL_RETRY_AFTER_SECONDS }));
    }
    return undefined;
  };

  const add = (rows: readonly object[]): Promise<void> => {
    // The limits are checked before encoding, so rejected rows cost no JSON.
    const rejected = checkRowLimit(rows.length);
    if (rejected) return rejected;
    return appendChunk({ format: 'JSONEachRow', rowCount: rows.length, body: encodeRows(rows) });
  };

  const addEncoded = (rows: EncodedRows): Promise<void> => checkRowLimit(rows.rowCount) ?? appendChunk(rows);

  const appendChunk = (rows: EncodedRows): Promise<void> => {
    const chunk = rows.body;
    if (queuedBytes > 0 && queuedBytes + chunk.length > maxQueuedBytes) {
      const params = { table, queuedBytes, bytes: chunk.length, maxQueuedBytes, retryAfterSeconds: QUEUE_FULL_RETRY_AFTER_SECONDS };
      return Promise.reject(createCollectorError('ingestQueueBytesFull', params, { retryAfterSeconds: QUEUE_FULL_RETRY_AFTER_SECONDS }));
    }

    const header = rows.format === 'RowBinaryWithNamesAndTypes' ? rows.header : undefined;
    if (open.rowCount > 0 && (open.format !== rows.format || !isSameHeader(open.header, header))) seal();
    open.format = rows.format;
    open.header = header;
    open.chunks.push(chunk);
    open.rowCount += rows.rowCount;
    open.bytes += chunk.length;
    queuedRows += rows.rowCount;
    queuedBytes += chunk.length;
    metrics?.setQueueDepth(table, queuedRows);
    const durable = new Promise<void>((resolve, reject) => {
      open.waiters.push({ resolve, reject });
    });

    if (open.rowCount >= maxBatchRows || open.bytes >= maxBatchBytes) {
      seal();
    } else if (timer === undefined) {
      timer = setTimeout(seal, flushIntervalMs);
      timer.unref();
    }
    return durable;
  };

  const flush = async (): Promise<void> => {
    seal();
    await Promise.all(deliveries);
  };

  return {
    add,
    addEncoded,
    flush,
    async close() {
      closed = true;
      await flush();
    },
    get queuedRows() {
      return queuedRows;
    },
    get queuedBytes() {
      return queuedBytes;
    },
  };
}

/** Delivers a batch, calls `release` and then settles its waiters. Never rejects. */
async function settleDelivery(
  deliver: DeliverBatch,
  batch: EncodedBatch,
  waiters: Waiter[],
  release: () => void,
): Promise<void> {
  let failure: { error: unknown } | undefined;
  try {
    await deliver(batch);
  } catch (error) {
    failure = { error };
  }
  release();
  for (const waiter of waiters) {
    if (failure) waiter.reject(failure.error);
    else waiter.resolve();
  }
}

/** Creates the error for rows that arrive while the ingest shuts down; a restarted service takes them. */
export function createClosedError(table: string) {
  const retryAfterSeconds = QUEUE_FULL_RETRY_AFTER_SECONDS;
  return createCollectorError('ingestClosed', { table, retryAfterSeconds }, { retryAfterSeconds });
}

function createOpenBatch(): OpenBatch {
  return { format: 'JSONEachRow', header: undefined, chunks: [], rowCount: 0, bytes: 0, waiters: [] };
}

/** Joins a sealed batch's header and chunks into one body, without a copy when there is one chunk and no header. */
function joinChunks(batch: OpenBatch): Buffer {
  const parts = batch.header ? [batch.header, ...batch.chunks] : batch.chunks;
  if (parts.length === 1) return parts[0] as Buffer;
  return Buffer.concat(parts, batch.bytes + (batch.header?.length ?? 0));
}

function isSameHeader(left: Buffer | undefined, right: Buffer | undefined): boolean {
  if (left === right) return true;
  return left !== undefined && right !== undefined && left.equals(right);
}

/**
 * Encodes rows as newline-terminated JSONEachRow lines in one Buffer. The
 * short-lived strings die young, and the queued bytes sit outside the
 * JavaScript heap, where the garbage collector need not trace them.
 */
function encodeRows(rows: readonly object[]): Buffer {
  let text = '';
  for (const row of rows) text += `${JSON.stringify(row)}\n`;
  return Buffer.from(text, 'utf8');
}

/**
 * Returns a generator of batch ids unique across restarts: a per-process
 * prefix of the start time and random bytes, then a sequence number.
 */
function createBatchIdSequence(): () => string {
  const prefix = `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
  let sequence = 0;
  return () => `${prefix}-${++sequence}`;
}
