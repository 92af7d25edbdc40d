import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { alertsConfigSchema } from '../../../alerts/config.js';
import { createAlertSinks, type AlertDelivery } from '../../../alerts/index.js';
import type { SecurityAuditEvent } from '../../../alerts/security-audit.js';
import { APPROVE_ACTION_ID } from '../../../alerts/slack/blocks.js';
import { createSlackApi } from '../../../alerts/slack/client.js';
import { signSlackRequest } from '../../../alerts/slack/signature.js';
import { buildApiServer } from '../../../server/api-server.js';
import { FakeProposalDecider } from '../../support/proposal-decider.js';
import { startSlackApiServer, type SlackApiServer } from '../../support/slack-api-server.js';

const TOKEN = 'xoxb-test-token-0003';
const SIGNING_SECRET = 'signing-secret-for-api-server-test';
const logger = pino({ level: 'silent' });
const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-alerts-api-'));
const auditEvents: SecurityAuditEvent[] = [];
const decider = new FakeProposalDecider({ U0ADMIN: { name: 'admin', role: 'admin' } });
let slack: SlackApiServer;
let app: FastifyInstance;
let delivery: AlertDelivery;

beforeAll(async () => {
  slack = await startSlackApiServer({ token: TOKEN });
  const config = alertsConfigSchema.parse({ slack: { botToken: TOKEN, signingSecret: SIGNING_SECRET, apiUrl: slack.url, defaultChannel: 'C0OPS' } });
  delivery = createAlertSinks(config, {
    logger,
    dataDir,
    workflows: [],
    decider,
    securityAudit: { record: async (event) => void auditEvents.push(event) },
    slackApi: createSlackApi({ botToken: TOKEN, apiUrl: slack.url, logger }),
  });
  // The SQL route needs the client only when a query runs, which these tests never do.
  app = buildApiServer({ client: {} as ClickHouseClient, tokens: [], logger, storeDescription: 'embedded test' });
  delivery.registerRoutes(app);
  await app.ready();
});

afterAll(async () => {
  await delivery?.close();
  await app?.close();
  await slack?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function signedClick(timestamp = Math.floor(Date.now() / 1000)) {
  const payload = {
    type: 'block_actions',
    user: { id: 'U0ADMIN' },
    container: { channel_id: 'C0OPS', message_ts: '1.000001' },
    actions: [{ action_id: APPROVE_ACTION_ID, value: 'prop-api', action_ts: '1.5' }],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  return {
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signSlackRequest(SIGNING_SECRET, String(timestamp), body),
    },
  };
}

describe('Slack route on the API server', () => {
  it('takes signed clicks', async () => {
    const response = await app.inject({ method: 'POST', url: '/slack/interactivity', ...signedClick() });
    expect(response.statusCode).toBe(200);
    await vi.waitFor(() => expect(decider.requests.map((request) => request.proposalId)).toContain('prop-api'));
  });

  it('rejects a forged signature with a coded error', async () => {
    const click = signedClick();
    const response = await app.inject({
      method: 'POST',
      url: '/slack/interactivity',
      body: click.body,
      headers: { ...click.headers, 'x-slack-signature': `v0=${'0'.repeat(64)}` },
    });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ error: { code: 'ALERTS_SLACK_SIGNATURE_INVALID' } });
    expect(auditEvents.at(-1)?.code).toBe('ALERTS_SLACK_SIGNATURE_INVALID');
  });

  it('rejects JSON bodies', async () => {
    const response = await app.inject({ method: 'POST', url: '/slack/interactivity', payload: { payload: '{}' } });
    expect(response.statusCode).toBe(415);
  });

  it('leaves JSON parsing of other routes alone', async () => {
    const response = await app.inject({ method: 'POST', url: '/api/sql', payload: { query: 'SELECT 1' } });
    expect(response.statusCode).toBe(401);
  });

  it('stays out of the OpenAPI document', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(response.statusCode).toBe(200);
    expect(response.body).not.toContain('/slack/interactivity');
  });
});
