import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRedisStreamsSource,
  type LagSample,
  type LagSource,
  type RedisStreamsSourceConfigInput,
} from '../../../collector/sources/index.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
/** A loopback port with nothing listening. */
const CLOSED_PORT_URL = 'redis://127.0.0.1:1';

const prefix = `sw-test-${randomBytes(4).toString('hex')}`;
let redis: Redis;
const createdKeys: string[] = [];
const openSources: LagSource[] = [];
let keyCounter = 0;

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  await Promise.allSettled(openSources.map((source) => source.close()));
  if (createdKeys.length > 0) await redis.del(...createdKeys);
  await redis.quit();
});

function createKey(label: string): string {
  keyCounter += 1;
  const key = `${prefix}:${label}:${keyCounter}`;
  createdKeys.push(key);
  return key;
}

/** Creates a stream with a consumer group at its start, so the group has every entry still to read. */
async function createStream(label: string, group = 'mes'): Promise<string> {
  const key = createKey(label);
  await redis.xgroup('CREATE', key, group, '0', 'MKSTREAM');
  return key;
}

async function addEntries(key: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = await redis.xadd(key, '*', 'order', `MO-${i}`);
    if (id === null) throw new Error(`XADD to ${key} returned no id`);
    ids.push(id);
  }
  return ids;
}

/** Reads up to `count` new entries as `consumer` and acknowledges them unless `ack` is false. */
async function readEntries(key: string, group: string, consumer: string, count: number, ack = true): Promise<string[]> {
  const reply = (await redis.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', key, '>')) as
    | Array<[string, Array<[string, string[]]>]>
    | null;
  const ids = reply?.[0]?.[1].map(([id]) => id) ?? [];
  if (ack && ids.length > 0) await redis.xack(key, group, ...ids);
  return ids;
}

async function readServerTimeMs(): Promise<number> {
  const [seconds, microseconds] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(microseconds) / 1000);
}

function idMs(id: string): number {
  return Number(id.split('-')[0]);
}

function openSource(config: Partial<RedisStreamsSourceConfigInput>): LagSource {
  const source = createRedisStreamsSource({
    kind: 'redis_streams',
    name: `redis-${keyCounter}`,
    integration: 'mes',
    workflow: 'work_order_completion',
    url: REDIS_URL,
    timeoutMs: 2_000,
    streams: [],
    ...config,
  });
  openSources.push(source);
  return source;
}

