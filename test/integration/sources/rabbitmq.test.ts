import { randomBytes } from 'node:crypto';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRabbitmqSource,
  type LagSample,
  type LagSource,
  type RabbitmqSourceConfigInput,
} from '../../../collector/sources/index.js';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const MANAGEMENT_URL = 'http://127.0.0.1:15672';
/** A loopback port with nothing listening. */
const CLOSED_PORT = 1;
/** The management API refreshes queue statistics every 5 s by default (`collect_statistics_interval`). */
const MANAGEMENT_REFRESH_MS = 5_000;
const PUBLISH_INTERVAL_MS = 50;

const prefix = `sw-test-${randomBytes(4).toString('hex')}`;
let connection: ChannelModel;
let channel: Channel;
const createdQueues: string[] = [];
const openSources: LagSource[] = [];
let queueCounter = 0;

beforeAll(async () => {
  connection = await amqp.connect(AMQP_URL);
  channel = await connection.createChannel();
});

afterAll(async () => {
  await Promise.allSettled(openSources.map((source) => source.close()));
  for (const queue of createdQueues) await channel.deleteQueue(queue).catch(() => undefined);
  await connection.close();
});

async function createQueue(label: string): Promise<string> {
  queueCounter += 1;
  const queue = `${prefix}-${label}-${queueCounter}`;
  await channel.assertQueue(queue, { durable: false });
  createdQueues.push(queue);
  return queue;
}

function openSource(config: Partial<RabbitmqSourceConfigInput>): LagSource {
  const source = createRabbitmqSource({
    kind: 'rabbitmq',
    name: `broker-${queueCounter}`,
    integration: 'mes',
    workflow: 'production_order_release',
    url: AMQP_URL,
    timeoutMs: 2_000,
    ...config,
  });
  openSources.push(source);
  return source;
}

async function pollOne(source: LagSource, queue: string): Promise<LagSample> {
  const { samples } = await source.poll(new Date());
  const sample = samples.find((candidate) => candidate.entity === queue);
  if (!sample) throw new Error(`no sample for queue "${queue}" among ${samples.map((s) => s.entity).join(', ')}`);
  return sample;
}

/** Polls until `accept` holds, for sources whose numbers refresh on the broker's schedule. */
async function pollUntil(
  source: LagSource,
  queue: string,
  accept: (sample: LagSample) => boolean,
  timeoutMs = 3 * MANAGEMENT_REFRESH_MS,
): Promise<LagSample> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sample = await pollOne(source, queue);
    if (accept(sample)) return sample;
    if (Date.now() > deadline) {
      throw new Error(`queue "${queue}" never reached the expected state; last sample: ${JSON.stringify(sample)}`);
    }
    await sleep(500);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Publishes to `queue` every `PUBLISH_INTERVAL_MS` with the AMQP timestamp property set, until stopped. */
function startPublisher(queue: string): { stop(): void } {
  const timer = setInterval(() => {
    channel.sendToQueue(queue, Buffer.from('{"order":"MO-1"}'), { timestamp: Math.floor(Date.now() / 1000) });
  }, PUBLISH_INTERVAL_MS);
  return { stop: () => clearInterval(timer) };
}

/** Consumes and acks every message of `queue` on a channel of its own, until stopped. */
async function startConsumer(queue: string): Promise<{ stop(): Promise<void> }> {
  const consumerChannel = await connection.createChannel();
  await consumerChannel.prefetch(10);
  await consumerChannel.consume(queue, (message) => {
    if (message) consumerChannel.ack(message);
  });
  return { stop: () => consumerChannel.close() };
}

