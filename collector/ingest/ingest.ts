import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { SyncwatchMetrics } from '../../server/metrics.js';
import { createBatcher, createClosedError, type Batcher } from './batcher.js';
import { createBatchDelivery, type BatchDelivery } from './delivery.js';
import type { BatchInserter, EncodedRows } from './insert-batch.js';
import { openSpool, type OpenSpoolFile, type Spool } from './spool.js';

/** Sub-directory of the data directory that contains one spool directory per table. */
export const SPOOL_DIRECTORY_NAME = 'spool';

/** Table names the ingest accepts; each becomes a directory name. */
const TABLE_NAME_PATTERN = /^[a-z_][a-z0-9_]*$/;

/** Writes rows to ClickHouse tables. The trace and lag writers depend on this interface only. */
export interface TableRowWriter {
  /**
   * Resolves once `rows` are durable: stored in ClickHouse or synced to the
   * disk spool, from which they are replayed. Rejects with a catalogue error
   * carrying `retryAfterSeconds` when the rows cannot be taken.
   *
   * NOTE: deduplication covers replays of a batch, not a client's retry of a
   * request. When the process dies after the rows became durable but before
   * the response went out, or an insert's reply is lost and the spool then
   * rejects the batch, a retried request stores its rows a second time.
   */
  writeRows(table: string, rows: readonly object[]): Promise<void>;
}

/** Writes rows that the caller encoded, such as trace rows in RowBinary. */
export interface EncodedRowWriter {
  /** Resolves once `rows` are durable, with the errors of `TableRowWriter.writeRows`. */
  writeEncodedRows(table: string, rows: EncodedRows): Promise<void>;
}

/** Limits of each table's batcher and spool; every field has a named default. */
export interface IngestLimits {
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
  /** Default `MAX_SPOOL_BYTES`. */
  maxSpoolBytes?: number;
  /** Default `SEGMENT_MAX_BYTES`. */
  segmentMaxBytes?: number;
  /** Default `SPOOL_CACHE_MAX_BYTES`. */
  spoolCacheMaxBytes?: number;
  /** Default `REPLAY_RETRY_INITIAL_MS`. */
  retryInitialMs?: number;
  /** Default `REPLAY_RETRY_MAX_MS`. */
  retryMaxMs?: number;
  /** Default `INSERT_LANES`. */
  insertLanes?: number;
  /** Default `MAX_BATCHES_WAITING_FOR_LANE`. */
  maxBatchesWaitingForLane?: number;
}

export interface IngestOptions {
  inserter: BatchInserter;
  /** Data directory; spools go to its `spool/<table>/` sub-directories. */
  dataDir: string;
  limits?: IngestLimits;
  logger?: Logger;
  metrics?: SyncwatchMetrics;
  /** Default: `open` from node:fs/promises. Tests pass a wrapper that injects faults. */
  openFile?: OpenSpoolFile;
}

/** Batched, spooled ingest into ClickHouse: one batcher, spool and insert lane per table. */
export interface Ingest extends TableRowWriter, EncodedRowWriter {
  /** Seals every open batch and waits until each is durable or failed. */
  flush(): Promise<void>;
  /** Flushes, then waits until every spool is replayed into ClickHouse. */
  drain(): Promise<void>;
  /** Rejects new rows, flushes, and closes the spools; what they hold is replayed on the next start. */
  close(): Promise<void>;
  /** Bytes waiting in the spools of all tables. */
  readonly spoolBytes: number;
}

interface TableIngest {
  batcher: Batcher;
  delivery: BatchDelivery;
  spool: Spool;
}

/**
 * Opens the ingest: opens the spool of every table found under
 * `<dataDir>/spool/` so that what a previous run left there is replayed now,
 * before any new rows arrive.
 */
