import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLagWriter } from '../../../collector/lag-writer.js';
import {
  createRabbitmqSource,
  startSourcePolling,
  type LagSample,
  type LagSource,
  type PollResult,
} from '../../../collector/sources/index.js';
import { migrate, openClickHouse } from '../../../store/index.js';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
/** A loopback port with nothing listening. */
const CLOSED_PORT_URL = 'amqp://guest:guest@127.0.0.1:1';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-scheduler-'));
const client = openClickHouse({ kind: 'embedded', dataDir });
const prefix = `sw-sched-${randomBytes(4).toString('hex')}`;
let connection: ChannelModel;
let channel: Channel;
const createdQueues: string[] = [];
const openSources: LagSource[] = [];

beforeAll(async () => {
  await migrate(client);
  connection = await amqp.connect(AMQP_URL);
  channel = await connection.createChannel();
});

afterAll(async () => {
  await Promise.allSettled(openSources.map((source) => source.close()));
  for (const queue of createdQueues) await channel.deleteQueue(queue).catch(() => undefined);
  await connection.close();
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function createQueue(label: string, messages: number): Promise<string> {
  const queue = `${prefix}-${label}`;
  await channel.assertQueue(queue, { durable: false });
  createdQueues.push(queue);
  for (let index = 0; index < messages; index += 1) channel.sendToQueue(queue, Buffer.from(`message ${index}`));
  // The broker handles a channel's commands in order, so this reply comes after the messages are queued.
  await channel.checkQueue(queue);
  return queue;
}

function openRabbitmqSource(name: string, url: string, queues: string[]): LagSource {
  const source = createRabbitmqSource({
    kind: 'rabbitmq',
    name,
    integration: 'odoo-wms',
    workflow: 'stock_move',
    url,
    queues,
    timeoutMs: 2_000,
  });
  openSources.push(source);
  return source;
}

/** Creates an in-process source whose polls `respond` decides, counting from 0. */
function createScriptedSource(name: string, respond: (poll: number, now: Date) => Promise<PollResult>): LagSource {
  let polls = 0;
  return {
    name,
    kind: 'scripted',
    intervalMs: 60_000,
    integration: 'odoo-mes',
    workflow: 'material_consumption',
    poll: (now) => respond(polls++, now),
    close: async () => undefined,
  };
}

function buildSample(source: string, entity: string, now: Date, fields: Partial<LagSample> = {}): LagSample {
  return {
    observedAt: now,
    integration: 'odoo-mes',
    workflow: 'material_consumption',
    source,
    sourceKind: 'scripted',
    entity,
    status: 'ok',
    depth: 0,
    lagSeconds: 0,
    ...fields,
  };
}

async function selectRows<T>(query: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}

describe('startSourcePolling with the lag writer', () => {
  it('records each poll outcome in source_polls', async () => {
    const queue = await createQueue('orders', 0);
    const sources = [
      openRabbitmqSource(`${prefix}-up`, AMQP_URL, [queue]),
      openRabbitmqSource(`${prefix}-refused`, CLOSED_PORT_URL, [queue]),
      createScriptedSource(`${prefix}-hanging`, () => new Promise(() => undefined)),
      createScriptedSource(`${prefix}-throwing`, async () => {
        throw new Error('permission denied for table queue_job');
      }),
    ];
    const writer = createLagWriter(client);
    const polling = startSourcePolling(sources, writer, { spreadFirstPolls: false, pollTimeoutMs: 500 });

    await polling.pollNow();
    await polling.stop();

    const rows = await selectRows<Record<string, unknown>>(
      `SELECT source, source_kind, outcome, samples, down_samples, consecutive_failures, error, duration_ms
         FROM source_polls WHERE startsWith(source, '${prefix}') ORDER BY source`,
    );
    expect(rows.map((row) => [row.source, row.outcome])).toEqual([
      [`${prefix}-hanging`, 'timeout'],
      [`${prefix}-refused`, 'down'],
      [`${prefix}-throwing`, 'error'],
      [`${prefix}-up`, 'ok'],
    ]);
    const [hanging, refused, throwing, up] = rows;
    expect(hanging?.error).toBe('poll timed out after 500 ms');
    expect(Number(hanging?.duration_ms)).toBeGreaterThanOrEqual(500);
    expect(hanging?.consecutive_failures).toBe(1);
    expect(refused?.source_kind).toBe('rabbitmq');
    expect(refused?.down_samples).toBe(1);
    expect(refused?.error).toMatch(/ECONNREFUSED/);
    expect(throwing?.error).toBe('poll failed: permission denied for table queue_job');
    expect(up?.samples).toBe(1);
    expect(up?.down_samples).toBe(0);
    expect(up?.error).toBe('');
  });

  it('stores conditions from the real broker', async () => {
    const waiting = await createQueue('waiting', 3);
    const idle = await createQueue('idle', 0);
    const source = openRabbitmqSource(`${prefix}-conditions`, AMQP_URL, [waiting, idle]);
    const polling = startSourcePolling([source], createLagWriter(client), { spreadFirstPolls: false });

    await polling.pollNow();
    await polling.stop();

    const rows = await selectRows<Record<string, unknown>>(
      `SELECT entity, status, depth, consumers, lag_seconds, conditions, attributes['no_consumers'] AS attribute
         FROM integration_lag WHERE source = '${prefix}-conditions' ORDER BY entity`,
    );
    expect(rows).toHaveLength(2);
    const [idleRow, waitingRow] = rows;
    // An empty queue without consumers, as at night, is healthy and raises no condition.
    expect(idleRow?.entity).toBe(idle);
    expect(idleRow?.status).toBe('ok');
    expect(idleRow?.lag_seconds).toBe(0);
    expect(idleRow?.conditions).toEqual([]);
    expect(waitingRow?.entity).toBe(waiting);
    expect(Number(waitingRow?.depth)).toBe(3);
    expect(waitingRow?.consumers).toBe(0);
    expect(waitingRow?.conditions).toEqual(['no_consumers']);
    expect(waitingRow?.attribute).toBe('true');
  });

  it('stores clamped lag flagged clock_skew', async () => {
    const name = `${prefix}-skewed`;
    const source = createScriptedSource(name, async (_, now) => ({
      samples: [buildSample(name, 'mes.completions', now, { depth: 4, consumers: 1, lagSeconds: -7.5 })],
      failures: [],
    }));
    const polling = startSourcePolling([source], createLagWriter(client), { spreadFirstPolls: false });

    await polling.pollNow();
    await polling.stop();

    const rows = await selectRows<Record<string, unknown>>(
      `SELECT status, lag_seconds, conditions FROM integration_lag WHERE source = '${name}'`,
    );
    expect(rows).toEqual([{ status: 'ok', lag_seconds: 0, conditions: ['clock_skew'] }]);
  });

  it('stores a disappeared series as source_down', async () => {
    const name = `${prefix}-vanishing`;
    const source = createScriptedSource(name, async (poll, now) => ({
      samples: poll === 0 ? [buildSample(name, 'a', now), buildSample(name, 'b', now)] : [buildSample(name, 'a', now)],
      failures: [],
    }));
    const polling = startSourcePolling([source], createLagWriter(client), { spreadFirstPolls: false });

    await polling.pollNow();
    await polling.pollNow();
    await polling.stop();

    const rows = await selectRows<Record<string, unknown>>(
      `SELECT entity, status, conditions, lag_seconds, depth FROM integration_lag
        WHERE source = '${name}' AND entity = 'b' ORDER BY observed_at`,
    );
    expect(rows).toEqual([
      { entity: 'b', status: 'ok', conditions: [], lag_seconds: 0, depth: 0 },
      { entity: 'b', status: 'source_down', conditions: ['series_disappeared'], lag_seconds: null, depth: null },
    ]);
    const polls = await selectRows<Record<string, unknown>>(
      `SELECT outcome, samples, down_samples FROM source_polls WHERE source = '${name}' ORDER BY started_at`,
    );
    expect(polls).toEqual([
      { outcome: 'ok', samples: 2, down_samples: 0 },
      { outcome: 'ok', samples: 2, down_samples: 1 },
    ]);
  });
});
