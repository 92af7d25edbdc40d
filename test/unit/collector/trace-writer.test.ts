import type { ClickHouseClient } from '@clickhouse/client';
import { describe, expect, it } from 'vitest';
import { CollectorError } from '../../../collector/errors.js';
import { createTraceWriter, MAX_IN_FLIGHT_INSERTS } from '../../../collector/trace-writer.js';
import { mapSpansToRows, type TraceSpans } from '../../../collector/otlp/to-trace-rows.js';

const SPANS: TraceSpans = {
  spanCount: 1,
  request: {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { type: 'string', value: 'odoo' } }] },
        schemaUrl: '',
        scopeSpans: [
          {
            scope: { name: 'test', version: '1', attributes: [] },
            schemaUrl: '',
            spans: [
              {
                traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'),
                spanId: Buffer.from('eee19b7ec3c1b174', 'hex'),
                traceState: '',
                parentSpanId: new Uint8Array(0),
                name: 'release',
                kind: 2,
                startTimeUnixNano: 1_700_000_000_000_000_000n,
                endTimeUnixNano: 1_700_000_000_001_000_000n,
                attributes: [],
                events: [],
                links: [],
                status: { code: 0, message: '' },
              },
            ],
          },
        ],
      },
    ],
  },
};

const NO_SPANS: TraceSpans = { spanCount: 0, request: { resourceSpans: [] } };

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
    await createTraceWriter(client).write(SPANS);
    expect(inserts).toEqual([{ table: 'otel_traces', values: mapSpansToRows(SPANS.request), format: 'JSONEachRow' }]);
  });

  it('skips an empty write', async () => {
    let calls = 0;
    const client = { insert: async () => void calls++ } as unknown as ClickHouseClient;
    await createTraceWriter(client).write(NO_SPANS);
    expect(calls).toBe(0);
  });

  it('rejects writes past the cap', async () => {
    const pending: (() => void)[] = [];
    const client = {
      insert: () => new Promise<void>((release) => pending.push(release)),
    } as unknown as ClickHouseClient;
    const writer = createTraceWriter(client);
    const running = Array.from({ length: MAX_IN_FLIGHT_INSERTS }, () => writer.write(SPANS));

    const error = await captureError(writer.write(SPANS));
    expect(error.code).toBe('COLLECTOR_ERR_WRITER_OVERLOADED');
    expect(error.httpStatus).toBe(429);
    expect(error.retryAfterSeconds).toBe(1);

    for (const release of pending) release();
    await Promise.all(running);
    const afterRelease = writer.write(SPANS);
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

    const error = await captureError(writer.write(SPANS));
    expect(error.code).toBe('COLLECTOR_ERR_STORE_UNAVAILABLE');
    expect(error.httpStatus).toBe(503);
    expect(error.retryAfterSeconds).toBe(7);
    expect(error.message).toBe('insert into otel_traces failed: connect ECONNREFUSED 127.0.0.1:8123: retry after 7 s');

    fail = false;
    await expect(writer.write(SPANS)).resolves.toBeUndefined();
  });
});
