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
    const releases: (() => void)[] = [];
    const inserted: string[] = [];
    const inserter: BatchInserter = {
      async insert(_table, batch) {
        await new Promise<void>((resolve) => releases.push(resolve));
        inserted.push(batch.batchId);
      },
    };
    delivery = createBatchDelivery({ table: 'otel_traces', inserter, spool });
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
});
