import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { alertsConfigSchema } from '../../../alerts/config.js';
import { createAlertSinks, type AlertDelivery } from '../../../alerts/index.js';
import type { SecurityAuditEvent } from '../../../alerts/security-audit.js';
import { APPROVE_ACTION_ID, REJECT_ACTION_ID } from '../../../alerts/slack/blocks.js';
import { createSlackApi } from '../../../alerts/slack/client.js';
import { signSlackRequest } from '../../../alerts/slack/signature.js';
import { lagAnomaly } from '../../support/alert-events.js';
import { FakeProposalDecider } from '../../support/proposal-decider.js';
import { startSlackApiServer, type FakeSlackMessage, type SlackApiServer } from '../../support/slack-api-server.js';

const TOKEN = 'xoxb-test-token-0002';
const SIGNING_SECRET = 'signing-secret-for-tests-0123456789';
const logger = pino({ level: 'silent' });
const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-alerts-interactivity-'));

let slack: SlackApiServer;
let app: FastifyInstance;
let delivery: AlertDelivery;
let endpoint: string;
const auditEvents: SecurityAuditEvent[] = [];
const decider = new FakeProposalDecider({
  U0ALICE: { name: 'alice', role: 'approver' },
  U0BOB: { name: 'bob', role: 'admin' },
  U0VERA: { name: 'vera', role: 'viewer' },
});

