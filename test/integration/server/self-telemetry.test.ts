import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { registerOtlpReceiver } from '../../../collector/otlp/receiver.js';
import { mapSpansToRows, type OtelTraceRow } from '../../../collector/otlp/to-trace-rows.js';
import type { LagSource, PollResult } from '../../../collector/sources/index.js';
import { createMetricsRegistry } from '../../../server/metrics.js';
import {
  isLoopbackHost,
  startSelfTelemetry,
  instrumentLagSource,
  traceBatchInserter,
  withSpan,
  type SelfTelemetry,
} from '../../../server/telemetry.js';

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
      async write(spans) {
        rows.push(...mapSpansToRows(spans.request));
      },
    },
  });
  const url = await collector.listen({ host: '127.0.0.1', port: 0 });
  return { url, rows };
}

describe('startSelfTelemetry', () => {
  it('exports spans to the endpoint', async () => {
    const target = await startCollector();
    telemetry = await startSelfTelemetry({ logger, endpoint: target.url });

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

  it('stays off without an endpoint', async () => {
    telemetry = await startSelfTelemetry({ logger });

    expect(telemetry.tracesUrl).toBeUndefined();
  });

  it('appends the traces path', async () => {
    const target = await startCollector();
    telemetry = await startSelfTelemetry({ logger, endpoint: `${target.url}/` });

    expect(telemetry.tracesUrl).toBe(`${target.url}/v1/traces`);
  });

  it('keeps a full traces URL', async () => {
    const target = await startCollector();
    telemetry = await startSelfTelemetry({ logger, endpoint: `${target.url}/v1/traces` });

    expect(telemetry.tracesUrl).toBe(`${target.url}/v1/traces`);
  });

  it('rejects its own receiver', async () => {
    telemetry = await startSelfTelemetry({
      logger,
      endpoint: 'http://localhost:4318',
      ownOtlpUrl: 'http://127.0.0.1:4318',
    });

    expect(telemetry.tracesUrl).toBeUndefined();
  });

  it('rejects a non-http endpoint', async () => {
    telemetry = await startSelfTelemetry({ logger, endpoint: 'grpc://127.0.0.1:4317' });

    expect(telemetry.tracesUrl).toBeUndefined();
  });
});

/** A source with class-private state, to check that the tracing wrapper keeps `this` intact. */
class CountingSource implements LagSource {
  readonly name = 'plant-a-broker';
  readonly kind = 'rabbitmq';
  readonly intervalMs = 60_000;
  #polls = 0;
  #closed = false;

  async poll(now: Date): Promise<PollResult> {
    this.#polls++;
    const base = { observedAt: now, integration: 'odoo-mes', workflow: '', source: this.name, sourceKind: this.kind };
    return {
      samples: [
        { ...base, entity: 'orders', status: 'ok', depth: this.#polls },
        { ...base, entity: 'holds', status: 'source_down' },
      ],
      failures: [],
    };
  }

  get polls(): number {
    return this.#polls;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

describe('traced components', () => {
  it('record inserts and polls as spans', async () => {
    const target = await startCollector();
    telemetry = await startSelfTelemetry({ logger, endpoint: target.url });
    const inserted: string[] = [];
    const inserter = traceBatchInserter({
      async insert(table, batch) {
        inserted.push(`${table}:${batch.batchId}`);
      },
    });
    const source = new CountingSource();
    const metrics = createMetricsRegistry({ includeProcessMetrics: false });
    const traced = instrumentLagSource(source, metrics);

    await inserter.insert('otel_traces', { batchId: 'batch-1', rowCount: 3, body: Buffer.from('{}\n{}\n{}\n') });
    const result = await traced.poll(new Date());
    await traced.close();
    await telemetry.shutdown();
    telemetry = undefined;

    expect(inserted).toEqual(['otel_traces:batch-1']);
    expect(result.samples).toHaveLength(2);
    expect(source.polls).toBe(1);
    expect(source.closed).toBe(true);
    expect(traced.name).toBe('plant-a-broker');
    const insertRow = target.rows.find((row) => row.SpanName === 'INSERT otel_traces');
    expect(insertRow?.SpanKind).toBe('Client');
    expect(insertRow?.SpanAttributes['syncwatch.batch.rows']).toBe('3');
    const pollRow = target.rows.find((row) => row.SpanName === 'poll rabbitmq');
    expect(pollRow?.SpanAttributes['syncwatch.source.name']).toBe('plant-a-broker');
    expect(pollRow?.SpanAttributes['syncwatch.poll.down_samples']).toBe('1');
    expect(await metrics.serialize()).toContain('syncwatch_source_polls_total{source="plant-a-broker",outcome="down"} 1');
  });
});

describe('traced receiver', () => {
  it('records each export as a server span', async () => {
    const target = await startCollector();
    telemetry = await startSelfTelemetry({ logger, endpoint: target.url });
    const traced = Fastify();
    await registerOtlpReceiver(traced, { writer: { write: async () => {} } });
    try {
      await traced.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json' }, payload: '{}' });
      await traced.inject({ method: 'POST', url: '/v1/traces', headers: { 'content-type': 'application/json' }, payload: '{' });
    } finally {
      await traced.close();
    }
    await telemetry.shutdown();
    telemetry = undefined;

    // The collector receiving the export is traced too, so it may add spans of its own.
    const spans = target.rows.filter((row) => row.SpanName === 'POST /v1/traces');
    expect(new Set(spans.map((row) => row.SpanKind))).toEqual(new Set(['Server']));
    const statusCodes = spans.map((row) => row.SpanAttributes['http.response.status_code']);
    expect(statusCodes).toContain('200');
    expect(statusCodes).toContain('400');
    expect(spans.find((row) => row.SpanAttributes['error.type'])?.SpanAttributes['error.type']).toBe('COLLECTOR_ERR_INVALID_JSON');
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
