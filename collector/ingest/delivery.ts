import type { Logger } from 'pino';
import type { SyncwatchMetrics } from '../../server/metrics.js';
import type { BatchInserter, EncodedBatch } from './insert-batch.js';
import { classifyInsertError, type InsertFailure } from './insert-error.js';
import { splitRowBinaryRows, type RowBinaryRows } from './row-binary.js';
import type { Spool, SpooledBatch } from './spool.js';

/** First wait before the replay tries the store again after a failed insert. */
export const REPLAY_RETRY_INITIAL_MS = 500;

/** Maximum wait between two replay attempts while the store stays down. */
export const REPLAY_RETRY_MAX_MS = 30_000;

/**
 * Inserts into one table that run at the same time, so that both cores
 * work. In `npm run bench:ingest` on embedded chDB, two lanes stored 74,000
 * to 82,000 spans a second end to end, against 61,000 to 70,000 with one
 * (docs/benchmarks.md).
 */
export const INSERT_LANES = 2;

/**
 * Sealed batches that wait in memory for an insert lane, instead of going
 * to the spool, while every lane is busy. Waiting
 * keeps their requests unanswered, which slows clients down to the insert
 * rate, and spares writing each batch to disk and reading it back. Their
 * rows count against the batcher's queue limits. For trace rows, one full
 * batch waiting, one being inserted in each lane and a full open batch stay
 * under `MAX_QUEUED_ROWS` and `MAX_QUEUED_BYTES`. So the next full batch
 * goes to the spool instead of the batcher rejecting its rows.
 */
export const MAX_BATCHES_WAITING_FOR_LANE = 1;

/** Each failed attempt multiplies the wait by this factor, up to `REPLAY_RETRY_MAX_MS`. */
const REPLAY_RETRY_MULTIPLIER = 2;

/** Random spread of each wait, as a fraction of it, so several tables do not retry in step. */
const REPLAY_RETRY_JITTER = 0.2;

export interface BatchDeliveryOptions {
  table: string;
  inserter: BatchInserter;
  spool: Spool;
  logger?: Logger;
  metrics?: SyncwatchMetrics;
  /** Called after the spool grew or shrank. */
  onSpoolChange?: () => void;
  /** Default `REPLAY_RETRY_INITIAL_MS`. */
  retryInitialMs?: number;
  /** Default `REPLAY_RETRY_MAX_MS`. */
  retryMaxMs?: number;
  /** Default `INSERT_LANES`. */
  insertLanes?: number;
  /** Default `MAX_BATCHES_WAITING_FOR_LANE`. With 0, every batch that finds all lanes busy goes to the spool. */
  maxBatchesWaitingForLane?: number;
}

/**
 * Makes sealed batches of one table durable through its insert lanes: at
 * most `insertLanes` inserts into the table run at a time.
 */
export interface BatchDelivery {
  /**
   * Resolves once `batch` is in ClickHouse or synced to the spool. The batch
   * goes straight to ClickHouse when the store is available, and a lane is
   * idle or fewer than `maxBatchesWaitingForLane` batches wait for one, even
   * while the spool contains batches. Otherwise, or when that insert fails, it
   * is appended to the spool and replayed later under the same batch id. The
   * store counts as unavailable from a failed insert until an insert succeeds,
   * so after an outage the replay stores a batch before new ones go straight in.
   * Rejects with the spool's error when the spool cannot take it. Lanes
   * insert at the same time, so batches may be stored in another order than
   * they were delivered. The spool replays its own batches oldest first.
   *
   * A batch whose data ClickHouse rejects (see `classifyInsertError`) is
   * split once into two halves, each inserted under its own id. A half that
   * is rejected again is dropped and counted, and the lane goes on with the
   * next batch.
   */
  deliver(batch: EncodedBatch): Promise<void>;
  /** Resolves once the spool is empty and no insert runs. */
  drain(): Promise<void>;
  /** Stops the replay after the inserts in progress and closes the spool. */
  close(): Promise<void>;
  readonly storeAvailable: boolean;
}

