import { randomBytes } from 'node:crypto';
import { connect as connectTcp } from 'node:net';
import amqp from 'amqplib';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPrometheusSource,
  type LagSample,
  type LagSource,
  type PrometheusSourceConfigInput,
} from '../../../collector/sources/index.js';

const RABBITMQ_PROMETHEUS_URL = 'http://127.0.0.1:15692/metrics/per-object';
const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

/** Exposition text and status the local exporter serves, set by each test. */
const exporter = { body: '', status: 200 };
let server: FastifyInstance;
let baseUrl: string;
const openSources: LagSource[] = [];

beforeAll(async () => {
  server = Fastify();
  server.get('/metrics', async (_request, reply) => {
    await reply.code(exporter.status).type('text/plain; version=0.0.4; charset=utf-8').send(exporter.body);
  });
  baseUrl = await server.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await Promise.allSettled(openSources.map((source) => source.close()));
  await server.close();
});

function openSource(overrides: Partial<PrometheusSourceConfigInput> = {}): LagSource {
  const source = createPrometheusSource({
    kind: 'prometheus',
    name: `exporter-${openSources.length + 1}`,
    integration: 'mes',
    workflow: 'material_consumption',
    url: `${baseUrl}/metrics`,
    ...overrides,
  } as PrometheusSourceConfigInput);
  openSources.push(source);
  return source;
}

function serve(lines: string[], status = 200): void {
  exporter.body = `${lines.join('\n')}\n`;
  exporter.status = status;
}

function findSample(samples: LagSample[], entity: string): LagSample {
  const sample = samples.find((candidate) => candidate.entity === entity);
  if (!sample) throw new Error(`no sample for entity "${entity}" among ${samples.map((s) => s.entity).join(', ')}`);
  return sample;
}

/** RabbitMQ per-object output for two queues, in the plugin's format. */
function rabbitmqLines(orders: { ready: number; unacked: number; consumers: number; head: string; published: number }): string[] {
  return [
    '# TYPE rabbitmq_queue_messages_ready gauge',
    '# HELP rabbitmq_queue_messages_ready Messages ready to be delivered to consumers',
    `rabbitmq_queue_messages_ready{vhost="/",queue="mes.orders"} ${orders.ready}`,
    'rabbitmq_queue_messages_ready{vhost="/",queue="wms.moves"} 0',
    '# TYPE rabbitmq_queue_messages_unacked gauge',
    `rabbitmq_queue_messages_unacked{vhost="/",queue="mes.orders"} ${orders.unacked}`,
    'rabbitmq_queue_messages_unacked{vhost="/",queue="wms.moves"} 0',
    '# TYPE rabbitmq_queue_consumers gauge',
    `rabbitmq_queue_consumers{vhost="/",queue="mes.orders"} ${orders.consumers}`,
    'rabbitmq_queue_consumers{vhost="/",queue="wms.moves"} 2',
    '# TYPE rabbitmq_queue_head_message_timestamp gauge',
    `rabbitmq_queue_head_message_timestamp{vhost="/",queue="mes.orders"} ${orders.head}`,
    'rabbitmq_queue_head_message_timestamp{vhost="/",queue="wms.moves"} NaN',
    '# TYPE rabbitmq_queue_messages_published_total counter',
    `rabbitmq_queue_messages_published_total{vhost="/",queue="mes.orders"} ${orders.published}`,
  ];
}

