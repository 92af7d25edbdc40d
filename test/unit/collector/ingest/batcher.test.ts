import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CollectorError } from '../../../../collector/errors.js';
import { createBatcher, type DeliverBatch } from '../../../../collector/ingest/batcher.js';
import type { EncodedBatch } from '../../../../collector/ingest/insert-batch.js';

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

function recordDeliveries(): { batches: EncodedBatch[]; deliver: DeliverBatch } {
  const batches: EncodedBatch[] = [];
  return { batches, deliver: async (batch) => void batches.push(batch) };
}

async function captureError(promise: Promise<unknown>): Promise<CollectorError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CollectorError) return error;
    throw error;
  }
  throw new Error('expected a CollectorError');
}

describe('createBatcher', () => {
  it('seals a batch after the interval', async () => {
    const { batches, deliver } = recordDeliveries();
    const batcher = createBatcher({ table: 'otel_traces', deliver, flushIntervalMs: 1000 });
    const first = batcher.add([{ a: 1 }]);
    const second = batcher.add([{ a: 2 }, { a: 3 }]);

    await vi.advanceTimersByTimeAsync(999);
    expect(batches).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    await Promise.all([first, second]);

    expect(batches).toHaveLength(1);
    expect(batches[0]!.rowCount).toBe(3);
    expect(batches[0]!.body.toString()).toBe('{"a":1}\n{"a":2}\n{"a":3}\n');
    expect(batcher.queuedRows).toBe(0);
  });

  it('joins encoded rows after one header', async () => {
    const { batches, deliver } = recordDeliveries();
    const batcher = createBatcher({ table: 'otel_traces', deliver, flushIntervalMs: 1000 });
    const header = Buffer.from('H');
    const format = 'RowBinaryWithNamesAndTypes' as const;
    const first = batcher.addEncoded({ format, rowCount: 1, header, body: Buffer.from('r1') });
    const second = batcher.addEncoded({ format, rowCount: 2, header, body: Buffer.from('r2r3') });
    expect(batcher.queuedBytes).toBe(6);
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all([first, second]);

    expect(batches).toHaveLength(1);
    expect(batches[0]!.format).toBe(format);
    expect(batches[0]!.rowCount).toBe(3);
    expect(batches[0]!.body.toString()).toBe('Hr1r2r3');
    expect(batcher.queuedBytes).toBe(0);
  });

  it('seals when the format changes', async () => {
    const { batches, deliver } = recordDeliveries();
    const batcher = createBatcher({ table: 'otel_traces', deliver, flushIntervalMs: 1000 });
    const format = 'RowBinaryWithNamesAndTypes' as const;
    const encoded = batcher.addEncoded({ format, rowCount: 1, header: Buffer.from('H'), body: Buffer.from('r1') });
    const json = batcher.add([{ a: 1 }]);
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all([encoded, json]);

    expect(batches.map((batch) => batch.format)).toEqual([format, 'JSONEachRow']);
    expect(batches.map((batch) => batch.body.toString())).toEqual(['Hr1', '{"a":1}\n']);
  });

  it('seals a full batch at once', async () => {
    const { batches, deliver } = recordDeliveries();
    const batcher = createBatcher({ table: 'otel_traces', deliver, maxBatchRows: 3 });
    await batcher.add([{ a: 1 }, { a: 2 }, { a: 3 }]);
    expect(batches.map((batch) => batch.rowCount)).toEqual([3]);
  });

  it('seals at the byte limit', async () => {
    const { batches, deliver } = recordDeliveries();
    const batcher = createBatcher({ table: 'otel_traces', deliver, maxBatchBytes: 20 });
    await batcher.add([{ text: 'a long enough value' }]);
    expect(batches).toHaveLength(1);
  });

  it('keeps one call in one batch', async () => {
    const { batches, deliver } = recordDeliveries();
    const batcher = createBatcher({ table: 'otel_traces', deliver, maxBatchRows: 2 });
    await batcher.add([{ a: 1 }, { a: 2 }, { a: 3 }, { a: 4 }, { a: 5 }]);
    expect(batches.map((batch) => batch.rowCount)).toEqual([5]);
  });

  it('gives every batch its own id', async () => {
    const { batches, deliver } = recordDeliveries();
    const batcher = createBatcher({ table: 'otel_traces', deliver, maxBatchRows: 1 });
    await Promise.all([batcher.add([{ a: 1 }]), batcher.add([{ a: 2 }])]);
    expect(batches).toHaveLength(2);
    expect(batches[0]!.batchId).not.toBe(batches[1]!.batchId);
    expect(batches[0]!.batchId).toMatch(/^[a-z0-9]+-[0-9a-f]{12}-1$/);
  });

  it('rejects rows past the queue limit', async () => {
    const pending: (() => void)[] = [];
    const deliver: DeliverBatch = () => new Promise((resolve) => pending.push(resolve));
    const batcher = createBatcher({ table: 'otel_traces', deliver, maxBatchRows: 2, maxQueuedRows: 3 });
    const accepted = batcher.add([{ a: 1 }, { a: 2 }]);

    const error = await captureError(batcher.add([{ a: 3 }, { a: 4 }]));
    expect(error.code).toBe('COLLECTOR_ERR_INGEST_QUEUE_FULL');
    expect(error.httpStatus).toBe(429);
    expect(error.retryAfterSeconds).toBe(1);
    expect(error.message).toBe(
      'ingest queue for otel_traces holds 2 rows and cannot take 2 more within its limit of 3: retry after 1 s',
    );

    pending[0]!();
    await accepted;
    expect(batcher.queuedRows).toBe(0);
  });

  it('rejects bytes past the queue limit', async () => {
    const pending: (() => void)[] = [];
    const deliver: DeliverBatch = () => new Promise((resolve) => pending.push(resolve));
    // Each row below encodes to 12 bytes: {"a":"xxx"} and a newline.
    const batcher = createBatcher({ table: 'otel_traces', deliver, maxBatchRows: 1, maxQueuedBytes: 30 });
    const accepted = [batcher.add([{ a: 'xxx' }]), batcher.add([{ a: 'yyy' }])];
    expect(batcher.queuedBytes).toBe(24);

    const error = await captureError(batcher.add([{ a: 'zzz' }]));
    expect(error.code).toBe('COLLECTOR_ERR_INGEST_QUEUE_BYTES_FULL');
    expect(error.httpStatus).toBe(429);
    expect(error.retryAfterSeconds).toBe(1);
    expect(error.message).toBe(
      'ingest queue for otel_traces holds 24 bytes and cannot take 12 more within its limit of 30: retry after 1 s',
    );

    for (const resolve of pending) resolve();
    await Promise.all(accepted);
    expect(batcher.queuedBytes).toBe(0);
  });

  it('takes one oversized call when idle', async () => {
    const { batches, deliver } = recordDeliveries();
    const batcher = createBatcher({ table: 'otel_traces', deliver, maxBatchRows: 1, maxQueuedBytes: 4 });
    await batcher.add([{ a: 'xxx' }]);
    expect(batches.map((batch) => batch.rowCount)).toEqual([1]);
    expect(batcher.queuedBytes).toBe(0);
  });

  it('rejects waiters when delivery fails', async () => {
    const failure = new Error('disk gone');
    const batcher = createBatcher({ table: 'otel_traces', deliver: async () => Promise.reject(failure) });
    const written = batcher.add([{ a: 1 }]);
    const flushed = batcher.flush();
    await expect(written).rejects.toBe(failure);
    await flushed;
    expect(batcher.queuedRows).toBe(0);
  });

  it('flushes and rejects rows after close', async () => {
    const { batches, deliver } = recordDeliveries();
    const batcher = createBatcher({ table: 'otel_traces', deliver });
    const written = batcher.add([{ a: 1 }]);
    await batcher.close();
    await written;
    expect(batches).toHaveLength(1);

    const error = await captureError(batcher.add([{ a: 2 }]));
    expect(error.code).toBe('COLLECTOR_ERR_INGEST_CLOSED');
    expect(error.httpStatus).toBe(503);
  });
});