/** Creates the delivery of one table and starts replaying what its spool already holds. */
export function createBatchDelivery(options: BatchDeliveryOptions): BatchDelivery {
  const delivery = new TableDelivery(options);
  delivery.scheduleReplay(0);
  return delivery;
}

class TableDelivery implements BatchDelivery {
  readonly #options: BatchDeliveryOptions;
  readonly #retryInitialMs: number;
  readonly #retryMaxMs: number;
  readonly #insertLanes: number;
  readonly #maxBatchesWaitingForLane: number;
  /** Batches waiting for a lane, woken in order. A freed lane passes to them before the replay gets it. */
  #laneWaiters: (() => void)[] = [];
  #busyLanes = 0;
  #replaying = false;
  /** The spooled batches the running replay took, oldest first, until the spool removes them. */
  #replayQueue: ReplayEntry[] = [];
  /** Whether an insert of the running replay failed. The replay then takes no more batches. */
  #replayFailed = false;
  /** The replay's last step. Steps run one after another, so a removal never interleaves with taking a batch. */
  #replayStep: Promise<void> = Promise.resolve();
  /** Ids of spooled batches that were stored or dropped but are still in the spool. A later replay skips them. */
  readonly #finishedSpoolIds = new Set<string>();
  #storeAvailable = true;
  #failedAttempts = 0;
  /** Time of the failure that counted last. An insert that started before it failed in the same attempt and adds none. */
  #lastCountedFailureAt = Number.NEGATIVE_INFINITY;
  #replayTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #drainWaiters: (() => void)[] = [];
  /** Ids of rejected halves of a batch whose other half is still to be inserted. */
  readonly #droppedHalfIds = new Set<string>();
  #idleWaiters: (() => void)[] = [];