describe('prometheus source', () => {
  it('maps the RabbitMQ preset per queue', async () => {
    const nowMs = Date.UTC(2026, 0, 5, 6, 0, 0);
    serve(rabbitmqLines({ ready: 12, unacked: 3, consumers: 0, head: String(nowMs / 1000 - 90), published: 100 }));
    const source = openSource({ preset: 'rabbitmq' });

    const first = await source.poll(new Date(nowMs));

    expect(first.samples.map((sample) => sample.entity).sort()).toEqual(['mes.orders', 'wms.moves']);
    const orders = findSample(first.samples, 'mes.orders');
    expect(orders.status).toBe('ok');
    expect(orders.depth).toBe(12);
    expect(orders.inFlight).toBe(3);
    expect(orders.consumers).toBe(0);
    expect(orders.lagSeconds).toBe(90);
    expect(orders.lagEstimated).toBe(false);
    expect(orders.inflowPerSecond).toBeUndefined();
    expect(orders.attributes?.queue).toBe('mes.orders');
    expect(orders.attributes?.no_consumers).toBe('true');
    expect(orders.conditions).toEqual(['no_consumers']);
    expect(orders.workflow).toBe('material_consumption');
    const moves = findSample(first.samples, 'wms.moves');
    expect(moves.depth).toBe(0);
    expect(moves.lagSeconds).toBe(0);
    expect(moves.consumers).toBe(2);

    serve(rabbitmqLines({ ready: 12, unacked: 3, consumers: 0, head: String(nowMs / 1000 - 90), published: 160 }));
    const second = await source.poll(new Date(nowMs + 30_000));

    expect(findSample(second.samples, 'mes.orders').inflowPerSecond).toBeCloseTo(2);
  });

  it('sums Kafka lag per group and topic', async () => {
    const offsets = (base: number) => [
      '# TYPE kafka_consumergroup_current_offset gauge',
      `kafka_consumergroup_current_offset{consumergroup="odoo-sync",partition="0",topic="stock.moves"} ${base}`,
      `kafka_consumergroup_current_offset{consumergroup="odoo-sync",partition="1",topic="stock.moves"} ${base + 10}`,
    ];
    const lag = [
      '# HELP kafka_consumergroup_lag Current Approximate Lag of a ConsumerGroup at Topic/Partition',
      '# TYPE kafka_consumergroup_lag gauge',
      'kafka_consumergroup_lag{consumergroup="odoo-sync",partition="0",topic="stock.moves"} 40',
      'kafka_consumergroup_lag{consumergroup="odoo-sync",partition="1",topic="stock.moves"} 2',
      'kafka_consumergroup_lag{consumergroup="odoo-sync",partition="0",topic="shipments"} 0',
      'kafka_consumergroup_lag{consumergroup="edi-relay",partition="0",topic="shipments"} 7',
      '# TYPE kafka_consumergroup_lag_seconds gauge',
      'kafka_consumergroup_lag_seconds{consumergroup="edi-relay",partition="0",topic="shipments"} 12.5',
    ];
    serve([...lag, ...offsets(1_000)]);
    const source = openSource({ preset: 'kafka_exporter' });
    const startMs = Date.now();
    const first = await source.poll(new Date(startMs));

    const moves = findSample(first.samples, 'odoo-sync/stock.moves');
    expect(moves.depth).toBe(42);
    expect(moves.outflowPerSecond).toBeUndefined();
    expect(moves.attributes).toMatchObject({ consumergroup: 'odoo-sync', topic: 'stock.moves' });
    const relay = findSample(first.samples, 'edi-relay/shipments');
    expect(relay.depth).toBe(7);
    expect(relay.lagSeconds).toBe(12.5);
    expect(relay.lagEstimated).toBe(false);
    expect(findSample(first.samples, 'odoo-sync/shipments').lagSeconds).toBe(0);

    serve([...lag, ...offsets(1_050)]);
    const second = await source.poll(new Date(startMs + 10_000));

    const drained = findSample(second.samples, 'odoo-sync/stock.moves');
    expect(drained.outflowPerSecond).toBeCloseTo(10);
    expect(drained.lagSeconds).toBeCloseTo(4.2);
    expect(drained.lagEstimated).toBe(true);
  });

  it('computes counter rates across resets', async () => {
    const mappings = [{ metric: 'edi_messages_sent_total', entityLabels: ['partner'], field: 'outflowPerSecond' as const }];
    const source = openSource({ mappings });
    const startMs = Date.now();
    const counter = (value: number) => ['# TYPE edi_messages_sent_total counter', `edi_messages_sent_total{partner="acme"} ${value}`];

    serve(counter(500));
    const first = await source.poll(new Date(startMs));
    serve(counter(800));
    const second = await source.poll(new Date(startMs + 60_000));
    serve(counter(30));
    const afterRestart = await source.poll(new Date(startMs + 120_000));

    expect(findSample(first.samples, 'acme').outflowPerSecond).toBeUndefined();
    expect(findSample(second.samples, 'acme').outflowPerSecond).toBeCloseTo(5);
    expect(findSample(afterRestart.samples, 'acme').outflowPerSecond).toBeCloseTo(0.5);
  });

  it('scales values and filters labels', async () => {
    serve([
      'wms_oldest_pick_age_ms{site="hamburg",dock="1"} 4000',
      'wms_oldest_pick_age_ms{site="hamburg",dock="2"} 9000',
      'wms_oldest_pick_age_ms{site="bremen",dock="1"} 60000',
    ]);
    const source = openSource({
      mappings: [{ metric: 'wms_oldest_pick_age_ms', entityLabels: ['site'], field: 'lagSeconds', scale: 0.001 }],
      match: { site: 'hamburg' },
    });

    const { samples } = await source.poll(new Date());

    expect(samples).toHaveLength(1);
    expect(samples[0]?.entity).toBe('hamburg');
    expect(samples[0]?.lagSeconds).toBe(9);
  });

  it('clamps a head stamped ahead', async () => {
    const nowMs = Date.now();
    serve(rabbitmqLines({ ready: 1, unacked: 0, consumers: 1, head: String(nowMs / 1000 + 300), published: 1 }));
    const source = openSource({ preset: 'rabbitmq' });

    const { samples } = await source.poll(new Date(nowMs));

    const orders = findSample(samples, 'mes.orders');
    expect(orders.lagSeconds).toBe(0);
    expect(orders.attributes?.clock_ahead).toBe('true');
    expect(orders.conditions).toEqual(['clock_skew']);
  });

  it('reports a disappeared series as down', async () => {
    const nowMs = Date.now();
    serve(rabbitmqLines({ ready: 5, unacked: 0, consumers: 1, head: 'NaN', published: 1 }));
    const source = openSource({ preset: 'rabbitmq' });
    await source.poll(new Date(nowMs));

    serve([
      '# TYPE rabbitmq_queue_messages_ready gauge',
      'rabbitmq_queue_messages_ready{vhost="/",queue="wms.moves"} 0',
    ]);
    const { samples } = await source.poll(new Date(nowMs + 15_000));

    expect(findSample(samples, 'wms.moves').status).toBe('ok');
    const orders = findSample(samples, 'mes.orders');
    expect(orders.status).toBe('source_down');
    expect(orders.detail).toContain('series disappeared');
    expect(orders.conditions).toEqual(['series_disappeared']);
    expect(orders.depth).toBeUndefined();
    expect(orders.lagSeconds).toBeUndefined();
    expect(orders.attributes?.queue).toBe('mes.orders');
  });

  it('forgets a series after the retention', async () => {
    const nowMs = Date.now();
    serve(['depth{queue="a"} 1', 'depth{queue="b"} 1']);
    const source = openSource({
      mappings: [{ metric: 'depth', entityLabels: ['queue'], field: 'depth' }],
      disappearedRetentionMs: 60_000,
    });
    await source.poll(new Date(nowMs));
    serve(['depth{queue="a"} 1']);

    const within = await source.poll(new Date(nowMs + 30_000));
    const after = await source.poll(new Date(nowMs + 61_000));

    expect(within.samples.map((sample) => sample.entity).sort()).toEqual(['a', 'b']);
    expect(after.samples.map((sample) => sample.entity)).toEqual(['a']);
  });

  it('reports aggregated RabbitMQ output as down', async () => {
    serve(['# TYPE rabbitmq_queue_messages_ready gauge', 'rabbitmq_queue_messages_ready 17']);
    const source = openSource({ preset: 'rabbitmq' });

    const { samples } = await source.poll(new Date());

    expect(samples).toHaveLength(1);
    expect(samples[0]?.entity).toBe('*');
    expect(samples[0]?.status).toBe('source_down');
    expect(samples[0]?.depth).toBeUndefined();
    expect(samples[0]?.detail).toContain('rabbitmq_queue_messages_ready: queue');
  });

  it('reports missing metrics as down', async () => {
    serve(['# TYPE process_cpu_seconds_total counter', 'process_cpu_seconds_total 12']);
    const source = openSource({ preset: 'kafka_exporter' });

    const { samples } = await source.poll(new Date());

    expect(samples[0]?.status).toBe('source_down');
    expect(samples[0]?.detail).toContain('none of the mapped metrics');
  });

  it('reports NaN values as unknown', async () => {
    serve(['lag_seconds{group="g"} NaN']);
    const source = openSource({ mappings: [{ metric: 'lag_seconds', entityLabels: ['group'], field: 'lagSeconds' }] });

    const { samples } = await source.poll(new Date());

    expect(samples[0]?.status).toBe('ok');
    expect(samples[0]?.lagSeconds).toBeUndefined();
    expect(samples[0]?.depth).toBeUndefined();
    expect(samples[0]?.detail).toBeDefined();
  });

  it('reports HTTP errors as down', async () => {
    serve(['depth{queue="a"} 1']);
    const source = openSource({ mappings: [{ metric: 'depth', entityLabels: ['queue'], field: 'depth' }] });
    await source.poll(new Date());
    serve(['upstream failed'], 503);

    const { samples } = await source.poll(new Date());

    expect(samples).toHaveLength(1);
    expect(samples[0]?.entity).toBe('a');
    expect(samples[0]?.status).toBe('source_down');
    expect(samples[0]?.depth).toBeUndefined();
    expect(samples[0]?.detail).toContain('HTTP 503');
  });

  it('reports invalid exposition as down', async () => {
    serve(['depth{queue="a} 1']);
    const source = openSource({ mappings: [{ metric: 'depth', entityLabels: ['queue'], field: 'depth' }] });

    const { samples } = await source.poll(new Date());

    expect(samples[0]?.status).toBe('source_down');
    expect(samples[0]?.detail).toContain('invalid exposition');
    expect(samples[0]?.detail).toContain('line 1');
  });

  it('reports an unreachable endpoint as down', async () => {
    const source = openSource({ url: 'http://127.0.0.1:1/metrics', preset: 'rabbitmq', timeoutMs: 2_000 });

    const { samples } = await source.poll(new Date());

    expect(samples[0]?.status).toBe('source_down');
    expect(samples[0]?.detail).toContain('cannot scrape');
  });

  it('times out a slow endpoint', async () => {
    const slow = Fastify();
    slow.get('/metrics', async () => {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      return 'depth{queue="a"} 1\n';
    });
    const url = await slow.listen({ host: '127.0.0.1', port: 0 });
    try {
      const source = openSource({
        url: `${url}/metrics`,
        timeoutMs: 200,
        mappings: [{ metric: 'depth', entityLabels: ['queue'], field: 'depth' }],
      });

      const { samples } = await source.poll(new Date());

      expect(samples[0]?.status).toBe('source_down');
      expect(samples[0]?.detail).toMatch(/timeout|aborted/i);
    } finally {
      await slow.close();
    }
  });
});

