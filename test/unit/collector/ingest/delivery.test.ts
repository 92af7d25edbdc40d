import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBatchDelivery, type BatchDelivery } from '../../../../collector/ingest/delivery.js';
import type { BatchInserter, EncodedBatch } from '../../../../collector/ingest/insert-batch.js';
import { openSpool, type Spool } from '../../../../collector/ingest/spool.js';
import { NOOP_METRICS } from '../../../../server/metrics.js';

let directory: string;
let spool: Spool;
let delivery: BatchDelivery | undefined;

beforeEach(async () => {
  directory = mkdtempSync(join(tmpdir(), 'syncwatch-delivery-'));
  spool = await openSpool({ directory, table: 'otel_traces' });
});

afterEach(async () => {
  await delivery?.close();
  delivery = undefined;
  await spool.close();
  rmSync(directory, { recursive: true, force: true });
});

/** An inserter that records batch ids and fails while `down` is set. */
function createFakeInserter() {
  const inserted: string[] = [];
  const state = { down: false, attempts: 0 };
  const inserter: BatchInserter = {
    async insert(_table, batch) {
      state.attempts++;
      if (state.down) throw new Error('connect ECONNREFUSED 127.0.0.1:8123');
      inserted.push(batch.batchId);
    },
  };
  return { inserter, inserted, state };
}

/** An inserter whose inserts finish only when the test calls the next function in `releases`. */
function createHeldInserter() {
  const releases: (() => void)[] = [];
  const inserted: string[] = [];
  const inserter: BatchInserter = {
    async insert(_table, batch) {
      await new Promise<void>((resolve) => releases.push(resolve));
      inserted.push(batch.batchId);
    },
  };
  return { inserter, releases, inserted };
}

function makeBatch(index: number): EncodedBatch {
  return { batchId: `batch-${index}`, rowCount: 1, body: Buffer.from(`{"row":${index}}`) };
}