describe('rabbitmq source over AMQP', () => {
  it('shows growing lag after consumer stops', async () => {
    const queue = await createQueue('stops');
    const source = openSource({ queues: [queue] });
    const consumer = await startConsumer(queue);
    const publisher = startPublisher(queue);
    try {
      await sleep(500);
      const consuming = await pollOne(source, queue);
      expect(consuming.status).toBe('ok');
      expect(consuming.consumers).toBe(1);
      expect(consuming.attributes?.no_consumers).toBeUndefined();

      await consumer.stop();
      await sleep(1_000);
      const first = await pollOne(source, queue);
      await sleep(1_500);
      const second = await pollOne(source, queue);

      expect(first.consumers).toBe(0);
      expect(second.depth).toBeGreaterThan(first.depth ?? Infinity);
      expect(first.lagSeconds).toBeDefined();
      expect(second.lagSeconds).toBeGreaterThan(first.lagSeconds ?? Infinity);
      expect(second.lagSeconds).toBeGreaterThan(1);
      expect(second.lagEstimated).toBe(true);
      expect(second.attributes?.no_consumers).toBe('true');
      expect(second.attributes?.via).toBe('amqp');
      expect(Number(second.attributes?.net_rate_per_second)).toBeGreaterThan(0);
      expect(second.inFlight).toBeUndefined();
      expect(second.inflowPerSecond).toBeUndefined();
    } finally {
      publisher.stop();
    }
  });

  it('reports an idle queue without lag', async () => {
    const queue = await createQueue('idle');
    const source = openSource({ queues: [queue] });

    const first = await pollOne(source, queue);
    await sleep(300);
    const second = await pollOne(source, queue);

    for (const sample of [first, second]) {
      expect(sample.status).toBe('ok');
      expect(sample.depth).toBe(0);
      expect(sample.lagSeconds).toBe(0);
      expect(sample.lagEstimated).toBe(false);
      expect(sample.attributes?.no_consumers).toBeUndefined();
    }
  });

  it('flags ready messages without consumers', async () => {
    const queue = await createQueue('orphan');
    for (let index = 0; index < 3; index += 1) channel.sendToQueue(queue, Buffer.from('x'));
    await sleep(200);
    const source = openSource({ queues: [queue] });

    const sample = await pollOne(source, queue);

    expect(sample.depth).toBe(3);
    expect(sample.consumers).toBe(0);
    expect(sample.attributes?.no_consumers).toBe('true');
  });

  it('reports a missing queue and reads the next', async () => {
    const queue = await createQueue('present');
    const missing = `${prefix}-missing`;
    const source = openSource({ queues: [missing, queue] });

    const { samples } = await source.poll(new Date());

    expect(samples.map((sample) => [sample.entity, sample.status])).toEqual([
      [missing, 'source_down'],
      [queue, 'ok'],
    ]);
    expect(samples[0]?.detail).toContain('not found');
    expect(samples[0]?.depth).toBeUndefined();
  });

  it('reports an unreachable broker as down', async () => {
    const source = openSource({ url: `amqp://guest:secret@127.0.0.1:${CLOSED_PORT}`, queues: ['orders', 'moves'] });

    const { samples } = await source.poll(new Date());

    expect(samples.map((sample) => sample.status)).toEqual(['source_down', 'source_down']);
    for (const sample of samples) {
      expect(sample.detail).toContain('ECONNREFUSED');
      expect(sample.detail).not.toContain('secret');
      expect(sample.depth).toBeUndefined();
      expect(sample.lagSeconds).toBeUndefined();
      expect(sample.consumers).toBeUndefined();
    }
  });

  it('falls back to AMQP without management', async () => {
    const queue = await createQueue('fallback');
    channel.sendToQueue(queue, Buffer.from('x'));
    await sleep(200);
    const source = openSource({ queues: [queue], managementUrl: `http://127.0.0.1:${CLOSED_PORT}` });

    const sample = await pollOne(source, queue);

    expect(sample.status).toBe('ok');
    expect(sample.depth).toBe(1);
    expect(sample.attributes?.via).toBe('amqp');
    expect(sample.detail).toContain('management API unavailable');
  });
});