beforeAll(async () => {
  slack = await startSlackApiServer({ token: TOKEN });
  const config = alertsConfigSchema.parse({
    slack: { botToken: TOKEN, signingSecret: SIGNING_SECRET, apiUrl: slack.url, defaultChannel: 'C0OPS', throttle: { replyInterval: '50ms' } },
  });
  delivery = createAlertSinks(config, {
    logger,
    dataDir,
    workflows: [],
    decider,
    securityAudit: { record: async (event) => void auditEvents.push(event) },
    // Every rejection here is checked one by one; grouping has its own tests.
    interactivityLimits: { auditGroupWindowMs: 0 },
    slackApi: createSlackApi({ botToken: TOKEN, apiUrl: slack.url, logger, retryConfig: { retries: 2, minTimeout: 20, maxTimeout: 100 } }),
  });
  app = Fastify({ logger: false });
  delivery.registerRoutes(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/slack/interactivity`;
});

afterAll(async () => {
  await delivery?.close();
  await app?.close();
  await slack?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Posts an alert carrying one proposal and returns the Slack message that shows its buttons. */
async function postProposal(proposalId: string): Promise<FakeSlackMessage> {
  await delivery.send(
    lagAnomaly({
      incidentId: `inc-${proposalId}`,
      integration: `integration-${proposalId}`,
      proposals: [{ proposalId, action: 'requeue_dead_letters', summary: 'Requeue 12 quality holds', expiresAt: new Date(Date.now() + 3_600_000) }],
    }),
  );
  const message = [...slack.messages.values()].find((candidate) => JSON.stringify(candidate.blocks).includes(`proposal:${proposalId}`));
  if (!message) throw new Error(`no Slack message shows proposal ${proposalId}`);
  return message;
}

let clicks = 0;

function click(userId: string, decision: 'approve' | 'reject', proposalId: string, message: FakeSlackMessage): Record<string, unknown> {
  clicks += 1;
  return {
    type: 'block_actions',
    user: { id: userId, username: userId.toLowerCase() },
    container: { type: 'message', channel_id: message.channel, message_ts: message.ts },
    channel: { id: message.channel },
    message: { ts: message.ts, text: message.text, blocks: message.blocks },
    actions: [
      {
        action_id: decision === 'approve' ? APPROVE_ACTION_ID : REJECT_ACTION_ID,
        block_id: `proposal:${proposalId}`,
        value: proposalId,
        action_ts: `${Math.floor(Date.now() / 1000)}.${String(clicks).padStart(6, '0')}`,
      },
    ],
  };
}

interface SignedRequest {
  body: string;
  headers: Record<string, string>;
}

function sign(payload: Record<string, unknown>, options: { timestamp?: number; secret?: string } = {}): SignedRequest {
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  return {
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signSlackRequest(options.secret ?? SIGNING_SECRET, timestamp, body),
    },
  };
}

function send(request: SignedRequest): Promise<Response> {
  return fetch(endpoint, { method: 'POST', headers: request.headers, body: request.body });
}

function currentMessage(message: FakeSlackMessage): FakeSlackMessage {
  return slack.messages.get(`${message.channel}/${message.ts}`)!;
}

function ephemeralsFor(userId: string) {
  return slack.handled('chat.postEphemeral').filter((call) => call.args.user === userId);
}

describe('POST /slack/interactivity', () => {
  it('approves with two approvers and updates the message', async () => {
    const message = await postProposal('prop-approve');

    const first = await send(sign(click('U0ALICE', 'approve', 'prop-approve', message)));
    expect(first.status).toBe(200);
    await vi.waitFor(() => expect(JSON.stringify(currentMessage(message).blocks)).toContain('waiting for a second approver'));
    expect(JSON.stringify(currentMessage(message).blocks)).toContain(`"block_id":"proposal:prop-approve"`);

    const second = await send(sign(click('U0BOB', 'approve', 'prop-approve', currentMessage(message))));
    expect(second.status).toBe(200);
    await vi.waitFor(() => expect(JSON.stringify(currentMessage(message).blocks)).toContain('Approved by <@U0BOB> (bob)'));
    const blocks = JSON.stringify(currentMessage(message).blocks);
    expect(blocks).toContain('executed: requeued 12 jobs');
    expect(blocks).not.toContain(`"block_id":"proposal:prop-approve"`);
    expect(decider.requests.filter((request) => request.proposalId === 'prop-approve').map((request) => request.userName)).toEqual(['alice', 'bob']);
    expect(decider.requests.every((request) => request.channel === 'slack')).toBe(true);
  });

  it('rejects and shows who rejected', async () => {
    const message = await postProposal('prop-reject');
    const response = await send(sign(click('U0ALICE', 'reject', 'prop-reject', message)));
    expect(response.status).toBe(200);
    await vi.waitFor(() => expect(JSON.stringify(currentMessage(message).blocks)).toContain('Rejected by <@U0ALICE> (alice)'));
    const request = decider.requests.find((candidate) => candidate.proposalId === 'prop-reject')!;
    expect(request.decision).toBe('reject');
    expect(request.reason).toBe('rejected in Slack by alice');
  });

  it('refuses a second approval by the same user', async () => {
    const message = await postProposal('prop-self');
    await send(sign(click('U0ALICE', 'approve', 'prop-self', message)));
    await vi.waitFor(() => expect(JSON.stringify(currentMessage(message).blocks)).toContain('waiting for a second approver'));
    await send(sign(click('U0ALICE', 'approve', 'prop-self', currentMessage(message))));
    await vi.waitFor(() => expect(decider.audit.some((entry) => entry.proposalId === 'prop-self' && entry.code === 'REMEDIATION_SELF_APPROVAL')).toBe(true));
    await vi.waitFor(() => expect(ephemeralsFor('U0ALICE').some((call) => String(call.args.text).includes('REMEDIATION_SELF_APPROVAL'))).toBe(true));
  });

  it('refuses a forged signature', async () => {
    const message = await postProposal('prop-forged');
    const requestsBefore = decider.requests.length;
    const response = await send(sign(click('U0BOB', 'approve', 'prop-forged', message), { secret: 'not-the-signing-secret-at-all' }));
    expect(response.status).toBe(401);
    const body = (await response.json()) as { error: { code: string } };
    expect(body.error.code).toBe('ALERTS_SLACK_SIGNATURE_INVALID');
    expect(auditEvents.at(-1)?.code).toBe('ALERTS_SLACK_SIGNATURE_INVALID');
    expect(decider.requests.length).toBe(requestsBefore);
  });

  it('refuses a body changed after signing', async () => {
    const message = await postProposal('prop-tampered');
    const signed = sign(click('U0VERA', 'approve', 'prop-tampered', message));
    const tampered = { ...signed, body: signed.body.replace('U0VERA', 'U0BOB0') };
    const response = await send(tampered);
    expect(response.status).toBe(401);
    expect(auditEvents.at(-1)?.code).toBe('ALERTS_SLACK_SIGNATURE_INVALID');
  });

  it('refuses an old timestamp', async () => {
    const message = await postProposal('prop-stale');
    const requestsBefore = decider.requests.length;
    const sixMinutesAgo = Math.floor(Date.now() / 1000) - 6 * 60;
    const response = await send(sign(click('U0BOB', 'approve', 'prop-stale', message), { timestamp: sixMinutesAgo }));
    expect(response.status).toBe(401);
    expect(auditEvents.at(-1)?.code).toBe('ALERTS_SLACK_TIMESTAMP_STALE');
    expect(decider.requests.length).toBe(requestsBefore);
  });

  it('refuses a replayed request', async () => {
    const message = await postProposal('prop-replay');
    const signed = sign(click('U0BOB', 'reject', 'prop-replay', message));
    expect((await send(signed)).status).toBe(200);
    const replay = await send(signed);
    expect(replay.status).toBe(401);
    expect(auditEvents.at(-1)?.code).toBe('ALERTS_SLACK_REPLAYED');
  });

  it('refuses a request without signature headers', async () => {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'payload=%7B%7D',
    });
    expect(response.status).toBe(401);
    expect(auditEvents.at(-1)?.code).toBe('ALERTS_SLACK_SIGNATURE_MISSING');
  });

  it('accepts line breaks in message text', async () => {
    const message = await postProposal('prop-multiline');
    const payload = click('U0BOB', 'reject', 'prop-multiline', message);
    (payload.message as { text: string }).text = 'first line\nsecond line';
    const response = await send(sign(payload));
    expect(response.status).toBe(200);
    await vi.waitFor(() => expect(JSON.stringify(currentMessage(message).blocks)).toContain('Rejected by <@U0BOB> (bob)'));
  });

  it('rejects a null action entry', async () => {
    const requestsBefore = decider.requests.length;
    const payload = { type: 'block_actions', user: { id: 'U0BOB' }, actions: [null] };
    const response = await send(sign(payload));
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('ALERTS_SLACK_PAYLOAD_INVALID');
    expect(body.error.message).toBe('invalid payload field actions[0]: expected object, received null');
    const entry = auditEvents.find((event) => event.code === 'ALERTS_SLACK_PAYLOAD_INVALID' && event.detail.includes('actions[0]'));
    expect(entry).toBeDefined();
    expect(decider.requests.length).toBe(requestsBefore);
  });

  it('rejects NUL in a user id', async () => {
    const message = await postProposal('prop-nul');
    const requestsBefore = decider.requests.length;
    const payload = { ...click('U0BOB', 'approve', 'prop-nul', message), user: { id: 'U0B\u0000OB' } };
    const response = await send(sign(payload));
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('ALERTS_SLACK_PAYLOAD_INVALID');
    expect(body.error.message).toContain('invalid payload field user.id: expected a Slack id');
    expect(body.error.message).toContain('received "U0B\\u0000OB"');
    const entry = auditEvents.find((event) => event.detail.includes('user.id'));
    expect(entry?.code).toBe('ALERTS_SLACK_PAYLOAD_INVALID');
    expect(entry?.actor).toBe('unknown');
    expect(entry?.detail).not.toContain('\u0000');
    expect(decider.requests.length).toBe(requestsBefore);
  });

  it('rejects NUL in a proposal id', async () => {
    const message = await postProposal('prop-nul-value');
    const payload = click('U0BOB', 'approve', 'prop-nul-value', message);
    (payload.actions as Array<{ value: string }>)[0]!.value = 'prop\u0000x';
    const response = await send(sign(payload));
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toContain('invalid payload field actions[0].value: expected text without control characters');
  });

  it('refuses an unknown Slack user', async () => {
    const message = await postProposal('prop-unknown');
    const requestsBefore = decider.requests.length;
    const response = await send(sign(click('U0STRANGER', 'approve', 'prop-unknown', message)));
    expect(response.status).toBe(200);
    await vi.waitFor(() => expect(auditEvents.some((event) => event.code === 'ALERTS_SLACK_USER_UNKNOWN' && event.actor === 'U0STRANGER')).toBe(true));
    const entry = auditEvents.find((event) => event.code === 'ALERTS_SLACK_USER_UNKNOWN')!;
    expect(entry.proposalId).toBe('prop-unknown');
    await vi.waitFor(() => expect(ephemeralsFor('U0STRANGER')).toHaveLength(1));
    expect(decider.requests.length).toBe(requestsBefore);
    expect(JSON.stringify(currentMessage(message).blocks)).toContain(`"block_id":"proposal:prop-unknown"`);
  });

  it('refuses a viewer through the approval policy', async () => {
    const message = await postProposal('prop-viewer');
    const response = await send(sign(click('U0VERA', 'approve', 'prop-viewer', message)));
    expect(response.status).toBe(200);
    await vi.waitFor(() =>
      expect(decider.audit).toContainEqual({ actor: 'vera', event: 'approve:refused', proposalId: 'prop-viewer', code: 'REMEDIATION_FORBIDDEN_ROLE' }),
    );
    await vi.waitFor(() => expect(ephemeralsFor('U0VERA').some((call) => String(call.args.text).includes('REMEDIATION_FORBIDDEN_ROLE'))).toBe(true));
    expect(JSON.stringify(currentMessage(message).blocks)).toContain(`"block_id":"proposal:prop-viewer"`);
  });

  it('acknowledges before a slow decision ends', async () => {
    const message = await postProposal('prop-slow');
    let release: () => void = () => {};
    decider.gate = new Promise((resolve) => {
      release = resolve;
    });
    try {
      const started = Date.now();
      const response = await send(sign(click('U0BOB', 'reject', 'prop-slow', message)));
      expect(response.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(decider.requests.some((request) => request.proposalId === 'prop-slow')).toBe(false);
    } finally {
      release();
      decider.gate = Promise.resolve();
    }
    await vi.waitFor(() => expect(JSON.stringify(currentMessage(message).blocks)).toContain('Rejected by <@U0BOB> (bob)'));
  });

  it('tells the user when the decider fails', async () => {
    const message = await postProposal('prop-failing');
    decider.gate = Promise.reject(new Error('control plane unavailable'));
    decider.gate.catch(() => undefined);
    try {
      const response = await send(sign(click('U0BOB', 'approve', 'prop-failing', message)));
      expect(response.status).toBe(200);
      await vi.waitFor(() => expect(ephemeralsFor('U0BOB').some((call) => String(call.args.text).includes('failed to record the decision'))).toBe(true));
    } finally {
      decider.gate = Promise.resolve();
    }
    expect(JSON.stringify(currentMessage(message).blocks)).toContain(`"block_id":"proposal:prop-failing"`);
  });

  it('keeps decided proposals out of later root updates', async () => {
    const message = await postProposal('prop-later');
    await send(sign(click('U0BOB', 'reject', 'prop-later', message)));
    await vi.waitFor(() => expect(JSON.stringify(currentMessage(message).blocks)).toContain('Rejected by <@U0BOB> (bob)'));
    const updatesBefore = currentMessage(message).updates;
    await delivery.send(
      lagAnomaly({
        incidentId: 'inc-prop-later',
        integration: 'integration-prop-later',
        state: 'updated',
        proposals: [{ proposalId: 'prop-later', action: 'requeue_dead_letters', summary: 'Requeue 12 quality holds', expiresAt: new Date(Date.now() + 3_600_000) }],
      }),
    );
    await vi.waitFor(() => expect(currentMessage(message).updates).toBeGreaterThan(updatesBefore));
    const blocks = JSON.stringify(currentMessage(message).blocks);
    expect(blocks).not.toContain(`"block_id":"proposal:prop-later"`);
    expect(blocks).toContain('Rejected by <@U0BOB> (bob)');
  });
});