export async function openIngest(options: IngestOptions): Promise<Ingest> {
  const spoolRoot = join(options.dataDir, SPOOL_DIRECTORY_NAME);
  await mkdir(spoolRoot, { recursive: true });
  const ingest = new TableIngests(options, spoolRoot);
  const existing = (await readdir(spoolRoot, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory() && TABLE_NAME_PATTERN.test(entry.name))
    .map((entry) => entry.name);
  await Promise.all(existing.map((table) => ingest.openTable(table)));
  return ingest;
}

class TableIngests implements Ingest {
  readonly #options: IngestOptions;
  readonly #spoolRoot: string;
  readonly #tables = new Map<string, Promise<TableIngest>>();
  /** The tables whose spool is open, for the synchronous `spoolBytes`. */
  readonly #openedTables = new Map<string, TableIngest>();
  #closed = false;

  constructor(options: IngestOptions, spoolRoot: string) {
    this.#options = options;
    this.#spoolRoot = spoolRoot;
  }

  get spoolBytes(): number {
    let total = 0;
    for (const table of this.#openedTables.values()) total += table.spool.pendingBytes;
    return total;
  }

  /**
   * Not async: once the table is open, the rows go to the batcher, which
   * encodes them in the same task. So no suspended call keeps the row objects
   * alive while they wait to become durable.
   */
  writeRows(table: string, rows: readonly object[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    if (this.#closed) return Promise.reject(createClosedError(table));
    const opened = this.#openedTables.get(table);
    if (opened) return opened.batcher.add(rows);
    return this.openTable(table).then((tableIngest) => tableIngest.batcher.add(rows));
  }

  writeEncodedRows(table: string, rows: EncodedRows): Promise<void> {
    if (rows.rowCount === 0) return Promise.resolve();
    if (this.#closed) return Promise.reject(createClosedError(table));
    const opened = this.#openedTables.get(table);
    if (opened) return opened.batcher.addEncoded(rows);
    return this.openTable(table).then((tableIngest) => tableIngest.batcher.addEncoded(rows));
  }

  async flush(): Promise<void> {
    const tables = await Promise.all(this.#tables.values());
    await Promise.all(tables.map((table) => table.batcher.flush()));
  }

  async drain(): Promise<void> {
    await this.flush();
    const tables = await Promise.all(this.#tables.values());
    await Promise.all(tables.map((table) => table.delivery.drain()));
  }

  async close(): Promise<void> {
    this.#closed = true;
    const tables = await Promise.all(this.#tables.values());
    await Promise.all(tables.map((table) => table.batcher.close()));
    await Promise.all(tables.map((table) => table.delivery.close()));
  }

  /** Returns the table's ingest, opening its spool on first use. */
  openTable(table: string): Promise<TableIngest> {
    let opened = this.#tables.get(table);
    if (!opened) {
      if (!TABLE_NAME_PATTERN.test(table)) {
        return Promise.reject(new RangeError(`invalid table name "${table}": expected lowercase letters, digits and underscores`));
      }
      opened = this.#createTable(table);
      this.#tables.set(table, opened);
      // A failed open is retried by the next write instead of failing every later one.
      opened.catch(() => this.#tables.delete(table));
    }
    return opened;
  }

  async #createTable(table: string): Promise<TableIngest> {
    const { limits = {}, logger, metrics } = this.#options;
    const spool = await openSpool({
      directory: join(this.#spoolRoot, table),
      table,
      maxBytes: limits.maxSpoolBytes,
      segmentMaxBytes: limits.segmentMaxBytes,
      cacheMaxBytes: limits.spoolCacheMaxBytes,
      logger,
      openFile: this.#options.openFile,
    });
    if (spool.openReport.discardedBytes > 0) {
      metrics?.countRowsDropped(table, 'spool_record_torn', spool.openReport.discardedRows);
    }
    if (spool.pendingBatches > 0) {
      logger?.info({ table, batches: spool.pendingBatches, bytes: spool.pendingBytes }, 'spool found, replaying');
    }

    const delivery = createBatchDelivery({
      table,
      inserter: this.#options.inserter,
      spool,
      logger,
      metrics,
      onSpoolChange: () => metrics?.setSpoolBytes(this.spoolBytes),
      retryInitialMs: limits.retryInitialMs,
      retryMaxMs: limits.retryMaxMs,
      insertLanes: limits.insertLanes,
      maxBatchesWaitingForLane: limits.maxBatchesWaitingForLane,
    });
    const batcher = createBatcher({
      table,
      deliver: (batch) => delivery.deliver(batch),
      maxBatchRows: limits.maxBatchRows,
      maxBatchBytes: limits.maxBatchBytes,
      flushIntervalMs: limits.flushIntervalMs,
      maxQueuedRows: limits.maxQueuedRows,
      maxQueuedBytes: limits.maxQueuedBytes,
      metrics,
    });
    const tableIngest = { batcher, delivery, spool };
    this.#openedTables.set(table, tableIngest);
    metrics?.setSpoolBytes(this.spoolBytes);
    return tableIngest;
  }
}
