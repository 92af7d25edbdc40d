import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AlertEvent } from '../../../alerts/alert.js';
import type { SlackApi } from '../../../alerts/slack/client.js';
import { SlackMessageStore } from '../../../alerts/slack/message-store.js';
import { SlackAlertSink } from '../../../alerts/slack/sink.js';
import { lagAnomaly } from '../../support/alert-events.js';

const logger = pino({ level: 'silent' });
const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-slack-sink-'));

interface Call {
  method: 'post' | 'update' | 'ephemeral';
  channel: string;
  threadTs?: string;
  text: string;
}

function recordingApi(calls: Call[]): SlackApi {
  let sequence = 0;
  return {
    async postMessage({ channel, text, threadTs }) {
      calls.push({ method: 'post', channel, text, ...(threadTs ? { threadTs } : {}) });
      sequence += 1;
      return { channel, ts: `1700000000.${String(sequence).padStart(6, '0')}` };
    },
    async updateMessage({ channel, text }) {
      calls.push({ method: 'update', channel, text });
    },
    async postEphemeral({ channel, text }) {
      calls.push({ method: 'ephemeral', channel, text });
    },
  };
}

function createSink(calls: Call[], options: { quiet?: boolean; storePath?: string } = {}): SlackAlertSink {
  return new SlackAlertSink({
    api: recordingApi(calls),
    config: {
      defaultChannel: 'C0OPS',
      routes: [],
      throttle: { replyInterval: 60_000, groupWindow: 15 * 60_000 },
      ...(options.quiet
        ? { quietHours: { start: '22:00', end: '06:00', timeZone: 'UTC', appliesTo: { syncModes: ['batch'], severities: ['warning', 'info'] } } }
        : {}),
    },
    links: {},
    store: new SlackMessageStore(options.storePath ?? join(mkdtempSync(join(dataDir, 'store-')), 'state.json'), logger),
    syncModeOf: (workflow) => (workflow === 'cost_rollup' ? 'batch' : 'real_time'),
    logger,
  });
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(new Date('2026-12-04T18:00:00Z'));
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('SlackAlertSink', () => {
  it('posts 1,000 anomalies in one minute as one root and one reply', async () => {
    const calls: Call[] = [];
    const sink = createSink(calls);
    for (let index = 0; index < 1_000; index += 1) {
      const event: AlertEvent = {
        ...lagAnomaly(),
        incidentId: `inc-${index % 100}`,
        state: index < 100 ? 'opened' : 'updated',
        at: new Date(),
      };
      await sink.send(event);
      await vi.advanceTimersByTimeAsync(60);
    }
    await sink.close();
    const roots = calls.filter((call) => call.method === 'post' && call.threadTs === undefined);
    const replies = calls.filter((call) => call.method === 'post' && call.threadTs !== undefined);
    const updates = calls.filter((call) => call.method === 'update');
    expect(roots).toHaveLength(1);
    // The 60 s reply interval starts with the root message, so one reply carries the other 999 events.
    expect(replies).toHaveLength(1);
    expect(updates).toHaveLength(1);
    expect(replies[0]!.text).toContain('(+998 updates)');
  });

  it('posts a resolution at once', async () => {
    const calls: Call[] = [];
    const sink = createSink(calls);
    const opened = lagAnomaly({ at: new Date() });
    await sink.send(opened);
    await sink.send({ ...opened, state: 'resolved', at: new Date() });
    expect(calls.map((call) => call.method)).toEqual(['post', 'post', 'update']);
    expect(calls[1]!.text).toBe(`Resolved: ${opened.title}`);
    await sink.close();
  });

  it('starts a new thread after its group resolved', async () => {
    const calls: Call[] = [];
    const sink = createSink(calls);
    await sink.send(lagAnomaly({ incidentId: 'a', at: new Date() }));
    await sink.send(lagAnomaly({ incidentId: 'a', state: 'resolved', at: new Date() }));
    await sink.send(lagAnomaly({ incidentId: 'b', at: new Date() }));
    const roots = calls.filter((call) => call.method === 'post' && call.threadTs === undefined);
    expect(roots).toHaveLength(2);
    await sink.close();
  });

  it('holds quiet-hour alerts until morning', async () => {
    vi.setSystemTime(new Date('2026-12-04T23:00:00Z'));
    const calls: Call[] = [];
    const sink = createSink(calls, { quiet: true });
    await sink.send(lagAnomaly({ incidentId: 'batch-1', workflow: 'cost_rollup', severity: 'warning', at: new Date() }));
    await sink.send(lagAnomaly({ incidentId: 'batch-2', workflow: 'cost_rollup', severity: 'warning', integration: 'other', at: new Date() }));
    await sink.send(lagAnomaly({ incidentId: 'batch-2', workflow: 'cost_rollup', severity: 'warning', integration: 'other', state: 'resolved', at: new Date() }));
    await sink.send(lagAnomaly({ incidentId: 'hold-1', workflow: 'quality_hold', severity: 'warning', integration: 'qms', at: new Date() }));
    expect(calls.filter((call) => call.method === 'post')).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(7 * 60 * 60_000);
    const roots = calls.filter((call) => call.method === 'post' && call.threadTs === undefined);
    expect(roots).toHaveLength(2);
    expect(sink.stats.droppedQuietResolved).toBe(1);
    await sink.close();
  });

  it('keeps root and open incidents across a restart', async () => {
    const storePath = join(mkdtempSync(join(dataDir, 'restart-')), 'state.json');
    const calls: Call[] = [];
    const first = createSink(calls, { storePath });
    await first.send(lagAnomaly({ incidentId: 'root', title: 'Root incident', at: new Date() }));
    await first.send(lagAnomaly({ incidentId: 'joined', title: 'Joined incident', at: new Date() }));
    await first.close();

    const second = createSink(calls, { storePath });
    await second.send(lagAnomaly({ incidentId: 'joined', title: 'Joined incident', state: 'resolved', at: new Date() }));
    await second.close();
    const lastUpdate = calls.filter((call) => call.method === 'update').at(-1)!;
    expect(lastUpdate.text).toBe('[CRITICAL] Root incident');

    const third = createSink(calls, { storePath });
    await third.send(lagAnomaly({ incidentId: 'root', title: 'Root incident', state: 'resolved', at: new Date() }));
    await third.close();
    const roots = calls.filter((call) => call.method === 'post' && call.threadTs === undefined);
    expect(roots).toHaveLength(1);
    expect(calls.filter((call) => call.method === 'update').at(-1)!.text).toBe('Resolved: Root incident');
  });
});
