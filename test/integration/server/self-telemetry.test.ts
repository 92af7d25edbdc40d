import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { registerOtlpReceiver } from '../../../collector/otlp/receiver.js';
import type { OtelTraceRow } from '../../../collector/otlp/to-trace-rows.js';
import { isLoopbackHost, startSelfTelemetry, withSpan, type SelfTelemetry } from '../../../server/telemetry.js';

const logger = pino({ level: 'silent' });

let collector: FastifyInstance | undefined;
let telemetry: SelfTelemetry | undefined;

afterEach(async () => {
  await telemetry?.shutdown();
  telemetry = undefined;
  await collector?.close();
  collector = undefined;
});

/** Starts a second OTLP receiver on loopback that records the rows it gets. */
async function startCollector(): Promise<{ url: string; rows: OtelTraceRow[] }> {
  const rows: OtelTraceRow[] = [];
  collector = Fastify();
  await registerOtlpReceiver(collector, {
    writer: {
      async write(batch) {
        rows.push(...batch);
      },
    },
  });
  const url = await collector.listen({ host: '127.0.0.1', port: 0 });
  return { url, rows };
}

describe('startSelfTelemetry', () => {
  it('exports spans to the endpoint', async () => {
    const target = await startCollector();
    telemetry = startSelfTelemetry({ logger, endpoint: target.url });

    await withSpan('insert otel_traces', { 'db.collection.name': 'otel_traces' }, async () => {
      await withSpan('poll plant-a-broker', {}, async () => {});
    });
    await expect(
      withSpan('failing insert', {}, async () => {
        throw new Error('store down');
      }),
    ).rejects.toThrow('store down');
    await telemetry.shutdown();
    telemetry = undefined;

    const names = target.rows.map((row) => row.SpanName).sort();
    expect(names).toEqual(['failing insert', 'insert otel_traces', 'poll plant-a-broker']);
    expect(target.rows.every((row) => row.ServiceName === 'syncwatch')).toBe(true);
    const parent = target.rows.find((row) => row.SpanName === 'insert otel_traces');
    const child = target.rows.find((row) => row.SpanName === 'poll plant-a-broker');
    expect(child?.ParentSpanId).toBe(parent?.SpanId);
    expect(parent?.SpanAttributes['db.collection.name']).toBe('otel_traces');
    expect(target.rows.find((row) => row.SpanName === 'failing insert')?.StatusCode).toBe('Error');
  });

  it('stays off without an endpoint', () => {
    telemetry = startSelfTelemetry({ logger });

    expect(telemetry.tracesUrl).toBeUndefined();
  });

  it('appends the traces path', async () => {
    const target = await startCollector();
    telemetry = startSelfTelemetry({ logger, endpoint: `${target.url}/` });

    expect(telemetry.tracesUrl).toBe(`${target.url}/v1/traces`);
  });

  it('keeps a full traces URL', async () => {
    const target = await startCollector();
    telemetry = startSelfTelemetry({ logger, endpoint: `${target.url}/v1/traces` });

    expect(telemetry.tracesUrl).toBe(`${target.url}/v1/traces`);
  });

  it('rejects its own receiver', () => {
    telemetry = startSelfTelemetry({
      logger,
      endpoint: 'http://localhost:4318',
      ownOtlpUrl: 'http://127.0.0.1:4318',
    });

    expect(telemetry.tracesUrl).toBeUndefined();
  });

  it('rejects a non-http endpoint', () => {
    telemetry = startSelfTelemetry({ logger, endpoint: 'grpc://127.0.0.1:4317' });

    expect(telemetry.tracesUrl).toBeUndefined();
  });
});

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.1.2.3', 'localhost', 'api.localhost', '::1', '[::1]', '::ffff:127.0.0.1'])(
    'accepts %s',
    (host) => {
      expect(isLoopbackHost(host)).toBe(true);
    },
  );

  it.each(['0.0.0.0', '::', '192.168.1.10', 'syncwatch.plant-a.example', '10.0.0.1'])('rejects %s', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
});
