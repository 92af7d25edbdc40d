import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { APPROVE_ACTION_ID } from '../../../alerts/slack/blocks.js';
import { signSlackRequest } from '../../../alerts/slack/signature.js';
import { parseConfigObject } from '../../../config/index.js';
import { startService, type RunningService } from '../../../server/index.js';
import { lagAnomaly } from '../../support/alert-events.js';
import { startSlackApiServer, type SlackApiServer } from '../../support/slack-api-server.js';

const TOKEN = 'xoxb-test-token-0004';
const SIGNING_SECRET = 'signing-secret-for-service-test';
const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-alerts-service-'));
let slack: SlackApiServer;
let service: RunningService;

beforeAll(async () => {
  slack = await startSlackApiServer({ token: TOKEN });
  const config = parseConfigObject({
    store: { dataDir },
    collector: { otlp: { port: 0 } },
    api: { port: 0 },
    remediation: { users: [{ name: 'vera', role: 'viewer', slackUserId: 'U0VERA' }] },
    alerts: { slack: { botToken: TOKEN, signingSecret: SIGNING_SECRET, apiUrl: slack.url, defaultChannel: 'C0OPS' } },
  });
  service = await startService({ config, logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await service?.stop();
  await slack?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function postClick(userId: string, proposalId: string, secret = SIGNING_SECRET): Promise<Response> {
  const payload = {
    type: 'block_actions',
    user: { id: userId },
    container: { channel_id: 'C0OPS', message_ts: '1.000001' },
    actions: [{ action_id: APPROVE_ACTION_ID, value: proposalId, action_ts: `${Date.now() / 1000}` }],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const timestamp = String(Math.floor(Date.now() / 1000));
  return fetch(`${service.apiUrl}/slack/interactivity`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signSlackRequest(secret, timestamp, body),
    },
    body,
  });
}

describe('service alert wiring', () => {
  it('posts alerts to Slack', async () => {
    await service.alerts.send(lagAnomaly({ incidentId: 'inc-service' }));
    expect(slack.handled('chat.postMessage')).toHaveLength(1);
  });

  it('audits a forged signature in the remediation log', async () => {
    const response = await postClick('U0VERA', 'prop-forged', 'wrong-signing-secret-000000');
    expect(response.status).toBe(401);
    const entries = await service.remediation.listAudit({});
    const entry = entries.find((candidate) => candidate.code === 'ALERTS_SLACK_SIGNATURE_INVALID');
    expect(entry?.event).toBe('slack.request_rejected');
    expect(entry?.channel).toBe('slack');
  });

  it('audits an unknown Slack user', async () => {
    const response = await postClick('U0NOBODY', 'prop-unknown');
    expect(response.status).toBe(200);
    await vi.waitFor(async () => {
      const entries = await service.remediation.listAudit({ proposalId: 'prop-unknown' });
      expect(entries.map((entry) => entry.code)).toContain('ALERTS_SLACK_USER_UNKNOWN');
    });
    const entries = await service.remediation.listAudit({ proposalId: 'prop-unknown' });
    expect(entries[0]?.actor).toBe('slack:U0NOBODY');
  });

  it('sends a viewer through the approval policy', async () => {
    const response = await postClick('U0VERA', 'prop-viewer');
    expect(response.status).toBe(200);
    await vi.waitFor(async () => {
      const entries = await service.remediation.listAudit({ proposalId: 'prop-viewer' });
      expect(entries.map((entry) => `${entry.actor} ${entry.event}`)).toContain('vera decision.refused');
    });
    await vi.waitFor(() => expect(slack.handled('chat.postEphemeral').some((call) => call.args.user === 'U0VERA')).toBe(true));
  });

  it('audits NUL in a Slack user id', async () => {
    const response = await postClick('U0VE\u0000RA', 'prop-nul');
    expect(response.status).toBe(400);
    const entries = await service.remediation.listAudit({ limit: 10_000 });
    const entry = entries.find((candidate) => candidate.detail.includes('invalid payload field user.id'));
    expect(entry?.code).toBe('ALERTS_SLACK_PAYLOAD_INVALID');
  });

  // Runs last, because it leaves 127.0.0.1 rate-limited for a minute.
  it('bounds audit rows of an unsigned flood', async () => {
    const rejectedRows = async () =>
      (await service.remediation.listAudit({ limit: 10_000 })).filter((entry) => entry.event === 'slack.request_rejected').length;
    const before = await rejectedRows();
    const statuses: number[] = [];
    for (let batch = 0; batch < 10; batch += 1) {
      const responses = await Promise.all(
        Array.from({ length: 50 }, () =>
          fetch(`${service.apiUrl}/slack/interactivity`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: 'payload=%7B%7D',
          }),
        ),
      );
      statuses.push(...responses.map((response) => response.status));
      await Promise.all(responses.map((response) => response.body?.cancel()));
    }
    expect(statuses.every((status) => status === 401 || status === 429)).toBe(true);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(0);
    expect((await rejectedRows()) - before).toBeLessThanOrEqual(2);
  });
});