/** Resolves true when something accepts TCP connections on the port of 127.0.0.1. */
function isPortOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// The rabbitmq_prometheus plugin listens on 15692 once `rabbitmq-plugins enable rabbitmq_prometheus` has run.
const pluginEnabled = await isPortOpen(15692);

describe.skipIf(!pluginEnabled)('prometheus source on the RabbitMQ plugin', () => {
  it('reads a real queue per object', async () => {
    const queue = `sw.prometheus.${randomBytes(4).toString('hex')}`;
    const connection = await amqp.connect(AMQP_URL);
    const channel = await connection.createChannel();
    try {
      await channel.assertQueue(queue, { durable: false, autoDelete: false });
      for (let index = 0; index < 3; index += 1) {
        channel.sendToQueue(queue, Buffer.from('release order'), { timestamp: Math.floor(Date.now() / 1000) - 60 });
      }
      const source = openSource({ url: RABBITMQ_PROMETHEUS_URL, preset: 'rabbitmq', timeoutMs: 5_000 });

      // The broker refreshes queue statistics every few seconds, so the poll is repeated until they arrive.
      let sample: LagSample | undefined;
      for (let attempt = 0; attempt < 30 && sample?.depth !== 3; attempt += 1) {
        const { samples } = await source.poll(new Date());
        sample = samples.find((candidate) => candidate.entity === queue);
        if (sample?.depth !== 3) await new Promise((resolve) => setTimeout(resolve, 500));
      }

      expect(sample?.status).toBe('ok');
      expect(sample?.depth).toBe(3);
      expect(sample?.consumers).toBe(0);
      expect(sample?.attributes?.no_consumers).toBe('true');
      expect(sample?.lagSeconds).toBeGreaterThanOrEqual(59);
      expect(sample?.lagEstimated).toBe(false);
    } finally {
      await channel.deleteQueue(queue);
      await connection.close();
    }
  }, 30_000);
});
