import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createClientBatchInserter,
  openIngest,
  openSpool,
  SPOOL_DIRECTORY_NAME,
  type Ingest,
} from '../../../collector/ingest/index.js';
import { registerOtlpReceiver } from '../../../collector/otlp/index.js';
import { createBatchedTraceWriter } from '../../../collector/trace-writer.js';
import { NOOP_METRICS } from '../../../server/metrics.js';
import { migrate, openClickHouse } from '../../../store/index.js';
import { buildSpanRows, encodeRows } from './span-rows.js';

const NANOS_PER_DAY = 86_400n * 1_000_000_000n;
const storeDir = mkdtempSync(join(tmpdir(), 'syncwatch-rejected-store-'));
let client: ClickHouseClient;
let ingestDir: string;
let ingest: Ingest | undefined;
let app: FastifyInstance | undefined;

beforeAll(async () => {
  client = openClickHouse({ kind: 'embedded', dataDir: storeDir });
  await migrate(client);
});

afterEach(async () => {
  await app?.close();
  app = undefined;
  await ingest?.close();
  ingest = undefined;
  rmSync(ingestDir, { recursive: true, force: true });
});

afterAll(async () => {
  await client?.close();
  rmSync(storeDir, { recursive: true, force: true });
});

async function countRows(query: string): Promise<number> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  const rows = await result.json<{ value: string | number }>();
  return Number(rows[0]?.value);
}

function countSpans(traceId: string): Promise<number> {
  return countRows(`SELECT count() AS value FROM otel_traces WHERE TraceId = '${traceId}'`);
}

/** Opens an ingest on a fresh spool directory that counts dropped rows by reason. */
async function openCountingIngest(): Promise<{ ingest: Ingest; drops: Map<string, number> }> {
  ingestDir = mkdtempSync(join(tmpdir(), 'syncwatch-rejected-ingest-'));
  const drops = new Map<string, number>();
  const metrics = {
    ...NOOP_METRICS,
    countRowsDropped: (_table: string, reason: string, rows: number) => void drops.set(reason, (drops.get(reason) ?? 0) + rows),
  };
  ingest = await openIngest({
    inserter: createClientBatchInserter(client),
    dataDir: ingestDir,
    limits: { flushIntervalMs: 60_000, retryInitialMs: 10, retryMaxMs: 50 },
    metrics,
  });
  return { ingest, drops };
}

/** Builds a span row whose Duration ClickHouse cannot parse as UInt64. */
function buildRejectedRow(): object {
  return { ...buildSpanRows(1)[0]!, Duration: 'not a number' };
}

describe('batches ClickHouse rejects', () => {
  it('stores batches behind a rejected one', async () => {
    const { ingest, drops } = await openCountingIngest();
    const before = buildSpanRows(30);
    const after = buildSpanRows(20);
    const writes = [
      ingest.writeRows('otel_traces', before),
      ingest.writeRows('otel_traces', [buildRejectedRow()]),
      ingest.writeRows('otel_traces', after),
    ];
    await ingest.flush();
    await Promise.all(writes);
    const next = buildSpanRows(5);
    const nextWrite = ingest.writeRows('otel_traces', next);
    await ingest.flush();
    await nextWrite;

    // The 51 rows form one batch; its half without the rejected row is stored, the other half dropped.
    const stored = (await countSpans(before[0]!.TraceId)) + (await countSpans(after[0]!.TraceId));
    const dropped = [...drops.values()].reduce((sum, rows) => sum + rows, 0);
    expect(stored).toBe(26);
    expect(stored + dropped).toBe(51);
    expect([...drops.keys()]).toEqual(['rejected_cannot_parse_input_assertion_failed']);
    expect(await countSpans(next[0]!.TraceId)).toBe(5);
    expect(ingest.spoolBytes).toBe(0);
  });

  it('replays spooled batches behind one', async () => {
    ingestDir = mkdtempSync(join(tmpdir(), 'syncwatch-rejected-ingest-'));
    const spool = await openSpool({ directory: join(ingestDir, SPOOL_DIRECTORY_NAME, 'otel_traces'), table: 'otel_traces' });
    const good = buildSpanRows(10);
    const behind = buildSpanRows(7);
    const rejectedBody = encodeRows([buildRejectedRow(), buildRejectedRow()]);
    await spool.append({ batchId: `rejected-${randomBytes(4).toString('hex')}`, rowCount: 2, body: rejectedBody });
    await spool.append({ batchId: `good-${randomBytes(4).toString('hex')}`, rowCount: 10, body: encodeRows(good) });
    await spool.append({ batchId: `behind-${randomBytes(4).toString('hex')}`, rowCount: 7, body: encodeRows(behind) });
    await spool.close();

    ingest = await openIngest({ inserter: createClientBatchInserter(client), dataDir: ingestDir });
    await ingest.drain();
    expect(ingest.spoolBytes).toBe(0);
    expect(await countSpans(good[0]!.TraceId)).toBe(10);
    expect(await countSpans(behind[0]!.TraceId)).toBe(7);
  });
});

describe('spans over many days', () => {
  it('stores a request spanning 150 days', async () => {
    const { ingest, drops } = await openCountingIngest();
    app = Fastify();
    await registerOtlpReceiver(app, { writer: createBatchedTraceWriter(ingest) });
    const traceId = randomBytes(16).toString('hex');
    const firstDayNanos = 1_700_000_000n * 1_000_000_000n;
    const spans = Array.from({ length: 150 }, (_, day) => {
      const start = firstDayNanos + BigInt(day) * NANOS_PER_DAY;
      return {
        traceId,
        spanId: randomBytes(8).toString('hex'),
        name: 'stock move synced',
        kind: 1,
        startTimeUnixNano: String(start),
        endTimeUnixNano: String(start + 1_000n),
      };
    });
    const payload = JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'wms-sync' } }] },
          scopeSpans: [{ scope: { name: 'backfill' }, spans }],
        },
      ],
    });

    const response = app.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json' }, payload });
    // The batcher waits for its interval; flushing seals the batch now.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await ingest.flush();
    expect((await response).statusCode).toBe(200);

    expect(await countSpans(traceId)).toBe(150);
    expect(await countRows(`SELECT uniqExact(toDate(Timestamp)) AS value FROM otel_traces WHERE TraceId = '${traceId}'`)).toBe(150);
    expect(drops.size).toBe(0);
  });
});
