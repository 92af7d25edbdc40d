import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../../alerts/alert.js';
import { alertsConfigSchema } from '../../../alerts/config.js';
import { createAlertSinks, SLACK_MESSAGE_STATE_FILE, type AlertDelivery } from '../../../alerts/index.js';
import { createSlackApi } from '../../../alerts/slack/client.js';
import { SlackMessageStore } from '../../../alerts/slack/message-store.js';
import { SlackAlertSink } from '../../../alerts/slack/sink.js';
import { lagAnomaly } from '../../support/alert-events.js';
import { startSlackApiServer, type SlackApiServer } from '../../support/slack-api-server.js';

const TOKEN = 'xoxb-test-token-0001';
const logger = pino({ level: 'silent' });
const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-alerts-slack-'));
/** Retries fast enough for tests; `Retry-After` still sets the wait on 429. */
const FAST_RETRY = { retries: 4, minTimeout: 20, maxTimeout: 200, factor: 2 };

let slack: SlackApiServer;
const openDeliveries: AlertDelivery[] = [];

beforeAll(async () => {
  slack = await startSlackApiServer({ token: TOKEN });
});

afterEach(async () => {
  await Promise.all(openDeliveries.splice(0).map((delivery) => delivery.close()));
});

afterAll(async () => {
  await slack?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function createDelivery(options: { stateDir: string; replyInterval?: string; server?: SlackApiServer; routes?: unknown[] }): AlertDelivery {
  const server = options.server ?? slack;
  const config = alertsConfigSchema.parse({
    slack: {
      botToken: TOKEN,
      apiUrl: server.url,
      defaultChannel: 'C0OPS',
      routes: options.routes ?? [{ match: { plant: 'plant-2', severity: 'critical' }, channel: 'C0PLANT2' }],
      throttle: { replyInterval: options.replyInterval ?? '200ms', groupWindow: '15m' },
    },
    links: { dashboardUrl: 'http://127.0.0.1:3000/grafana', consoleUrl: 'http://127.0.0.1:8318/console' },
  });
  const slackApi = createSlackApi({ botToken: TOKEN, apiUrl: server.url, logger, retryConfig: FAST_RETRY });
  const delivery = createAlertSinks(config, { logger, dataDir: options.stateDir, workflows: [], slackApi });
  openDeliveries.push(delivery);
  return delivery;
}

function blocksText(blocks: unknown[]): string {
  return JSON.stringify(blocks);
}

function freshDir(name: string): string {
  return mkdtempSync(join(dataDir, `${name}-`));
}

describe('Slack alert delivery', () => {
  it('posts a root message with every field ops need', async () => {
    const delivery = createDelivery({ stateDir: freshDir('fields') });
    await delivery.send(lagAnomaly({ incidentId: 'inc-fields' }));

    const posts = slack.handled('chat.postMessage').filter((call) => JSON.stringify(call.args).includes('inc-fields'));
    expect(posts).toHaveLength(1);
    const args = posts[0]!.args;
    expect(args.channel).toBe('C0PLANT2');
    expect(args.text).toBe('[CRITICAL] Quality holds from QMS to Odoo lag 14 min in plant-2');
    const text = blocksText(args.blocks as unknown[]);
    expect(text).toContain('qms-odoo');
    expect(text).toContain('quality_hold');
    expect(text).toContain('plant-2');
    expect(text).toContain('842 s');
    expect(text).toContain('band 0–120 s');
    expect(text).toContain('objective p95 within 2m');
    expect(text).toContain('2026-12-04 18:35:00 UTC – 2026-12-04 18:40:00 UTC');
    expect(text).toContain('in 14 min (2026-12-04 18:54:00 UTC), probability 82%');
    expect(text).toContain('`timeout`');
    expect(text).toContain('Authorization: [redacted]');
    expect(text).not.toContain('abcdefghijklmnop');
    expect(text).not.toContain('qa.lead@example.com');
    expect(text).toContain('`corr-5`');
    expect(text).toContain('and 2 more');
    expect(text).toContain('ALERT_LAG_ANOMALY');
    expect(text).toContain('http://127.0.0.1:3000/grafana/d/syncwatch-integration-drill-down?var-plant=plant-2&var-integration=qms-odoo');
    expect(text).toContain('<http://127.0.0.1:8318/console|Console>');
  });

  it('hides buttons without interactivity', async () => {
    const delivery = createDelivery({ stateDir: freshDir('no-buttons') });
    const app = Fastify({ logger: false });
    delivery.registerRoutes(app);
    await delivery.send(
      lagAnomaly({
        incidentId: 'inc-no-buttons',
        proposals: [{ proposalId: 'prop-no-buttons', action: 'requeue_dead_letters', summary: 'Requeue 12 quality holds', expiresAt: new Date(Date.now() + 3_600_000) }],
      }),
    );
    await app.close();

    const post = slack.handled('chat.postMessage').find((call) => JSON.stringify(call.args).includes('inc-no-buttons'))!;
    const text = blocksText(post.args.blocks as unknown[]);
    expect(text).toContain('requeue_dead_letters');
    expect(text).not.toContain('syncwatch_proposal_approve');
    expect(text).not.toContain('syncwatch_proposal_reject');
    expect(text).toContain('http://127.0.0.1:8318/console#proposal=prop-no-buttons|the console');
  });

  it('threads updates and rewrites the root on resolution', async () => {
    const delivery = createDelivery({ stateDir: freshDir('thread'), replyInterval: '50ms' });
    const opened = lagAnomaly({ incidentId: 'inc-thread', severity: 'warning' });
    await delivery.send(opened);
    const root = slack.handled('chat.postMessage').find((call) => JSON.stringify(call.args).includes('inc-thread'))!;
    const rootMessage = [...slack.messages.values()].find((message) => message.channel === 'C0OPS' && message.text === root.args.text && !message.threadTs)!;

    await delivery.send({ ...opened, state: 'updated', metric: { ...opened.metric!, observed: 1200 }, at: new Date('2026-12-04T18:45:00Z') });
    await delivery.send({ ...opened, state: 'resolved', metric: { ...opened.metric!, observed: 12 }, at: new Date('2026-12-04T18:50:00Z') });

    const replies = slack.threadReplies('C0OPS', rootMessage.ts);
    expect(replies.length).toBeGreaterThanOrEqual(1);
    expect(replies.length).toBeLessThanOrEqual(2);
    expect(replies.at(-1)!.text).toBe(`Resolved: ${opened.title}`);
    const updated = slack.messages.get(`C0OPS/${rootMessage.ts}`)!;
    expect(updated.updates).toBeGreaterThanOrEqual(1);
    expect(updated.text).toBe(`Resolved: ${opened.title}`);
    expect(blocksText(updated.blocks)).toContain('Resolved 2026-12-04 18:50:00 UTC');
  });

  it('keeps threading after a restart', async () => {
    const stateDir = freshDir('restart');
    const first = createDelivery({ stateDir });
    const opened = lagAnomaly({ incidentId: 'inc-restart', plant: 'plant-9' });
    await first.send(opened);
    await first.close();
    openDeliveries.splice(openDeliveries.indexOf(first), 1);
    const rootTs = new SlackMessageStore(join(stateDir, SLACK_MESSAGE_STATE_FILE), logger).threadOfIncident('inc-restart')?.ts;
    expect(rootTs).toBeDefined();

    const second = createDelivery({ stateDir });
    await second.send({ ...opened, state: 'resolved', at: new Date('2026-12-04T19:00:00Z') });

    const roots = slack.handled('chat.postMessage').filter((call) => JSON.stringify(call.args).includes('inc-restart') && call.args.thread_ts === undefined);
    expect(roots).toHaveLength(1);
    const replies = slack.threadReplies('C0OPS', rootTs!);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.text).toBe(`Resolved: ${opened.title}`);
  });

  it('waits for Retry-After when rate limited', async () => {
    const limited = await startSlackApiServer({ token: TOKEN, rateLimitPerWindow: 2, rateLimitWindowMs: 1_500, retryAfterSeconds: 1 });
    try {
      const delivery = createDelivery({ stateDir: freshDir('ratelimit'), server: limited });
      const started = Date.now();
      await Promise.all(
        ['a', 'b', 'c'].map((suffix) => delivery.send(lagAnomaly({ incidentId: `inc-rl-${suffix}`, integration: `integration-${suffix}` }))),
      );
      const posts = limited.calls.filter((call) => call.method === 'chat.postMessage');
      const refused = posts.filter((call) => call.rateLimited);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(limited.handled('chat.postMessage')).toHaveLength(3);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      const firstRefusal = refused[0]!.at;
      const nextAttempt = posts.find((call) => call.at > firstRefusal);
      expect(nextAttempt!.at - firstRefusal).toBeGreaterThanOrEqual(950);
    } finally {
      await limited.close();
    }
  });

  it('folds a burst of 1,000 anomalies into one thread', async () => {
    const stateDir = freshDir('burst');
    const store = new SlackMessageStore(join(stateDir, 'state.json'), logger);
    const sink = new SlackAlertSink({
      api: createSlackApi({ botToken: TOKEN, apiUrl: slack.url, logger, retryConfig: FAST_RETRY }),
      config: { defaultChannel: 'C0BURST', routes: [], throttle: { replyInterval: 100, groupWindow: 60_000 } },
      links: {},
      store,
      syncModeOf: () => undefined,
      logger,
    });
    const start = new Date('2026-12-04T18:00:00Z').getTime();
    const events: AlertEvent[] = Array.from({ length: 1_000 }, (_, index) => ({
      ...lagAnomaly(),
      // Forty entities of one integration, each reporting 25 times within the minute.
      incidentId: `inc-burst-${index % 40}`,
      state: index < 40 ? 'opened' : 'updated',
      metric: { name: 'lag_seconds', observed: 100 + index, unit: 's' },
      at: new Date(start + index * 60),
    }));
    const beforeCalls = slack.calls.length;
    const startedAt = Date.now();
    // Twenty batches of fifty, 50 ms apart: one simulated minute compressed into one second.
    for (let batch = 0; batch < 20; batch += 1) {
      await Promise.all(events.slice(batch * 50, batch * 50 + 50).map((event) => sink.send(event)));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await sink.close();
    const elapsedMs = Date.now() - startedAt;

    const calls = slack.calls.slice(beforeCalls).filter((call) => call.args.channel === 'C0BURST');
    const roots = calls.filter((call) => call.method === 'chat.postMessage' && call.args.thread_ts === undefined);
    const replies = calls.filter((call) => call.method === 'chat.postMessage' && call.args.thread_ts !== undefined);
    const updates = calls.filter((call) => call.method === 'chat.update');
    expect(roots).toHaveLength(1);
    // One reply per 100 ms interval plus the closing flush.
    const bound = Math.ceil(elapsedMs / 100) + 2;
    expect(replies.length).toBeGreaterThan(0);
    expect(replies.length).toBeLessThanOrEqual(bound);
    expect(updates.length).toBe(replies.length);
    expect(sink.stats.rootMessages).toBe(1);
    const lastReply = JSON.stringify(replies.at(-1)!.args.blocks);
    expect(lastReply).toContain('folded into this reply');
  });
});
