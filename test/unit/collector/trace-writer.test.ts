import type { ClickHouseClient } from '@clickhouse/client';
import { describe, expect, it } from 'vitest';
import { CollectorError } from '../../../collector/errors.js';
import { createTraceWriter, MAX_IN_FLIGHT_INSERTS } from '../../../collector/trace-writer.js';
import type { OtelTraceRow } from '../../../collector/otlp/to-trace-rows.js';

const ROW = { TraceId: '5b8efff798038103d269b633813fc60c' } as OtelTraceRow;

async function captureError(promise: Promise<unknown>): Promise<CollectorError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CollectorError) return error;
    throw error;
  }
  throw new Error('expected a CollectorError');
}

describe('createTraceWriter', () => {
  it('inserts rows as JSONEachRow', async () => {
    const inserts: unknown[] = [];
    const client = { insert: async (params: unknown) => void inserts.push(params) } as unknown as ClickHouseClient;
    await createTraceWriter(client).write([ROW]);
    expect(inserts).toEqual([{ table: 'otel_traces', values: [ROW], format: 'JSONEachRow' }]);
  });

  it('skips an empty write', async () => {
    let calls = 0;
    const client = { insert: async () => void calls++ } as unknown as ClickHouseClient;
    await createTraceWriter(client).write([]);
    expect(calls).toBe(0);
  });

  it('rejects writes past the cap', async () => {
    const pending: (() => void)[] = [];
    const client = {
      insert: () => new Promise<void>((release) => pending.push(release)),
    } as unknown as ClickHouseClient;
    const writer = createTraceWriter(client);
    const running = Array.from({ length: MAX_IN_FLIGHT_INSERTS }, () => writer.write([ROW]));

    const error = await captureError(writer.write([ROW]));
    expect(error.code).toBe('COLLECTOR_ERR_WRITER_OVERLOADED');
    expect(error.httpStatus).toBe(429);
    expect(error.retryAfterSeconds).toBe(1);

    for (const release of pending) release();
    await Promise.all(running);
    const afterRelease = writer.write([ROW]);
    pending.at(-1)?.();
    await expect(afterRelease).resolves.toBeUndefined();
  });

  it('frees a slot after a failure', async () => {
    let fail = true;
    const client = {
      insert: async () => {
        if (fail) throw new Error('connect ECONNREFUSED 127.0.0.1:8123');
      },
    } as unknown as ClickHouseClient;
    const writer = createTraceWriter(client, { maxInFlightInserts: 1, storeUnavailableRetryAfterSeconds: 7 });

    const error = await captureError(writer.write([ROW]));
    expect(error.code).toBe('COLLECTOR_ERR_STORE_UNAVAILABLE');
    expect(error.httpStatus).toBe(503);
    expect(error.retryAfterSeconds).toBe(7);
    expect(error.message).toBe('insert into otel_traces failed: connect ECONNREFUSED 127.0.0.1:8123: retry after 7 s');

    fail = false;
    await expect(writer.write([ROW])).resolves.toBeUndefined();
  });
});
