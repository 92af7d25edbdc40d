import { randomBytes } from 'node:crypto';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AMQP_UNACKED_NOT_VISIBLE_DETAIL,
  createRabbitmqSource,
  type LagSample,
  type LagSource,
  type RabbitmqSourceConfigInput,
} from '../../../collector/sources/index.js';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const MANAGEMENT_URL = 'http://127.0.0.1:15672';
/** The management API refreshes queue statistics every 5 s by default (`collect_statistics_interval`). */
const MANAGEMENT_REFRESH_MS = 5_000;
/** Gap between polls that compare statistics, so each poll reads refreshed statistics. */
const POLL_GAP_MS = MANAGEMENT_REFRESH_MS + 1_000;
const PREFETCH = 10;

const prefix = `sw-unacked-${randomBytes(4).toString('hex')}`;
let connection: ChannelModel;
let channel: Channel;
const createdQueues: string[] = [];
const openSources: LagSource[] = [];
const consumerChannels: Channel[] = [];
let queueCounter = 0;

beforeAll(async () => {
  connection = await amqp.connect(AMQP_URL);
  channel = await connection.createChannel();
});

afterAll(async () => {
  await Promise.allSettled(openSources.map((source) => source.close()));
  await Promise.allSettled(consumerChannels.map((consumer) => consumer.close()));
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
    integration: 'wms',
    workflow: 'material_consumption',
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

/** Polls every 500 ms until `accept` holds, because the management statistics refresh on the broker's schedule. */
async function pollUntil(source: LagSource, queue: string, accept: (sample: LagSample) => boolean): Promise<LagSample> {
  const deadline = Date.now() + 3 * MANAGEMENT_REFRESH_MS;
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

function publish(queue: string, count: number): void {
  for (let index = 0; index < count; index += 1) {
    channel.sendToQueue(queue, Buffer.from(`{"move":"WH/MO/${index}"}`));
  }
}

/**
 * Starts a consumer with `PREFETCH` on a channel of its own. `onMessage`
 * decides what happens to each delivery; a consumer that ignores them never
 * acknowledges.
 */
async function startConsumer(queue: string, onMessage: (consumer: Channel, message: ConsumeMessage) => void): Promise<void> {
  const consumer = await connection.createChannel();
  consumerChannels.push(consumer);
  await consumer.prefetch(PREFETCH);
  await consumer.consume(queue, (message) => {
    if (message) onMessage(consumer, message);
  });
}

describe('rabbitmq unacked stall over the management API', () => {
  it.concurrent('flags consumer that never acks', { timeout: 60_000 }, async () => {
    const queue = await createQueue('hung');
    const source = openSource({ queues: [queue], managementUrl: MANAGEMENT_URL });
    await startConsumer(queue, () => undefined);
    publish(queue, 5);

    await pollUntil(source, queue, (sample) => sample.inFlight === 5);
    await sleep(POLL_GAP_MS);
    const first = await pollOne(source, queue);
    await sleep(POLL_GAP_MS);
    const second = await pollOne(source, queue);
    await sleep(POLL_GAP_MS);
    const third = await pollOne(source, queue);

    for (const sample of [second, third]) {
      expect(sample.status).toBe('ok');
      expect(sample.depth).toBe(0);
      expect(sample.inFlight).toBe(5);
      expect(sample.consumers).toBe(1);
      expect(sample.stuck).toBe(5);
      expect(sample.conditions).toContain('unacked_stalled');
      expect(sample.lagEstimated).toBe(true);
      expect(sample.attributes?.unacked_stalled_since).toBeDefined();
      expect(sample.detail).toContain('5 messages unacknowledged');
    }
    expect(second.lagSeconds).toBeGreaterThanOrEqual(POLL_GAP_MS / 1000);
    expect(third.lagSeconds).toBeGreaterThanOrEqual((second.lagSeconds ?? Infinity) + POLL_GAP_MS / 1000 - 0.5);
    expect(third.attributes?.unacked_stalled_since).toBe(second.attributes?.unacked_stalled_since);
    expect(first.inFlight).toBe(5);
  });

  it.concurrent('leaves an acking consumer unflagged', { timeout: 60_000 }, async () => {
    const queue = await createQueue('acking');
    const source = openSource({ queues: [queue], managementUrl: MANAGEMENT_URL });
    await startConsumer(queue, (consumer, message) => consumer.ack(message));
    const publisher = setInterval(() => publish(queue, 1), 50);
    try {
      await pollUntil(source, queue, (sample) => (sample.outflowPerSecond ?? 0) > 0);
      const samples: LagSample[] = [];
      for (let index = 0; index < 2; index += 1) {
        await sleep(POLL_GAP_MS);
        samples.push(await pollOne(source, queue));
      }

      for (const sample of samples) {
        expect(sample.status).toBe('ok');
        expect(sample.stuck).toBe(0);
        expect(sample.conditions ?? []).not.toContain('unacked_stalled');
        expect(sample.attributes?.unacked_stalled_since).toBeUndefined();
        expect(sample.lagSeconds).toBeLessThan(3);
      }
    } finally {
      clearInterval(publisher);
    }
  });

  it.concurrent('leaves a slow acking consumer unflagged', { timeout: 60_000 }, async () => {
    const queue = await createQueue('slow');
    const source = openSource({ queues: [queue], managementUrl: MANAGEMENT_URL });
    // One ack every 1.5 s keeps the prefetch window full, so the unacked count stays at PREFETCH.
    const held: Array<{ consumer: Channel; message: ConsumeMessage }> = [];
    await startConsumer(queue, (consumer, message) => held.push({ consumer, message }));
    const acker = setInterval(() => {
      const next = held.shift();
      if (next) next.consumer.ack(next.message);
    }, 1_500);
    publish(queue, 40);
    try {
      await pollUntil(source, queue, (sample) => sample.inFlight === PREFETCH);
      const samples: LagSample[] = [];
      for (let index = 0; index < 2; index += 1) {
        await sleep(POLL_GAP_MS);
        samples.push(await pollOne(source, queue));
      }

      for (const sample of samples) {
        expect(sample.inFlight).toBe(PREFETCH);
        expect(sample.stuck).toBe(0);
        expect(sample.conditions ?? []).not.toContain('unacked_stalled');
      }
    } finally {
      clearInterval(acker);
    }
  });
});

describe('rabbitmq unacked messages over AMQP', () => {
  it('marks unacked messages as not visible', async () => {
    const queue = await createQueue('amqp-hung');
    const source = openSource({ queues: [queue] });
    await startConsumer(queue, () => undefined);
    publish(queue, 5);
    await sleep(300);

    const sample = await pollOne(source, queue);

    expect(sample.status).toBe('ok');
    expect(sample.depth).toBe(0);
    expect(sample.inFlight).toBeUndefined();
    expect(sample.stuck).toBeUndefined();
    expect(sample.attributes?.via).toBe('amqp');
    expect(sample.attributes?.unacked_visible).toBe('false');
    expect(sample.detail).toContain(AMQP_UNACKED_NOT_VISIBLE_DETAIL);
  });
});