describe('createBatchDelivery', () => {
  it('inserts directly while the store is up', async () => {
    const { inserter, inserted } = createFakeInserter();
    delivery = createBatchDelivery({ table: 'otel_traces', inserter, spool });
    await delivery.deliver(makeBatch(1));
    expect(inserted).toEqual(['batch-1']);
    expect(spool.pendingBatches).toBe(0);
  });

  it('spools while the store is down', async () => {
    const { inserter, inserted, state } = createFakeInserter();
    state.down = true;
    delivery = createBatchDelivery({ table: 'otel_traces', inserter, spool, retryInitialMs: 10, retryMaxMs: 20 });
    await delivery.deliver(makeBatch(1));
    await delivery.deliver(makeBatch(2));
    expect(delivery.storeAvailable).toBe(false);
    expect(spool.pendingBatches).toBe(2);
    expect(inserted).toEqual([]);

    state.down = false;
    await delivery.drain();
    expect(inserted).toEqual(['batch-1', 'batch-2']);
    expect(spool.pendingBatches).toBe(0);
    expect(delivery.storeAvailable).toBe(true);
  });

  it('replays in order before new batches', async () => {
    const { inserter, inserted, state } = createFakeInserter();
    state.down = true;
    delivery = createBatchDelivery({ table: 'otel_traces', inserter, spool, retryInitialMs: 10, retryMaxMs: 20 });
    await delivery.deliver(makeBatch(1));
    state.down = false;
    await delivery.deliver(makeBatch(2));
    await delivery.drain();
    expect(inserted).toEqual(['batch-1', 'batch-2']);
  });

  it('spools while an insert runs', async () => {
    const { inserter, releases, inserted } = createHeldInserter();
    delivery = createBatchDelivery({ table: 'otel_traces', inserter, spool, insertLanes: 1, maxBatchesWaitingForLane: 0 });
    const first = delivery.deliver(makeBatch(1));
    await delivery.deliver(makeBatch(2));
    expect(spool.pendingBatches).toBe(1);

    releases.shift()!();
    await first;
    while (inserted.length < 2) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      releases.shift()?.();
    }
    await delivery.drain();
    expect(inserted).toEqual(['batch-1', 'batch-2']);
  });

  it('inserts beside batches spooled for lack of a lane', async () => {
    const { inserter, releases, inserted } = createHeldInserter();
    delivery = createBatchDelivery({ table: 'otel_traces', inserter, spool, insertLanes: 1, maxBatchesWaitingForLane: 0 });
    const first = delivery.deliver(makeBatch(1));
    await delivery.deliver(makeBatch(2));
    releases.shift()!();
    await first;

    const third = delivery.deliver(makeBatch(3));
    expect(spool.pendingBatches).toBe(1);
    expect(releases).toHaveLength(1);

    while (inserted.length < 3) {
      releases.shift()?.();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    releases.shift()?.();
    await third;
    await delivery.drain();
    expect(inserted).toEqual(['batch-1', 'batch-3', 'batch-2']);
  });

  it('waits for the lane up to the limit', async () => {
    const { inserter, releases, inserted } = createHeldInserter();
    delivery = createBatchDelivery({ table: 'otel_traces', inserter, spool, insertLanes: 1, maxBatchesWaitingForLane: 1 });
    const first = delivery.deliver(makeBatch(1));
    let secondDone = false;
    const second = delivery.deliver(makeBatch(2)).then(() => {
      secondDone = true;
    });
    await delivery.deliver(makeBatch(3));
    expect(spool.pendingBatches).toBe(1);
    expect(secondDone).toBe(false);

    releases.shift()!();
    await first;
    while (inserted.length < 3) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      releases.shift()?.();
    }
    await second;
    await delivery.drain();
    expect(inserted).toEqual(['batch-1', 'batch-2', 'batch-3']);
    expect(spool.pendingBatches).toBe(0);
  });

  it('spools a waiting batch when the store fails', async () => {
    const releases: ((error?: Error) => void)[] = [];
    const inserted: string[] = [];
    const inserter: BatchInserter = {
      async insert(_table, batch) {
        await new Promise<void>((resolve, reject) => releases.push((error) => (error ? reject(error) : resolve())));
        inserted.push(batch.batchId);
      },
    };
    delivery = createBatchDelivery({ table: 'otel_traces', inserter, spool, insertLanes: 1, retryInitialMs: 10, retryMaxMs: 10 });
    const first = delivery.deliver(makeBatch(1));
    const second = delivery.deliver(makeBatch(2));
    releases.shift()!(new Error('connection refused'));
    await Promise.all([first, second]);
    expect(spool.pendingBatches).toBe(2);

    while (inserted.length < 2) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      releases.shift()?.();
    }
    await delivery.drain();
    expect(inserted).toEqual(['batch-1', 'batch-2']);
  });

  describe('with two insert lanes', () => {
    it('inserts two batches at once', async () => {
      const { inserter, releases, inserted } = createHeldInserter();
      delivery = createBatchDelivery({ table: 'otel_traces', inserter, spool, insertLanes: 2, maxBatchesWaitingForLane: 1 });
      const running = [delivery.deliver(makeBatch(1)), delivery.deliver(makeBatch(2))];
      const waiting = delivery.deliver(makeBatch(3));
      await delivery.deliver(makeBatch(4));
      expect(releases).toHaveLength(2);
      expect(spool.pendingBatches).toBe(1);

      releases.shift()!();
      releases.shift()!();
      await Promise.all(running);
      while (inserted.length < 4) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        releases.shift()?.();
      }
      await waiting;
      await delivery.drain();
      expect(inserted).toEqual(['batch-1', 'batch-2', 'batch-3', 'batch-4']);
      expect(spool.pendingBatches).toBe(0);
    });

    it('replays two batches at once', async () => {
      for (const index of [1, 2, 3]) await spool.append(makeBatch(index));
      const attempts: string[] = [];
      let failFirst = true;
      const inserter: BatchInserter = {
        async insert(_table, batch) {
          attempts.push(batch.batchId);
          if (batch.batchId === 'batch-1' && failFirst) {
            failFirst = false;
            throw new Error('connect ECONNREFUSED 127.0.0.1:8123');
          }
        },
      };
      delivery = createBatchDelivery({ table: 'otel_traces', inserter, spool, insertLanes: 2, retryInitialMs: 10, retryMaxMs: 20 });
      await delivery.drain();
      // batch-2 was stored beside the failed batch-1, so the second replay skips it.
      expect(attempts).toEqual(['batch-1', 'batch-2', 'batch-1', 'batch-3']);
      expect(spool.pendingBatches).toBe(0);
    });
  });

  it('keeps the batch id on replay', async () => {
    let failFirst = true;
    const tokens: string[] = [];
    const inserter: BatchInserter = {
      async insert(_table, batch) {
        tokens.push(batch.batchId);
        if (failFirst) {
          failFirst = false;
          throw new Error('timeout after the insert was sent');
        }
      },
    };
    delivery = createBatchDelivery({ table: 'otel_traces', inserter, spool, retryInitialMs: 10 });
    await delivery.deliver(makeBatch(9));
    await delivery.drain();
    expect(tokens).toEqual(['batch-9', 'batch-9']);
  });

  it('replays what the spool held at start', async () => {
    await spool.append(makeBatch(1));
    await spool.append(makeBatch(2));
    const { inserter, inserted } = createFakeInserter();
    delivery = createBatchDelivery({ table: 'otel_traces', inserter, spool });
    await delivery.drain();
    expect(inserted).toEqual(['batch-1', 'batch-2']);
  });

  it('drops an unreadable record', async () => {
    const uncachedSpool = await openSpool({ directory: join(directory, 'uncached'), table: 'otel_traces', cacheMaxBytes: 0 });
    await uncachedSpool.append(makeBatch(1));
    await uncachedSpool.append(makeBatch(2));
    const segment = readdirSync(join(directory, 'uncached')).find((name) => name.endsWith('.spool'))!;
    const path = join(directory, 'uncached', segment);
    const data = readFileSync(path);
    data[data.length / 2 - 2]! ^= 0x01;
    writeFileSync(path, data);

    const dropped: number[] = [];
    const { inserter, inserted } = createFakeInserter();
    const metrics = { ...NOOP_METRICS, countRowsDropped: (_table: string, _reason: string, rows: number) => void dropped.push(rows) };
    const uncachedDelivery = createBatchDelivery({
      table: 'otel_traces',
      inserter,
      spool: uncachedSpool,
      metrics,
    });
    await uncachedDelivery.drain();
    await uncachedDelivery.close();
    expect(inserted).toEqual(['batch-2']);
    expect(dropped).toEqual([1]);
  });

  describe('with a batch ClickHouse rejects', () => {
    /** Creates an inserter that stores rows line by line and rejects any batch with a line containing "bad". */
    function createRejectingInserter() {
      const storedRows: string[] = [];
      const attempts: string[] = [];
      const state = { down: false };
      const inserter: BatchInserter = {
        async insert(_table, batch) {
          attempts.push(batch.batchId);
          if (state.down) throw new Error('connect ECONNREFUSED 127.0.0.1:8123');
          const lines = batch.body.toString('utf8').split('\n');
          if (lines.some((line) => line.includes('bad'))) {
            throw Object.assign(new Error('Cannot parse input: expected \'"\' before: \'bad\''), {
              code: '27',
              type: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
            });
          }
          storedRows.push(...lines);
        },
      };
      return { inserter, storedRows, attempts, state };
    }

    function makeRowsBatch(batchId: string, rows: string[]): EncodedBatch {
      return { batchId, rowCount: rows.length, body: Buffer.from(rows.join('\n')) };
    }

    function collectDrops() {
      const drops: { reason: string; rows: number }[] = [];
      const metrics = { ...NOOP_METRICS, countRowsDropped: (_table: string, reason: string, rows: number) => void drops.push({ reason, rows }) };
      return { drops, metrics };
    }

    it('drops only the rejected half', async () => {
      const { inserter, storedRows, attempts } = createRejectingInserter();
      const { drops, metrics } = collectDrops();
      delivery = createBatchDelivery({ table: 'otel_traces', inserter, spool, metrics });
      await delivery.deliver(makeRowsBatch('b-1', ['{"r":1}', '{"r":2}', '{"r":"bad"}', '{"r":4}']));
      await delivery.deliver(makeRowsBatch('b-2', ['{"r":5}']));
      expect(storedRows).toEqual(['{"r":1}', '{"r":2}', '{"r":5}']);
      expect(attempts).toEqual(['b-1', 'b-1.1', 'b-1.2', 'b-2']);
      expect(drops).toEqual([{ reason: 'rejected_cannot_parse_input_assertion_failed', rows: 2 }]);
      expect(spool.pendingBatches).toBe(0);
      expect(delivery.storeAvailable).toBe(true);
    });

    it('drops a rejected single row', async () => {
      const { inserter, storedRows, attempts } = createRejectingInserter();
      const { drops, metrics } = collectDrops();
      delivery = createBatchDelivery({ table: 'otel_traces', inserter, spool, metrics });
      await delivery.deliver(makeRowsBatch('b-1', ['{"r":"bad"}']));
      await delivery.deliver(makeRowsBatch('b-2', ['{"r":2}']));
      expect(attempts).toEqual(['b-1', 'b-2']);
      expect(storedRows).toEqual(['{"r":2}']);
      expect(drops).toEqual([{ reason: 'rejected_cannot_parse_input_assertion_failed', rows: 1 }]);
    });

    it('replays batches behind a rejected one', async () => {
      const { inserter, storedRows, state } = createRejectingInserter();
      const { drops, metrics } = collectDrops();
      state.down = true;
      delivery = createBatchDelivery({ table: 'otel_traces', inserter, spool, metrics, retryInitialMs: 10, retryMaxMs: 20 });
      await delivery.deliver(makeRowsBatch('b-1', ['{"r":"bad"}', '{"r":"bad too"}']));
      await delivery.deliver(makeRowsBatch('b-2', ['{"r":3}']));
      expect(spool.pendingBatches).toBe(2);

      state.down = false;
      await delivery.drain();
      expect(storedRows).toEqual(['{"r":3}']);
      expect(drops.reduce((sum, drop) => sum + drop.rows, 0)).toBe(2);
      expect(spool.pendingBatches).toBe(0);
    });

    it('counts a rejected batch once', async () => {
      await spool.append(makeRowsBatch('b-1', ['{"r":1}']));
      await spool.append(makeRowsBatch('b-2', ['{"r":"bad"}']));
      const { inserter, storedRows, attempts } = createRejectingInserter();
      const { drops, metrics } = collectDrops();
      let failFirst = true;
      const failingInserter: BatchInserter = {
        async insert(table, batch) {
          if (batch.batchId === 'b-1' && failFirst) {
            failFirst = false;
            attempts.push(batch.batchId);
            throw new Error('read ECONNRESET');
          }
          await inserter.insert(table, batch);
        },
      };
      delivery = createBatchDelivery({ table: 'otel_traces', inserter: failingInserter, spool, metrics, insertLanes: 2, retryInitialMs: 10 });
      await delivery.drain();
      expect(storedRows).toEqual(['{"r":1}']);
      expect(attempts).toEqual(['b-1', 'b-2', 'b-1']);
      expect(drops).toEqual([{ reason: 'rejected_cannot_parse_input_assertion_failed', rows: 1 }]);
      expect(spool.pendingBatches).toBe(0);
    });

    it('keeps a batch whose half fails transiently', async () => {
      const { inserter, storedRows, attempts } = createRejectingInserter();
      const { drops, metrics } = collectDrops();
      const failingInserter: BatchInserter = {
        async insert(table, batch) {
          if (batch.batchId === 'b-1.2' && attempts.filter((id) => id === 'b-1.2').length === 0) {
            attempts.push(batch.batchId);
            throw new Error('read ECONNRESET');
          }
          await inserter.insert(table, batch);
        },
      };
      delivery = createBatchDelivery({ table: 'otel_traces', inserter: failingInserter, spool, metrics, retryInitialMs: 10, retryMaxMs: 20 });
      await delivery.deliver(makeRowsBatch('b-1', ['{"r":"bad"}', '{"r":2}']));
      expect(spool.pendingBatches).toBe(1);

      await delivery.drain();
      expect(storedRows).toEqual(['{"r":2}']);
      expect(attempts).toEqual(['b-1', 'b-1.1', 'b-1.2', 'b-1', 'b-1.2']);
      expect(drops).toEqual([{ reason: 'rejected_cannot_parse_input_assertion_failed', rows: 1 }]);
    });
  });
});
