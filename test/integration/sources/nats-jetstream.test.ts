import { randomBytes } from 'node:crypto';
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetstreamClient } from '../../../collector/sources/nats-jetstream-client.js';
import {
  createNatsJetstreamSource,
  type LagSample,
  type LagSource,
  type NatsJetstreamSourceConfigInput,
} from '../../../collector/sources/index.js';

const NATS_URL = 'nats://127.0.0.1:4222';
/** A loopback port with nothing listening. */
const CLOSED_PORT_URL = 'nats://127.0.0.1:1';

const prefix = `SW_TEST_${randomBytes(4).toString('hex').toUpperCase()}`;
let connection: NatsConnection;
let manager: JetStreamManager;
let client: JetStreamClient;
let serverStampsConsumerInfo = false;
const createdStreams: string[] = [];
const openSources: LagSource[] = [];
let streamCounter = 0;

beforeAll(async () => {
  connection = await connect({ servers: NATS_URL });
  manager = await jetstreamManager(connection);
  client = jetstream(connection);
  // From 2.10 the server stamps consumer info with its own clock, which the source prefers over the poll time.
  const [major = 0, minor = 0] = (connection.info?.version ?? '0.0').split('.').map(Number);
  serverStampsConsumerInfo = major > 2 || (major === 2 && minor >= 10);
});

afterAll(async () => {
  await Promise.allSettled(openSources.map((source) => source.close()));
  for (const stream of createdStreams) await manager.streams.delete(stream).catch(() => undefined);
  await connection.close();
});

async function createStream(label: string): Promise<string> {
  streamCounter += 1;
  const stream = `${prefix}_${label.toUpperCase()}_${streamCounter}`;
  await manager.streams.add({ name: stream, subjects: [`${stream}.>`] });
  createdStreams.push(stream);
  return stream;
}

async function addPullConsumer(stream: string, name: string, filterSubject?: string): Promise<void> {
  await manager.consumers.add(stream, {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    ...(filterSubject === undefined ? {} : { filter_subject: filterSubject }),
  });
}

/** A client whose message reads fail, as they do for an account without access to `STREAM.MSG.GET`. */
class FailingMessageReadClient extends JetstreamClient {
  override async readMessageTime(): Promise<Date | undefined> {
    throw new Error('permissions violation for publish to "$JS.API.STREAM.MSG.GET"');
  }
}

function openSource(config: Partial<NatsJetstreamSourceConfigInput>, client?: JetstreamClient): LagSource {
  const fullConfig: NatsJetstreamSourceConfigInput = {
    kind: 'nats_jetstream',
    name: `jetstream-${streamCounter}`,
    integration: 'wms',
    workflow: 'stock_move',
    url: NATS_URL,
    timeoutMs: 2_000,
    streams: [],
    ...config,
  };
  const source = createNatsJetstreamSource(fullConfig, client === undefined ? {} : { client });
  openSources.push(source);
  return source;
}

async function pollOne(source: LagSource, entity: string, now = new Date()): Promise<LagSample> {
  const { samples } = await source.poll(now);
  const sample = samples.find((candidate) => candidate.entity === entity);
  if (!sample) throw new Error(`no sample for "${entity}" among ${samples.map((s) => s.entity).join(', ')}`);
  return sample;
}

async function publish(stream: string, count: number, subject = 'orders'): Promise<void> {
  for (let i = 0; i < count; i += 1) await client.publish(`${stream}.${subject}`, `{"move":${i}}`);
}

