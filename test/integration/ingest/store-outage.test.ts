import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientBatchInserter, openIngest, type Ingest } from '../../../collector/ingest/index.js';
import { registerOtlpReceiver } from '../../../collector/otlp/index.js';
import { createBatchedTraceWriter } from '../../../collector/trace-writer.js';
import { migrate, openClickHouse } from '../../../store/index.js';
import { AcknowledgingExporter } from './acknowledged-spans.js';

/**
 * How the fault-injecting wrapper treats inserts: `up` passes them on,
 * `down` fails them before they reach chDB (as a refused connection does),
 * and `reply-lost` stores them and then fails (as a timeout after the server
 * committed does), which only the deduplication token keeps from duplicating.
 */
type StoreMode = 'up' | 'down' | 'reply-lost';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-outage-'));
const client = openClickHouse({ kind: 'embedded', dataDir: join(dataDir, 'store') });
const serviceName = `outage-test-${process.pid}`;
let mode: StoreMode = 'up';
const failedInserts: Record<StoreMode, number> = { up: 0, down: 0, 'reply-lost': 0 };
let ingest: Ingest;
let app: FastifyInstance;
let tracesUrl: string;

/** Wraps the embedded client so that `exec`, which the batch inserter uses, fails by `mode`. */
function wrapWithFaults(inner: ClickHouseClient): ClickHouseClient {
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== 'exec' || typeof value !== 'function') {
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async (...args: unknown[]) => {
        const current = mode;
        if (current === 'down') {
          failedInserts.down++;
          throw new Error('connect ECONNREFUSED 127.0.0.1:8123');
        }
        const result = await (value as (...callArgs: unknown[]) => Promise<unknown>).apply(target, args);
        if (current === 'reply-lost') {
          failedInserts['reply-lost']++;
          throw new Error('socket hang up');
        }
        return result;
      };
    },
  });
}

beforeAll(async () => {
  await migrate(client);
  ingest = await openIngest({
    inserter: createClientBatchInserter(wrapWithFaults(client)),
    dataDir,
    limits: { flushIntervalMs: 100, retryInitialMs: 50, retryMaxMs: 200 },
  });
  app = Fastify();
  registerOtlpReceiver(app, { writer: createBatchedTraceWriter(ingest) });
  tracesUrl = `${await app.listen({ host: '127.0.0.1', port: 0 })}/v1/traces`;
});

afterAll(async () => {
  await app?.close();
  await ingest?.close();
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Returns how often each span id of the test's service is stored. */
async function countStoredSpans(): Promise<Map<string, number>> {
  const result = await client.query({
    query: `SELECT SpanId, count() AS copies FROM otel_traces WHERE ServiceName = {service:String} GROUP BY SpanId`,
    query_params: { service: serviceName },
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ SpanId: string; copies: string | number }>();
  return new Map(rows.map((row) => [row.SpanId, Number(row.copies)]));
}

describe('ingest through a fault-injecting client wrapper', () => {
  it('stores acknowledged spans once after an outage', async () => {
    const exporter = new AcknowledgingExporter(new OTLPTraceExporter({ url: tracesUrl, concurrencyLimit: 1_000 }));
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': serviceName }),
      spanProcessors: [
        new BatchSpanProcessor(exporter, { maxExportBatchSize: 100, scheduledDelayMillis: 20, maxQueueSize: 20_000 }),
      ],
    });
    const tracer = provider.getTracer('store-outage-test');
    const phases: [StoreMode, number][] = [
      ['up', 600],
      ['down', 1_200],
      ['reply-lost', 800],
      ['up', 600],
    ];

    for (const [phaseMode, durationMs] of phases) {
      mode = phaseMode;
      const phaseEnd = Date.now() + durationMs;
      while (Date.now() < phaseEnd) {
        for (let index = 0; index < 50; index++) {
          tracer.startSpan('mrp.production release', { attributes: { phase: phaseMode } }).end();
        }
        await sleep(10);
      }
    }
    mode = 'up';
    await provider.forceFlush();
    await provider.shutdown();
    await ingest.drain();

    const stored = await countStoredSpans();
    expect(failedInserts.down).toBeGreaterThan(0);
    expect(failedInserts['reply-lost']).toBeGreaterThan(0);
    expect(exporter.failedExports).toBe(0);
    expect(exporter.acknowledgedSpanIds.size).toBe(exporter.sentSpanIds.size);

    const missing = [...exporter.acknowledgedSpanIds].filter((spanId) => !stored.has(spanId));
    const duplicated = [...stored].filter(([, copies]) => copies > 1);
    expect(missing).toEqual([]);
    expect(duplicated).toEqual([]);
    expect(stored.size).toBe(exporter.acknowledgedSpanIds.size);
  });
});
