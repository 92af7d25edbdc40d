import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CollectorError } from '../../../../collector/errors.js';
import { encodeSpoolRecord } from '../../../../collector/ingest/spool-record.js';
import { openSpool, type OpenSpoolFile, type Spool, type SpoolOptions } from '../../../../collector/ingest/spool.js';

let directory: string;
const opened: Spool[] = [];

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'syncwatch-spool-'));
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((spool) => spool.close()));
  rmSync(directory, { recursive: true, force: true });
});

async function openTestSpool(options: Partial<SpoolOptions> = {}): Promise<Spool> {
  const spool = await openSpool({ directory, table: 'otel_traces', ...options });
  opened.push(spool);
  return spool;
}

function makeRecord(index: number, rowCount = 1) {
  return { batchId: `batch-${index}`, rowCount, body: Buffer.from(`{"row":${index}}`) };
}

function listSegments(): string[] {
  return readdirSync(directory).filter((name) => name.endsWith('.spool')).sort();
}

/** Returns the non-empty segment files, which hold the records written so far. */
function listWrittenSegments(): string[] {
  return listSegments().filter((name) => statSync(join(directory, name)).size > 0);
}

async function readPendingIds(spool: Spool): Promise<string[]> {
  const ids: string[] = [];
  while (spool.peek()) {
    ids.push(spool.peek()!.batchId);
    await spool.removeOldest();
  }
  return ids;
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

/** Wraps `open` so that handles opened for appends run `override` before their own method. */
function wrapHandles(override: (method: 'writev' | 'datasync', handle: FileHandle) => void): OpenSpoolFile {
  return async (path, flags) => {
    const handle = await open(path, flags);
    return new Proxy(handle, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if ((property === 'writev' || property === 'datasync') && typeof value === 'function') {
          return (...args: unknown[]) => {
            override(property, target);
            return (value as (...callArgs: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };
}

describe('openSpool', () => {
  it('keeps records across a reopen', async () => {
    const spool = await openTestSpool();
    await spool.append(makeRecord(1, 3));
    await spool.append(makeRecord(2, 4));
    await spool.close();

    const reopened = await openTestSpool({ cacheMaxBytes: 0 });
    expect(reopened.pendingBatches).toBe(2);
    const oldest = reopened.peek()!;
    expect(oldest.batchId).toBe('batch-1');
    expect(oldest.rowCount).toBe(3);
    expect((await reopened.readBody(oldest)).toString()).toBe('{"row":1}');
  });

  it('syncs once per group of appends', async () => {
    let syncs = 0;
    const spool = await openTestSpool({ openFile: wrapHandles((method) => void (method === 'datasync' && syncs++)) });
    await Promise.all([1, 2, 3, 4, 5].map((index) => spool.append(makeRecord(index))));
    expect(syncs).toBe(1);
    expect(spool.pendingBatches).toBe(5);
  });

  it('truncates a torn last record', async () => {
    const spool = await openTestSpool();
    await spool.append(makeRecord(1));
    await spool.append(makeRecord(2));
    await spool.close();
    const [segment] = listWrittenSegments();
    const path = join(directory, segment!);
    const validBytes = statSync(path).size;
    const torn = Buffer.concat(encodeSpoolRecord(makeRecord(3)));
    appendFileSync(path, torn.subarray(0, torn.length - 4));

    const reopened = await openTestSpool();
    expect(reopened.pendingBatches).toBe(2);
    expect(reopened.openReport.discardedBytes).toBe(torn.length - 4);
    expect(statSync(path).size).toBe(validBytes);
    await reopened.append(makeRecord(4));
    await reopened.close();

    const third = await openTestSpool();
    expect(await readPendingIds(third)).toEqual(['batch-1', 'batch-2', 'batch-4']);
  });

  it('skips a corrupt record between good ones', async () => {
    const spool = await openTestSpool();
    for (const index of [1, 2, 3]) await spool.append(makeRecord(index, 5));
    await spool.close();
    const path = join(directory, listWrittenSegments()[0]!);
    const data = readFileSync(path);
    const recordBytes = data.length / 3;
    data[recordBytes + recordBytes - 2]! ^= 0x20;
    writeFileSync(path, data);

    const reopened = await openTestSpool();
    expect(reopened.openReport).toEqual({ discardedBytes: recordBytes, discardedRows: 5 });
    expect(await readPendingIds(reopened)).toEqual(['batch-1', 'batch-3']);
  });

  it('truncates at an unframeable record', async () => {
    const spool = await openTestSpool();
    for (const index of [1, 2, 3]) await spool.append(makeRecord(index));
    await spool.close();
    const path = join(directory, listWrittenSegments()[0]!);
    const data = readFileSync(path);
    const recordBytes = data.length / 3;
    data.writeUInt32LE(3, recordBytes);
    writeFileSync(path, data);

    const reopened = await openTestSpool();
    expect(reopened.openReport.discardedBytes).toBe(2 * recordBytes);
    expect(statSync(path).size).toBe(recordBytes);
    expect(await readPendingIds(reopened)).toEqual(['batch-1']);
  });

  it('rejects appends past the limit', async () => {
    const recordBytes = Buffer.concat(encodeSpoolRecord(makeRecord(1))).length;
    const spool = await openTestSpool({ maxBytes: recordBytes * 2 });
    await spool.append(makeRecord(1));
    await spool.append(makeRecord(2));

    const error = await captureError(spool.append(makeRecord(3)));
    expect(error.code).toBe('COLLECTOR_ERR_SPOOL_FULL');
    expect(error.httpStatus).toBe(429);
    expect(error.retryAfterSeconds).toBe(5);
    expect(spool.pendingBatches).toBe(2);

    await spool.removeOldest();
    await expect(spool.append(makeRecord(3))).resolves.toBeUndefined();
  });

  it('rejects a failed write and recovers', async () => {
    let failNextWrite = true;
    const openFile = wrapHandles((method) => {
      if (method === 'writev' && failNextWrite) {
        failNextWrite = false;
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
    });
    const spool = await openTestSpool({ openFile });

    const error = await captureError(spool.append(makeRecord(1)));
    expect(error.code).toBe('COLLECTOR_ERR_SPOOL_WRITE_FAILED');
    expect(error.httpStatus).toBe(503);
    expect(error.retryAfterSeconds).toBe(10);
    expect(error.message).toMatch(/^writing 1 rows for otel_traces to the disk spool failed: ENOSPC/);

    await spool.append(makeRecord(2));
    await spool.close();
    const reopened = await openTestSpool();
    expect(await readPendingIds(reopened)).toEqual(['batch-2']);
  });

  it('completes a short write', async () => {
    const openFile: OpenSpoolFile = async (path, flags) => {
      const handle = await open(path, flags);
      return new Proxy(handle, {
        get(target, property, receiver) {
          if (property === 'writev') {
            // Writes only the first buffer, as a writev past the buffer limit would.
            return (buffers: Buffer[], position: number) => target.writev(buffers.slice(0, 1), position);
          }
          const value = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    };
    const spool = await openTestSpool({ openFile });
    await Promise.all([spool.append(makeRecord(1, 2)), spool.append(makeRecord(2, 3))]);
    await spool.close();

    const reopened = await openTestSpool({ cacheMaxBytes: 0 });
    expect(reopened.openReport.discardedBytes).toBe(0);
    expect((await reopened.readBody(reopened.peek()!)).toString()).toBe('{"row":1}');
    expect(await readPendingIds(reopened)).toEqual(['batch-1', 'batch-2']);
  });

  it('deletes replayed segments', async () => {
    const spool = await openTestSpool({ segmentMaxBytes: 1 });
    for (const index of [1, 2, 3]) await spool.append(makeRecord(index));
    expect(listWrittenSegments()).toHaveLength(3);

    await spool.removeOldest();
    await spool.removeOldest();
    expect(listWrittenSegments()).toHaveLength(1);
    await spool.close();

    const reopened = await openTestSpool();
    expect(await readPendingIds(reopened)).toEqual(['batch-3']);
  });

  it('resumes after the checkpoint', async () => {
    const spool = await openTestSpool();
    for (const index of [1, 2, 3]) await spool.append(makeRecord(index));
    await spool.removeOldest();
    await spool.close();

    const reopened = await openTestSpool();
    expect(reopened.pendingBatches).toBe(2);
    expect(reopened.peek()?.batchId).toBe('batch-2');
  });

  it('reads uncached bodies from disk', async () => {
    const spool = await openTestSpool({ cacheMaxBytes: 0 });
    await spool.append(makeRecord(7));
    expect((await spool.readBody(spool.peek()!)).toString()).toBe('{"row":7}');
  });

  it('rejects appends after close', async () => {
    const spool = await openTestSpool();
    await spool.close();
    const error = await captureError(spool.append(makeRecord(1)));
    expect(error.code).toBe('COLLECTOR_ERR_SPOOL_WRITE_FAILED');
  });
});