/** Fetches up to `count` messages from a pull consumer and acknowledges them unless `ack` is false. */
async function consume(stream: string, consumer: string, count: number, ack = true): Promise<number> {
  const handle = await client.consumers.get(stream, consumer);
  const messages = await handle.fetch({ max_messages: count, expires: 1_000 });
  let received = 0;
  for await (const message of messages) {
    if (ack) message.ack();
    received += 1;
    if (received === count) break;
  }
  return received;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('nats jetstream source', () => {
  it('reports caught-up consumer with zero lag', async () => {
    const stream = await createStream('idle');
    await addPullConsumer(stream, 'picker');
    await publish(stream, 3);
    expect(await consume(stream, 'picker', 3)).toBe(3);
    const source = openSource({ streams: [{ name: stream, consumers: ['picker'] }] });

    const first = await pollOne(source, `${stream}/picker`);
    await sleep(300);
    const second = await pollOne(source, `${stream}/picker`);

    for (const sample of [first, second]) {
      expect(sample.status).toBe('ok');
      expect(sample.depth).toBe(0);
      expect(sample.inFlight).toBe(0);
      expect(sample.lagSeconds).toBe(0);
      expect(sample.lagEstimated).toBe(false);
      expect(sample.workflow).toBe('stock_move');
      expect(sample.sourceKind).toBe('nats_jetstream');
      expect(sample.attributes?.consumer_type).toBe('pull');
      expect(sample.attributes?.clock_ahead).toBeUndefined();
      expect(sample.attributes?.no_consumers).toBeUndefined();
      expect(sample.detail).toBeUndefined();
    }
    expect(Number(second.attributes?.since_last_delivery_seconds)).toBeGreaterThan(0);
  });

  it('reports empty stream consumer as idle', async () => {
    const stream = await createStream('empty');
    await addPullConsumer(stream, 'picker');
    const source = openSource({ streams: [{ name: stream, consumers: ['picker'] }] });

    const sample = await pollOne(source, `${stream}/picker`);

    expect(sample.status).toBe('ok');
    expect(sample.depth).toBe(0);
    expect(sample.lagSeconds).toBe(0);
    expect(sample.attributes?.since_last_delivery_seconds).toBeUndefined();
  });

  it('shows growing lag after consumer stops', async () => {
    const stream = await createStream('stops');
    await addPullConsumer(stream, 'picker');
    await publish(stream, 5);
    expect(await consume(stream, 'picker', 5)).toBe(5);
    const source = openSource({ streams: [{ name: stream, consumers: ['picker'] }] });

    const publishedAt = Date.now();
    await publish(stream, 4);
    await sleep(600);
    const first = await pollOne(source, `${stream}/picker`);
    await sleep(900);
    await publish(stream, 2);
    const second = await pollOne(source, `${stream}/picker`);

    expect(first.status).toBe('ok');
    expect(first.depth).toBe(4);
    expect(second.depth).toBe(6);
    expect(first.lagEstimated).toBe(false);
    expect(second.lagEstimated).toBe(false);
    expect(first.lagSeconds).toBeGreaterThanOrEqual(0.5);
    expect(second.lagSeconds).toBeGreaterThan((first.lagSeconds ?? Infinity) + 0.8);
    // The head is the first message published after the consumer stopped.
    expect(second.lagSeconds).toBeLessThanOrEqual((Date.now() - publishedAt) / 1000 + 0.1);
    expect(second.attributes?.delivered_stream_seq).toBe('5');
    expect(second.outflowPerSecond).toBe(0);
  });

  it('reads head age within filter subject', async () => {
    const stream = await createStream('filtered');
    await addPullConsumer(stream, 'quality', `${stream}.holds`);
    // An older message on another subject must not count as the consumer's head.
    await publish(stream, 1, 'orders');
    await sleep(1_200);
    const holdAt = Date.now();
    await publish(stream, 1, 'holds');
    const source = openSource({ streams: [{ name: stream, consumers: ['quality'] }] });

    const sample = await pollOne(source, `${stream}/quality`);

    expect(sample.depth).toBe(1);
    expect(sample.lagSeconds).toBeLessThan((Date.now() - holdAt) / 1000 + 0.1);
    expect(sample.lagSeconds).toBeLessThan(1);
  });

  it('counts unacknowledged and redelivered messages', async () => {
    const stream = await createStream('unacked');
    await manager.consumers.add(stream, {
      durable_name: 'picker',
      ack_policy: AckPolicy.Explicit,
      ack_wait: 300_000_000, // 300 ms in nanoseconds
    });
    await publish(stream, 3);
    expect(await consume(stream, 'picker', 3, false)).toBe(3);
    await sleep(500);
    // The ack wait has passed, so fetching again redelivers the same messages.
    expect(await consume(stream, 'picker', 3, false)).toBe(3);
    const source = openSource({ streams: [{ name: stream, consumers: ['picker'] }] });

    const sample = await pollOne(source, `${stream}/picker`);

    expect(sample.depth).toBe(0);
    expect(sample.lagSeconds).toBe(0);
    expect(sample.inFlight).toBe(3);
    expect(Number(sample.attributes?.redelivered)).toBeGreaterThan(0);
    expect(Number(sample.attributes?.oldest_unacked_seconds)).toBeGreaterThanOrEqual(0.5);
  });

  it('flags unbound push consumer with backlog', async () => {
    const stream = await createStream('push');
    await manager.consumers.add(stream, {
      durable_name: 'notifier',
      ack_policy: AckPolicy.Explicit,
      deliver_subject: `${stream}_DELIVER`,
    });
    await publish(stream, 2);
    const source = openSource({ streams: [stream] });

    const sample = await pollOne(source, `${stream}/notifier`);

    expect(sample.status).toBe('ok');
    expect(sample.consumers).toBe(0);
    expect(sample.depth).toBe(2);
    expect(sample.attributes?.consumer_type).toBe('push');
    expect(sample.attributes?.push_bound).toBe('false');
    expect(sample.attributes?.no_consumers).toBe('true');
  });

  it('lists consumers and reports deleted ones', async () => {
    const stream = await createStream('listed');
    await addPullConsumer(stream, 'alpha');
    await addPullConsumer(stream, 'beta');
    const source = openSource({ streams: [stream] });

    const before = await source.poll(new Date());
    await manager.consumers.delete(stream, 'beta');
    const after = await source.poll(new Date());
    const later = await source.poll(new Date());

    expect(before.samples.map((sample) => sample.entity)).toEqual([`${stream}/alpha`, `${stream}/beta`, `${stream}/*`]);
    expect(before.samples.find((sample) => sample.entity === `${stream}/*`)?.consumers).toBe(2);
    const gone = after.samples.find((sample) => sample.entity === `${stream}/beta`);
    expect(gone?.status).toBe('source_down');
    expect(gone?.detail).toContain('not found');
    expect(later.samples.map((sample) => sample.entity)).toEqual([`${stream}/alpha`, `${stream}/*`]);
    expect(later.samples.find((sample) => sample.entity === `${stream}/*`)?.consumers).toBe(1);
  });

  it('reports stream without consumers', async () => {
    const stream = await createStream('bare');
    await publish(stream, 1);
    const source = openSource({ streams: [stream] });

    const sample = await pollOne(source, `${stream}/*`);

    expect(sample.status).toBe('ok');
    expect(sample.consumers).toBe(0);
    expect(sample.depth).toBeUndefined();
    expect(sample.lagSeconds).toBeUndefined();
  });

  it('reports missing stream as down', async () => {
    const stream = `${prefix}_MISSING`;
    const source = openSource({ streams: [stream, { name: stream, consumers: ['picker'] }] });

    const { samples } = await source.poll(new Date());

    expect(samples.map((sample) => sample.entity)).toEqual([`${stream}/*`, `${stream}/picker`]);
    for (const sample of samples) {
      expect(sample.status).toBe('source_down');
      expect(sample.detail).toContain('not found');
      expect(sample.lagSeconds).toBeUndefined();
      expect(sample.depth).toBeUndefined();
    }
  });

  it('reports unreachable server as down', async () => {
    const stream = await createStream('unreachable');
    await addPullConsumer(stream, 'picker');
    const source = openSource({ url: CLOSED_PORT_URL, streams: [{ name: stream, consumers: ['picker'] }] });

    const sample = await pollOne(source, `${stream}/picker`);

    expect(sample.status).toBe('source_down');
    expect(sample.detail).toContain('127.0.0.1:1');
    expect(sample.lagSeconds).toBeUndefined();
    expect(sample.depth).toBeUndefined();
    expect(sample.inFlight).toBeUndefined();
  });

  it('recovers after stream returns', async () => {
    const stream = await createStream('recovers');
    await addPullConsumer(stream, 'picker');
    const source = openSource({ streams: [{ name: stream, consumers: ['picker'] }] });

    await pollOne(source, `${stream}/picker`);
    await manager.streams.delete(stream);
    const missing = await pollOne(source, `${stream}/picker`);
    await manager.streams.add({ name: stream, subjects: [`${stream}.>`] });
    await addPullConsumer(stream, 'picker');
    const back = await pollOne(source, `${stream}/picker`);

    expect(missing.status).toBe('source_down');
    expect(back.status).toBe('ok');
    expect(back.lagSeconds).toBe(0);
  });

  it('estimates lag when reads fail', async () => {
    const stream = await createStream('estimated');
    await addPullConsumer(stream, 'picker');
    await publish(stream, 3);
    const client = new FailingMessageReadClient({
      servers: [NATS_URL],
      timeoutMs: 2_000,
      connectionName: 'syncwatch test',
    });
    const source = openSource({ streams: [{ name: stream, consumers: ['picker'] }] }, client);

    const first = await pollOne(source, `${stream}/picker`);
    await sleep(700);
    const second = await pollOne(source, `${stream}/picker`);

    expect(first.status).toBe('ok');
    expect(first.depth).toBe(3);
    expect(first.lagSeconds).toBeUndefined();
    expect(first.detail).toContain('STREAM.MSG.GET');
    // Nothing was delivered between the polls, so the head has waited at least that long.
    expect(second.lagEstimated).toBe(true);
    expect(second.lagSeconds).toBeGreaterThanOrEqual(0.6);
    expect(second.outflowPerSecond).toBe(0);
  });

  it('clamps lag from clock behind', async (context) => {
    if (serverStampsConsumerInfo) context.skip('the server stamps consumer info with its own clock');
    const stream = await createStream('clock');
    await addPullConsumer(stream, 'picker');
    await publish(stream, 1);
    const source = openSource({ streams: [{ name: stream, consumers: ['picker'] }] });

    // To a collector clock an hour behind, the message's stored time lies in the future.
    const sample = await pollOne(source, `${stream}/picker`, new Date(Date.now() - 3_600_000));

    expect(sample.status).toBe('ok');
    expect(sample.depth).toBe(1);
    expect(sample.lagSeconds).toBe(0);
    expect(sample.lagEstimated).toBe(false);
    expect(sample.attributes?.clock_ahead).toBe('true');
  });
});