  constructor(options: BatchDeliveryOptions) {
    this.#options = options;
    this.#retryInitialMs = options.retryInitialMs ?? REPLAY_RETRY_INITIAL_MS;
    this.#retryMaxMs = options.retryMaxMs ?? REPLAY_RETRY_MAX_MS;
    this.#insertLanes = options.insertLanes ?? INSERT_LANES;
    if (!Number.isInteger(this.#insertLanes) || this.#insertLanes < 1) {
      throw new RangeError(`invalid insert lane count ${this.#insertLanes}: expected a whole number of at least 1`);
    }
    this.#maxBatchesWaitingForLane = options.maxBatchesWaitingForLane ?? MAX_BATCHES_WAITING_FOR_LANE;
  }

  get storeAvailable(): boolean {
    return this.#storeAvailable;
  }

  async deliver(batch: EncodedBatch): Promise<void> {
    // Batches spooled while every lane was busy do not send later batches to the spool too.
    // The lanes pass to waiting batches first, and the replay takes the lanes left.
    const mayInsert = this.#storeAvailable && !this.#closed;
    const lanesFull = this.#busyLanes >= this.#insertLanes;
    if (!mayInsert || (lanesFull && this.#laneWaiters.length >= this.#maxBatchesWaitingForLane)) {
      await this.#appendToSpool(batch);
      return;
    }

    if (lanesFull) {
      // #releaseLane passes a lane on without freeing it, so this batch goes
      // ahead of batches spooled while it waited.
      await new Promise<void>((resolve) => this.#laneWaiters.push(resolve));
      if (!this.#storeAvailable || this.#closed) {
        try {
          await this.#appendToSpool(batch);
        } finally {
          this.#releaseLane();
          this.#scheduleReplayAfterChange();
        }
        return;
      }
    } else {
      this.#busyLanes++;
    }
    try {
      await this.#insertOrDrop(batch);
    } catch {
      // #insert logged the failure; the spool keeps the batch for the replay.
      await this.#appendToSpool(batch);
    } finally {
      this.#releaseLane();
      this.#scheduleReplayAfterChange();
    }
  }

  drain(): Promise<void> {
    if (this.#isDrained()) return Promise.resolve();
    return new Promise((resolve) => {
      this.#drainWaiters.push(resolve);
      this.scheduleReplay(0);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#replayTimer);
    this.#replayTimer = undefined;
    if (this.#busyLanes > 0) {
      await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    }
    // The replay's last step removes what its inserts stored before the spool closes.
    await this.#replayStep;
    await this.#options.spool.close();
  }

  /** Starts the replay after `delayMs` unless it is running, waiting, without a free lane or has nothing to do. */
  scheduleReplay(delayMs: number): void {
    if (this.#closed || this.#replaying || this.#busyLanes >= this.#insertLanes || this.#replayTimer !== undefined) return;
    if (this.#options.spool.pendingBatches === 0) return;
    this.#replayTimer = setTimeout(() => {
      this.#replayTimer = undefined;
      this.#startReplay();
    }, delayMs);
    this.#replayTimer.unref();
  }

  /** Starts the replay at once while the store is available, otherwise after the retry delay. */
  #scheduleReplayAfterChange(): void {
    this.scheduleReplay(this.#storeAvailable ? 0 : this.#computeRetryDelayMs());
  }

  /**
   * Replays the spool oldest first, one batch in each free lane. A lane
   * that finishes takes the next batch, and the spool removes the stored
   * batches at its head in order. After a failed insert the replay takes
   * no more batches and ends once its inserts have finished. A batch stored
   * after the failed one stays in the spool, and the next replay skips it.
   */
  #startReplay(): void {
    if (this.#closed || this.#replaying || this.#options.spool.pendingBatches === 0) return;
    this.#replaying = true;
    this.#replayFailed = false;
    this.#replayQueue = [];
    this.#advanceReplay();
  }

  #advanceReplay(): void {
    this.#replayStep = this.#replayStep.then(() => this.#stepReplay());
  }

  /**
   * Removes the finished batches at the head of the replay from the spool
   * and fills the free lanes. Ends the replay once no insert of it runs.
   */
  async #stepReplay(): Promise<void> {
    const { spool } = this.#options;
    const queue = this.#replayQueue;
    while (queue[0]?.state === 'finished') {
      try {
        await spool.removeOldest();
      } catch (error) {
        const { table, logger } = this.#options;
        logger?.error({ err: error, table, batchId: queue[0].batch.batchId }, 'spool failed to remove a replayed batch');
        this.#replayFailed = true;
        break;
      }
      const removed = queue.shift()!;
      this.#finishedSpoolIds.delete(removed.batch.batchId);
      this.#options.onSpoolChange?.();
    }

    while (!this.#replayFailed && !this.#closed && this.#busyLanes < this.#insertLanes) {
      const next = spool.peek(queue.length);
      if (!next) break;
      const entry: ReplayEntry = { batch: next, state: 'running' };
      queue.push(entry);
      this.#busyLanes++;
      void this.#replayBatch(entry);
    }
    if (queue.some((entry) => entry.state === 'running')) return;

    this.#replaying = false;
    this.#replayQueue = [];
    this.#notifyIfDrained();
    this.scheduleReplay(this.#replayFailed ? this.#computeRetryDelayMs() : 0);
  }

  /**
   * Inserts one spooled batch in a lane that the caller took. A body that
   * fails its CRC counts as finished, because `#readSpooledBody` dropped and counted it.
   */
  async #replayBatch(entry: ReplayEntry): Promise<void> {
    const { batch } = entry;
    try {
      if (!this.#finishedSpoolIds.has(batch.batchId)) {
        const body = await this.#readSpooledBody(batch);
        if (body) await this.#insertOrDrop({ batchId: batch.batchId, rowCount: batch.rowCount, body, format: batch.format });
        this.#finishedSpoolIds.add(batch.batchId);
      }
      entry.state = 'finished';
    } catch {
      // #insert logged the failure, and the batch stays in the spool for the next replay.
      entry.state = 'failed';
      this.#replayFailed = true;
    } finally {
      this.#releaseLane();
      this.#advanceReplay();
    }
  }

  /** Reads a spooled body; a record that fails its CRC is dropped and counted, since no retry can repair it. */
  async #readSpooledBody(spooled: SpooledBatch): Promise<Buffer | undefined> {
    try {
      return await this.#options.spool.readBody(spooled);
    } catch (error) {
      const { table, logger, metrics } = this.#options;
      logger?.error({ err: error, table, batchId: spooled.batchId, rows: spooled.rowCount }, 'spooled batch dropped');
      metrics?.countRowsDropped(table, 'spool_record_corrupt', spooled.rowCount);
      return undefined;
    }
  }

  /**
   * Inserts a batch; when ClickHouse rejects its data, inserts its two halves
   * and drops a half rejected again. Resolves once every row is stored or
   * dropped. Rethrows a transient failure. Inserting the same batch again is
   * then safe because each half keeps its own deduplication token.
   */
  async #insertOrDrop(batch: EncodedBatch): Promise<void> {
    let halves: EncodedBatch[];
    try {
      await this.#insert(batch);
      return;
    } catch (error) {
      const failure = classifyInsertError(error);
      if (!failure.permanent) throw error;
      const split = splitBatch(batch);
      if (!split) {
        this.#dropRejectedBatch(batch, failure, error);
        return;
      }
      halves = split;
    }
    for (const half of halves) {
      // A half dropped before a transient failure of the other half is not inserted or counted again.
      if (this.#droppedHalfIds.has(half.batchId)) continue;
      try {
        await this.#insert(half);
      } catch (error) {
        const failure = classifyInsertError(error);
        if (!failure.permanent) throw error;
        this.#dropRejectedBatch(half, failure, error);
        this.#droppedHalfIds.add(half.batchId);
      }
    }
    for (const half of halves) this.#droppedHalfIds.delete(half.batchId);
  }

  /** Inserts one batch, records the outcome, and rethrows a failure. */
  async #insert(batch: EncodedBatch): Promise<void> {
    const { table, inserter, metrics } = this.#options;
    const startedAt = performance.now();
    try {
      await inserter.insert(table, batch);
    } catch (error) {
      const permanent = classifyInsertError(error).permanent;
      metrics?.observeInsertDuration(table, (performance.now() - startedAt) / 1000, 'error');
      // A rejected batch shows that the store is up, so only other failures mark it down.
      if (permanent) this.#noteStoreSuccess();
      else this.#noteStoreFailure(batch, error, startedAt);
      throw error;
    }
    metrics?.observeInsertDuration(table, (performance.now() - startedAt) / 1000, 'ok');
    metrics?.observeBatchSize(table, batch.rowCount);
    this.#noteStoreSuccess();
  }

  #dropRejectedBatch(batch: EncodedBatch, failure: InsertFailure, error: unknown): void {
    const { table, logger, metrics } = this.#options;
    const reason = failure.clickhouseType ? `rejected_${failure.clickhouseType.toLowerCase()}` : 'rejected';
    metrics?.countRowsDropped(table, reason, batch.rowCount);
    logger?.error(
      {
        err: error,
        table,
        batchId: batch.batchId,
        rows: batch.rowCount,
        clickhouseCode: failure.clickhouseCode,
        clickhouseType: failure.clickhouseType,
      },
      'batch rejected by clickhouse, dropped',
    );
  }

  async #appendToSpool(batch: EncodedBatch): Promise<void> {
    await this.#options.spool.append({ batchId: batch.batchId, rowCount: batch.rowCount, body: batch.body, format: batch.format });
    this.#options.onSpoolChange?.();
    this.#scheduleReplayAfterChange();
  }

