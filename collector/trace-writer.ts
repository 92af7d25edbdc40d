import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import { createCollectorError } from './errors.js';
import type { EncodedRowWriter } from './ingest/ingest.js';
import type { EncodedRows } from './ingest/insert-batch.js';
import { mapSpansToRows, type TraceSpans } from './otlp/to-trace-rows.js';
import { encodeTraceRowBinary } from './otlp/trace-row-binary.js';

/** Inserts allowed to run at once before `write` rejects with an overload error. */
export const MAX_IN_FLIGHT_INSERTS = 4;

/** `Retry-After` sent when the writer is at `MAX_IN_FLIGHT_INSERTS`. */
export const OVERLOAD_RETRY_AFTER_SECONDS = 1;

/** `Retry-After` sent when an insert fails, for example with the store down. */
export const STORE_UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

export const OTEL_TRACES_TABLE = 'otel_traces';

/** Store for trace rows. The receiver depends on this interface only. */
export interface TraceWriter {
  /**
   * Stores one row per span of `spans.request`, whose spans
   * `selectStorableSpans` checked, and resolves once the rows are durable. Rejects with a
   * catalogue error carrying `retryAfterSeconds` when the rows cannot be
   * taken, such as `COLLECTOR_ERR_WRITER_OVERLOADED` or
   * `COLLECTOR_ERR_SPOOL_FULL` (429) and `COLLECTOR_ERR_STORE_UNAVAILABLE`
   * or `COLLECTOR_ERR_SPOOL_WRITE_FAILED` (503).
   */
  write(spans: TraceSpans): Promise<void>;
  /**
   * Stores rows that `transcodeProtobufTraces` encoded, like `write`. A
   * writer without it gets protobuf requests decoded, through `write`.
   */
  writeRows?(rows: EncodedRows): Promise<void>;
}

export interface TraceWriterOptions {
  /** Concurrent inserts allowed. Default `MAX_IN_FLIGHT_INSERTS`. */
  maxInFlightInserts?: number;
  /** Seconds to wait after an overload. Default `OVERLOAD_RETRY_AFTER_SECONDS`. */
  overloadRetryAfterSeconds?: number;
  /** Seconds to wait after a failed insert. Default `STORE_UNAVAILABLE_RETRY_AFTER_SECONDS`. */
  storeUnavailableRetryAfterSeconds?: number;
  logger?: Logger;
}

/**
 * Creates a writer that encodes the spans as RowBinary rows and hands them to
 * the batched ingest, which resolves once they are in ClickHouse or synced to
 * the disk spool. The service uses this writer. The ingest's errors (queue or
 * spool full, spool write failed) are catalogue errors with
 * `retryAfterSeconds`, which the receiver sends as 429 or 503 with
 * `Retry-After`.
 */
export function createBatchedTraceWriter(ingest: EncodedRowWriter): TraceWriter {
  return {
    write: (spans) => ingest.writeEncodedRows(OTEL_TRACES_TABLE, encodeTraceRowBinary(spans.request, spans.spanCount)),
    writeRows: (rows) => ingest.writeEncodedRows(OTEL_TRACES_TABLE, rows),
  };
}

/**
 * Creates a writer that inserts each `write` into `otel_traces` as one
 * JSONEachRow insert, with a cap on inserts in flight so a slow store pushes
 * back on clients (429) instead of piling up requests in memory.
 *
 * NOTE: rows are neither batched nor spooled, so one small request is one
 * insert and a failed insert fails the request; the service uses
 * `createBatchedTraceWriter`.
 */
export function createTraceWriter(client: ClickHouseClient, options: TraceWriterOptions = {}): TraceWriter {
  const maxInFlightInserts = options.maxInFlightInserts ?? MAX_IN_FLIGHT_INSERTS;
  const overloadRetryAfterSeconds = options.overloadRetryAfterSeconds ?? OVERLOAD_RETRY_AFTER_SECONDS;
  const storeUnavailableRetryAfterSeconds =
    options.storeUnavailableRetryAfterSeconds ?? STORE_UNAVAILABLE_RETRY_AFTER_SECONDS;
  let inFlightInserts = 0;

  async function write(spans: TraceSpans): Promise<void> {
    if (spans.spanCount === 0) return;
    if (inFlightInserts >= maxInFlightInserts) {
      throw createCollectorError(
        'writerOverloaded',
        { maxInFlightInserts, retryAfterSeconds: overloadRetryAfterSeconds },
        { retryAfterSeconds: overloadRetryAfterSeconds },
      );
    }

    inFlightInserts++;
    const startedAt = performance.now();
    const rows = mapSpansToRows(spans.request);
    try {
      await client.insert({ table: OTEL_TRACES_TABLE, values: rows, format: 'JSONEachRow' });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      options.logger?.error({ err: error, table: OTEL_TRACES_TABLE, rows: rows.length }, 'trace insert failed');
      throw createCollectorError(
        'storeUnavailable',
        { table: OTEL_TRACES_TABLE, reason, retryAfterSeconds: storeUnavailableRetryAfterSeconds },
        { cause: error, retryAfterSeconds: storeUnavailableRetryAfterSeconds },
      );
    } finally {
      inFlightInserts--;
    }

    if (options.logger?.isLevelEnabled('debug')) {
      const durationMs = Math.round(performance.now() - startedAt);
      options.logger.debug({ table: OTEL_TRACES_TABLE, rows: rows.length, durationMs }, 'trace rows inserted');
    }
  }

  return { write };
}