describe('rabbitmq source over the management API', () => {
  beforeAll(async () => {
    const response = await fetch(`${MANAGEMENT_URL}/api/overview`, {
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
    }).catch((error: unknown) => {
      throw new Error(
        `RabbitMQ management API not reachable at ${MANAGEMENT_URL} (${String(error)}); ` +
          'enable it with "rabbitmq-plugins enable rabbitmq_management"',
      );
    });
    if (!response.ok) throw new Error(`RabbitMQ management API at ${MANAGEMENT_URL} returned HTTP ${response.status}`);
  });

  it('shows growing head age after consumer stops', { timeout: 90_000 }, async () => {
    const queue = await createQueue('mgmt-stops');
    const source = openSource({ queues: [queue], managementUrl: MANAGEMENT_URL });
    const consumer = await startConsumer(queue);
    const publisher = startPublisher(queue);
    try {
      // Rates and queue counts refresh separately, so both are awaited.
      const consuming = await pollUntil(
        source,
        queue,
        (sample) => (sample.outflowPerSecond ?? 0) > 0 && sample.consumers === 1,
      );
      expect(consuming.consumers).toBe(1);
      expect(consuming.inflowPerSecond).toBeGreaterThan(0);
      expect(consuming.lagSeconds).toBeLessThan(3);

      await consumer.stop();
      const first = await pollUntil(source, queue, (sample) => sample.consumers === 0 && (sample.depth ?? 0) > 0);
      await sleep(MANAGEMENT_REFRESH_MS + 1_000);
      const second = await pollOne(source, queue);

      expect(second.depth).toBeGreaterThan(first.depth ?? Infinity);
      expect(second.lagSeconds).toBeGreaterThan(first.lagSeconds ?? Infinity);
      expect(second.lagSeconds).toBeGreaterThanOrEqual(MANAGEMENT_REFRESH_MS / 1000);
      expect(second.lagEstimated).toBe(false);
      expect(second.attributes?.via).toBe('management');
      expect(second.attributes?.no_consumers).toBe('true');
      expect(second.inFlight).toBe(0);
    } finally {
      publisher.stop();
    }
  });

  it('reports an idle queue without lag', async () => {
    const queue = await createQueue('mgmt-idle');
    const source = openSource({ queues: [queue], managementUrl: MANAGEMENT_URL });

    const sample = await pollOne(source, queue);

    expect(sample.status).toBe('ok');
    expect(sample.attributes?.via).toBe('management');
    expect(sample.depth).toBe(0);
    expect(sample.inFlight).toBe(0);
    expect(sample.lagSeconds).toBe(0);
    expect(sample.lagEstimated).toBe(false);
    expect(sample.inflowPerSecond).toBe(0);
    expect(sample.outflowPerSecond).toBe(0);
    expect(sample.attributes?.no_consumers).toBeUndefined();
  });

  it('flags ready messages without consumers', { timeout: 30_000 }, async () => {
    const queue = await createQueue('mgmt-orphan');
    for (let index = 0; index < 3; index += 1) {
      channel.sendToQueue(queue, Buffer.from('x'), { timestamp: Math.floor(Date.now() / 1000) - 60 });
    }
    const source = openSource({ queues: [queue], managementUrl: MANAGEMENT_URL });

    // The head timestamp can arrive one statistics refresh after the count,
    // and only a lag read from it is defined and not estimated.
    const sample = await pollUntil(
      source,
      queue,
      (candidate) => candidate.depth === 3 && candidate.lagSeconds !== undefined && candidate.lagEstimated === false,
    );

    expect(sample.consumers).toBe(0);
    expect(sample.attributes?.no_consumers).toBe('true');
    expect(sample.lagSeconds).toBeGreaterThanOrEqual(60);
    expect(sample.lagEstimated).toBe(false);
  });

  it('watches queues matching a pattern', async () => {
    const first = await createQueue('pattern');
    const second = await createQueue('pattern');
    await createQueue('other');
    const source = openSource({ queuePattern: `^${prefix}-pattern-`, managementUrl: MANAGEMENT_URL });

    const { samples } = await source.poll(new Date());

    expect(samples.map((sample) => sample.entity).sort()).toEqual([first, second].sort());
    expect(samples.every((sample) => sample.status === 'ok')).toBe(true);
  });

  it('reports a missing queue as down', async () => {
    const missing = `${prefix}-mgmt-missing`;
    const source = openSource({ queues: [missing], managementUrl: MANAGEMENT_URL });

    const sample = await pollOne(source, missing);

    expect(sample.status).toBe('source_down');
    expect(sample.detail).toContain('not found');
  });

  it('reports broker and API down', async () => {
    const source = openSource({
      url: `amqp://guest:guest@127.0.0.1:${CLOSED_PORT}`,
      managementUrl: `http://127.0.0.1:${CLOSED_PORT}`,
      queues: ['orders'],
    });

    const sample = await pollOne(source, 'orders');

    expect(sample.status).toBe('source_down');
    expect(sample.detail).toContain('management API unavailable');
    expect(sample.detail).toContain('ECONNREFUSED');
    expect(sample.depth).toBeUndefined();
  });
});