  /**
   * Logs the first failure of a run of failures. Later ones only count, until the store is back,
   * and inserts that ran at the same time in other lanes count as one attempt.
   */
  #noteStoreFailure(batch: EncodedBatch, error: unknown, startedAt: number): void {
    if (startedAt >= this.#lastCountedFailureAt) {
      this.#failedAttempts++;
      this.#lastCountedFailureAt = performance.now();
    }
    if (!this.#storeAvailable) return;
    this.#storeAvailable = false;
    const { table, logger } = this.#options;
    logger?.error({ err: error, table, batchId: batch.batchId, rows: batch.rowCount }, 'insert failed, spooling batches');
  }

  #noteStoreSuccess(): void {
    if (!this.#storeAvailable) {
      const { table, logger } = this.#options;
      logger?.info({ table, failedAttempts: this.#failedAttempts }, 'store available again, replaying spool');
    }
    this.#storeAvailable = true;
    this.#failedAttempts = 0;
  }

  #computeRetryDelayMs(): number {
    const exponent = Math.max(0, this.#failedAttempts - 1);
    const base = Math.min(this.#retryMaxMs, this.#retryInitialMs * REPLAY_RETRY_MULTIPLIER ** exponent);
    const jitter = 1 + (Math.random() * 2 - 1) * REPLAY_RETRY_JITTER;
    return Math.round(base * jitter);
  }

  #releaseLane(): void {
    const nextWaiter = this.#laneWaiters.shift();
    if (nextWaiter) {
      nextWaiter();
      return;
    }
    this.#busyLanes--;
    if (this.#busyLanes > 0) return;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
    this.#notifyIfDrained();
  }

  #notifyIfDrained(): void {
    if (!this.#isDrained()) return;
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
  }

  #isDrained(): boolean {
    return this.#busyLanes === 0 && this.#options.spool.pendingBatches === 0;
  }
}

/** A spooled batch the replay took, and how its insert went. */
interface ReplayEntry {
  batch: SpooledBatch;
  state: 'running' | 'finished' | 'failed';
}

/**
 * Splits a batch into two halves with ids derived from its own, or returns
 * undefined for a batch of one row or a body that cannot be cut into rows.
 */
function splitBatch(batch: EncodedBatch): [EncodedBatch, EncodedBatch] | undefined {
  const parts = batch.format === 'RowBinaryWithNamesAndTypes' ? splitRowBinaryBatch(batch.body) : splitJsonBatch(batch.body);
  if (!parts) return undefined;
  return [
    { batchId: `${batch.batchId}.1`, rowCount: parts[0].rowCount, body: parts[0].body, format: batch.format },
    { batchId: `${batch.batchId}.2`, rowCount: parts[1].rowCount, body: parts[1].body, format: batch.format },
  ];
}

interface BatchHalf {
  rowCount: number;
  body: Buffer;
}

/** Splits JSONEachRow lines. A line never contains a raw newline, because JSON escapes it inside strings. */
function splitJsonBatch(body: Buffer): [BatchHalf, BatchHalf] | undefined {
  const lines = body.toString('utf8').split('\n').filter((line) => line.length > 0);
  if (lines.length < 2) return undefined;
  const middle = Math.ceil(lines.length / 2);
  const makeHalf = (part: string[]): BatchHalf => ({ rowCount: part.length, body: Buffer.from(part.join('\n'), 'utf8') });
  return [makeHalf(lines.slice(0, middle)), makeHalf(lines.slice(middle))];
}

/** Splits a RowBinaryWithNamesAndTypes body; each half starts with the same header. */
function splitRowBinaryBatch(body: Buffer): [BatchHalf, BatchHalf] | undefined {
  let parts: RowBinaryRows;
  try {
    parts = splitRowBinaryRows(body);
  } catch {
    // A body that cannot be cut into rows is dropped whole, like a batch of one row.
    return undefined;
  }
  if (parts.rows.length < 2) return undefined;
  const middle = Math.ceil(parts.rows.length / 2);
  const makeHalf = (rows: Buffer[]): BatchHalf => ({ rowCount: rows.length, body: Buffer.concat([parts.header, ...rows]) });
  return [makeHalf(parts.rows.slice(0, middle)), makeHalf(parts.rows.slice(middle))];
}
