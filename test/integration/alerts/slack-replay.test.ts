import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { alertsConfigSchema } from '../../../alerts/config.js';
import { createAlertSinks, SLACK_SEEN_SIGNATURES_FILE } from '../../../alerts/index.js';
import type { SecurityAuditEvent } from '../../../alerts/security-audit.js';
import type { SlackApi } from '../../../alerts/slack/client.js';
import { signSlackRequest } from '../../../alerts/slack/signature.js';
import { FakeProposalDecider } from '../../support/proposal-decider.js';

const SIGNING_SECRET = 'signing-secret-for-replay-tests-0123';
const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-alerts-replay-'));
const unusedSlackApi: SlackApi = {
  postMessage: async () => ({ channel: 'C0OPS', ts: '1.000001' }),
  updateMessage: async () => undefined,
  postEphemeral: async () => undefined,
};

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts the interactivity route as the service does, on the shared data directory, posts one request and stops. */
async function postOnFreshService(request: { body: string; headers: Record<string, string> }, audit: SecurityAuditEvent[]): Promise<number> {
  const config = alertsConfigSchema.parse({ slack: { botToken: 'xoxb-unused', signingSecret: SIGNING_SECRET, defaultChannel: 'C0OPS' } });
  const delivery = createAlertSinks(config, {
    logger: pino({ level: 'silent' }),
    dataDir,
    workflows: [],
    decider: new FakeProposalDecider({}),
    securityAudit: { record: async (event) => void audit.push(event) },
    slackApi: unusedSlackApi,
  });
  const app = Fastify({ logger: false });
  delivery.registerRoutes(app);
  try {
    const response = await app.inject({ method: 'POST', url: '/slack/interactivity', headers: request.headers, payload: request.body });
    return response.statusCode;
  } finally {
    await app.close();
    await delivery.close();
  }
}

describe('Slack replay protection', () => {
  it('rejects a replay after a restart', async () => {
    // A click on a link button needs only the acknowledgement, so no decider or Slack call is involved.
    const payload = { type: 'block_actions', user: { id: 'U0BOB' }, actions: [{ action_id: 'open_dashboard', value: 'x' }] };
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = signSlackRequest(SIGNING_SECRET, timestamp, body);
    const request = {
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature },
    };
    const audit: SecurityAuditEvent[] = [];

    expect(await postOnFreshService(request, audit)).toBe(200);
    const stored = readFileSync(join(dataDir, SLACK_SEEN_SIGNATURES_FILE), 'utf8');
    expect(stored).not.toContain(signature.slice(3));

    expect(await postOnFreshService(request, audit)).toBe(401);
    expect(audit.map((event) => event.code)).toEqual(['ALERTS_SLACK_REPLAYED']);
  });
});