async function pollOne(source: LagSource, entity: string): Promise<LagSample> {
  const { samples } = await source.poll(new Date());
  const sample = samples.find((candidate) => candidate.entity === entity);
  if (!sample) throw new Error(`no sample for "${entity}" among ${samples.map((s) => s.entity).join(', ')}`);
  return sample;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('redis streams source', () => {
  it('reports caught-up group with zero lag', async () => {
    const key = await createStream('idle');
    await addEntries(key, 3);
    expect(await readEntries(key, 'mes', 'worker-1', 10)).toHaveLength(3);
    const source = openSource({ streams: [{ name: key, groups: ['mes'] }] });

    const first = await pollOne(source, `${key}/mes`);
    await sleep(300);
    const second = await pollOne(source, `${key}/mes`);

    for (const sample of [first, second]) {
      expect(sample.status).toBe('ok');
      expect(sample.depth).toBe(0);
      expect(sample.inFlight).toBe(0);
      expect(sample.lagSeconds).toBe(0);
      expect(sample.lagEstimated).toBe(false);
      expect(sample.consumers).toBe(1);
      expect(sample.sourceKind).toBe('redis_streams');
      expect(sample.workflow).toBe('work_order_completion');
      expect(sample.attributes?.clock_ahead).toBeUndefined();
      expect(sample.attributes?.group_lag_unknown).toBeUndefined();
      expect(sample.attributes?.no_consumers).toBeUndefined();
      expect(sample.detail).toBeUndefined();
    }
  });

  it('shows growing lag after consumer stops', async () => {
    const key = await createStream('stops');
    await addEntries(key, 2);
    await readEntries(key, 'mes', 'worker-1', 10);
    const [headId] = await addEntries(key, 4);
    const source = openSource({ streams: [key] });

    await sleep(500);
    const first = await pollOne(source, `${key}/mes`);
    await sleep(800);
    await addEntries(key, 2);
    const second = await pollOne(source, `${key}/mes`);
    const serverNowMs = await readServerTimeMs();

    expect(first.status).toBe('ok');
    expect(first.depth).toBe(4);
    expect(second.depth).toBe(6);
    expect(first.lagSeconds).toBeGreaterThanOrEqual(0.5);
    expect(second.lagSeconds).toBeGreaterThan((first.lagSeconds ?? Infinity) + 0.7);
    expect(second.lagSeconds).toBeLessThanOrEqual((serverNowMs - idMs(headId ?? '')) / 1000);
    expect(second.attributes?.next_undelivered_id).toBe(headId);
    expect(second.lagEstimated).toBe(false);
  });

  it('reports pending entries and idle time', async () => {
    const key = await createStream('pending');
    const [firstId] = await addEntries(key, 3);
    expect(await readEntries(key, 'mes', 'worker-1', 3, false)).toHaveLength(3);
    await sleep(400);
    const source = openSource({ streams: [{ name: key, groups: ['mes'] }] });

    const sample = await pollOne(source, `${key}/mes`);

    expect(sample.depth).toBe(0);
    expect(sample.lagSeconds).toBe(0);
    expect(sample.inFlight).toBe(3);
    expect(sample.attributes?.oldest_pending_id).toBe(firstId);
    expect(sample.attributes?.oldest_pending_consumer).toBe('worker-1');
    expect(Number(sample.attributes?.oldest_pending_idle_seconds)).toBeGreaterThanOrEqual(0.35);
    expect(Number(sample.attributes?.oldest_pending_age_seconds)).toBeGreaterThanOrEqual(0.35);
    expect(sample.attributes?.oldest_pending_deliveries).toBe('1');
    expect(Number(sample.attributes?.consumer_idle_seconds)).toBeGreaterThanOrEqual(0.35);
  });

  it('leaves depth unknown when lag nil', async () => {
    const key = await createStream('nil-lag');
    await addEntries(key, 1);
    await readEntries(key, 'mes', 'worker-1', 1);
    const ids = await addEntries(key, 3);
    // Deleting an entry after the group's position makes Redis report lag as nil.
    await redis.xdel(key, ids[1] ?? '');
    const groups = (await redis.xinfo('GROUPS', key)) as unknown[][];
    const lagIndex = groups[0]?.indexOf('lag') ?? -1;
    expect(groups[0]?.[lagIndex + 1]).toBeNull();
    await sleep(300);
    const source = openSource({ streams: [{ name: key, groups: ['mes'] }] });

    const sample = await pollOne(source, `${key}/mes`);

    expect(sample.status).toBe('ok');
    expect(sample.depth).toBeUndefined();
    expect(sample.attributes?.group_lag_unknown).toBe('true');
    expect(sample.detail).toContain('nil');
    // Three entries were added after the one read, one of them since deleted.
    expect(sample.attributes?.estimated_lag).toBe('3');
    expect(sample.lagSeconds).toBeGreaterThanOrEqual(0.25);
  });

  it('clamps entry id from the future', async () => {
    const key = await createStream('clock');
    const futureMs = (await readServerTimeMs()) + 3_600_000;
    await redis.xadd(key, `${futureMs}-0`, 'order', 'MO-future');
    const source = openSource({ streams: [{ name: key, groups: ['mes'] }] });

    const sample = await pollOne(source, `${key}/mes`);

    expect(sample.status).toBe('ok');
    expect(sample.depth).toBe(1);
    expect(sample.lagSeconds).toBe(0);
    expect(sample.attributes?.clock_ahead).toBe('true');
  });

  it('flags waiting entries without consumers', async () => {
    const key = await createStream('no-consumers');
    await addEntries(key, 2);
    const source = openSource({ streams: [key] });

    const sample = await pollOne(source, `${key}/mes`);

    expect(sample.consumers).toBe(0);
    expect(sample.depth).toBe(2);
    expect(sample.attributes?.no_consumers).toBe('true');
  });

  it('lists groups and reports destroyed ones', async () => {
    const key = await createStream('listed', 'alpha');
    await redis.xgroup('CREATE', key, 'beta', '$');
    const source = openSource({ streams: [key] });

    const before = await source.poll(new Date());
    await redis.xgroup('DESTROY', key, 'beta');
    const after = await source.poll(new Date());
    const later = await source.poll(new Date());

    expect(before.samples.map((sample) => sample.entity)).toEqual([`${key}/*`, `${key}/alpha`, `${key}/beta`]);
    expect(before.samples.find((sample) => sample.entity === `${key}/*`)?.consumers).toBe(2);
    const gone = after.samples.find((sample) => sample.entity === `${key}/beta`);
    expect(gone?.status).toBe('source_down');
    expect(gone?.detail).toContain('not found');
    expect(later.samples.map((sample) => sample.entity)).toEqual([`${key}/*`, `${key}/alpha`]);
    expect(later.samples.find((sample) => sample.entity === `${key}/*`)?.consumers).toBe(1);
  });

  it('reports stream without groups', async () => {
    const key = createKey('bare');
    await redis.xadd(key, '*', 'order', 'MO-1');
    const source = openSource({ streams: [key] });

    const sample = await pollOne(source, `${key}/*`);

    expect(sample.status).toBe('ok');
    expect(sample.consumers).toBe(0);
    expect(sample.depth).toBeUndefined();
    expect(sample.lagSeconds).toBeUndefined();
  });

  it('reports missing stream and group', async () => {
    const missing = `${prefix}:missing`;
    const key = await createStream('group-missing');
    const plain = createKey('plain');
    await redis.set(plain, 'not a stream');
    const source = openSource({
      streams: [missing, { name: key, groups: ['wms'] }, plain],
    });

    const { samples } = await source.poll(new Date());

    expect(samples.map((sample) => sample.entity).sort()).toEqual([`${key}/wms`, `${missing}/*`, `${plain}/*`].sort());
    for (const sample of samples) {
      expect(sample.status).toBe('source_down');
      expect(sample.depth).toBeUndefined();
      expect(sample.lagSeconds).toBeUndefined();
    }
    expect(samples.find((sample) => sample.entity === `${missing}/*`)?.detail).toContain('not found');
    expect(samples.find((sample) => sample.entity === `${key}/wms`)?.detail).toContain('not found');
    expect(samples.find((sample) => sample.entity === `${plain}/*`)?.detail).toContain('not a stream');
  });

  it('reports unreachable server as down', async () => {
    const key = await createStream('unreachable');
    await addEntries(key, 1);
    const source = openSource({ url: CLOSED_PORT_URL, streams: [{ name: key, groups: ['mes'] }] });

    const first = await pollOne(source, `${key}/mes`);
    const second = await pollOne(source, `${key}/mes`);

    for (const sample of [first, second]) {
      expect(sample.status).toBe('source_down');
      expect(sample.detail).toContain('127.0.0.1:1');
      expect(sample.depth).toBeUndefined();
      expect(sample.inFlight).toBeUndefined();
      expect(sample.lagSeconds).toBeUndefined();
    }
    expect(first.detail).toContain('ECONNREFUSED');
  });

  it('reads with least-privilege user', async () => {
    const key = await createStream('acl');
    await addEntries(key, 2);
    const user = `${prefix}-reader`;
    const password = randomBytes(12).toString('hex');
    await redis.call(
      'ACL', 'SETUSER', user, 'reset', 'on', `>${password}`, `~${prefix}:*`,
      '+time', '+xinfo', '+xrange', '+xpending', '+client|setname',
    );
    try {
      const source = openSource({
        url: `redis://${user}:${password}@127.0.0.1:6379`,
        streams: [{ name: key, groups: ['mes'] }],
      });

      const sample = await pollOne(source, `${key}/mes`);

      expect(sample.status).toBe('ok');
      expect(sample.depth).toBe(2);
      expect(sample.lagSeconds).toBeGreaterThanOrEqual(0);
      expect(sample.attributes?.next_undelivered_id).toBeDefined();
    } finally {
      await redis.call('ACL', 'DELUSER', user);
    }
  });

  it('reconnects after a dropped connection', async () => {
    const key = await createStream('reconnect');
    const name = `reconnect-${prefix}`;
    const source = openSource({ name, streams: [{ name: key, groups: ['mes'] }] });
    await pollOne(source, `${key}/mes`);

    // Kill only the source's own connection, found by its client name.
    const clients = (await redis.client('LIST')) as string;
    const line = clients.split('\n').find((entry) => entry.includes(` name=syncwatch-${name} `));
    const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
    expect(id).toBeDefined();
    await redis.client('KILL', 'ID', id ?? '');
    const after = await pollOne(source, `${key}/mes`);
    const again = await pollOne(source, `${key}/mes`);

    expect(after.status === 'ok' || after.status === 'source_down').toBe(true);
    expect(again.status).toBe('ok');
    expect(again.lagSeconds).toBe(0);
  });
});
