import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { SecurityAuditEvent } from '../../../alerts/security-audit.js';
import type { SlackApi } from '../../../alerts/slack/client.js';
import { registerSlackInteractivity, SLACK_INTERACTIVITY_PATH, type SlackInteractivityLimits } from '../../../alerts/slack/interactivity.js';
import { FakeProposalDecider } from '../../support/proposal-decider.js';

const logger = pino({ level: 'silent' });
const unusedSlackApi: SlackApi = {
  postMessage: async () => ({ channel: 'C0OPS', ts: '1.000001' }),
  updateMessage: async () => undefined,
  postEphemeral: async () => undefined,
};

interface Endpoint {
  app: FastifyInstance;
  url: string;
  audit: SecurityAuditEvent[];
  clock: { ms: number };
}

const apps: FastifyInstance[] = [];

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function startEndpoint(limits?: SlackInteractivityLimits): Promise<Endpoint> {
  const audit: SecurityAuditEvent[] = [];
  const clock = { ms: Date.now() };
  const app = Fastify({ logger: false });
  registerSlackInteractivity(app, {
    signingSecret: 'signing-secret-for-tests-0123456789',
    decider: new FakeProposalDecider({}),
    audit: { record: async (event) => void audit.push(event) },
    api: unusedSlackApi,
    logger,
    now: () => new Date(clock.ms),
    ...(limits ? { limits } : {}),
  });
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, url: `http://127.0.0.1:${port}${SLACK_INTERACTIVITY_PATH}`, audit, clock };
}

function postUnsigned(url: string): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'payload=%7B%7D' });
}

describe('Slack interactivity rejection limits', () => {
  it('bounds audit rows of 500 unsigned requests', async () => {
    const endpoint = await startEndpoint();
    const statuses: number[] = [];
    for (let batch = 0; batch < 10; batch += 1) {
      const responses = await Promise.all(Array.from({ length: 50 }, () => postUnsigned(endpoint.url)));
      statuses.push(...responses.map((response) => response.status));
      await Promise.all(responses.map((response) => response.body?.cancel()));
    }

    expect(statuses.filter((status) => status === 401)).toHaveLength(30);
    expect(statuses.filter((status) => status === 429)).toHaveLength(470);
    expect(endpoint.audit.map((event) => event.code)).toEqual(['ALERTS_SLACK_SIGNATURE_MISSING', 'ALERTS_SLACK_RATE_LIMITED']);

    await endpoint.app.close();
    const summaries = endpoint.audit.slice(2);
    expect(summaries.map((event) => event.code).sort()).toEqual(['ALERTS_SLACK_RATE_LIMITED', 'ALERTS_SLACK_SIGNATURE_MISSING']);
    expect(summaries.find((event) => event.code === 'ALERTS_SLACK_SIGNATURE_MISSING')?.detail).toMatch(/^29 more rejections/);
    expect(summaries.find((event) => event.code === 'ALERTS_SLACK_RATE_LIMITED')?.detail).toMatch(/^469 more rejections/);
  });

  it('answers 429 with Retry-After', async () => {
    const endpoint = await startEndpoint({ maxRejectionsPerWindow: 2, windowMs: 60_000 });
    await postUnsigned(endpoint.url);
    await postUnsigned(endpoint.url);
    endpoint.clock.ms += 15_000;

    const limited = await postUnsigned(endpoint.url);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('45');
    const body = (await limited.json()) as { error: { code: string } };
    expect(body.error.code).toBe('ALERTS_SLACK_RATE_LIMITED');
  });

  it('lets an address send again after the window', async () => {
    const endpoint = await startEndpoint({ maxRejectionsPerWindow: 2, windowMs: 60_000 });
    await postUnsigned(endpoint.url);
    await postUnsigned(endpoint.url);
    expect((await postUnsigned(endpoint.url)).status).toBe(429);

    endpoint.clock.ms += 60_000;
    expect((await postUnsigned(endpoint.url)).status).toBe(401);
  });

  it('carries the count into the next window', async () => {
    const endpoint = await startEndpoint({ maxRejectionsPerWindow: 100, auditGroupWindowMs: 60_000 });
    for (let index = 0; index < 5; index += 1) await postUnsigned(endpoint.url);
    expect(endpoint.audit).toHaveLength(1);

    endpoint.clock.ms += 61_000;
    await postUnsigned(endpoint.url);
    expect(endpoint.audit).toHaveLength(3);
    expect(endpoint.audit[1]!.detail).toMatch(/^4 more rejections with ALERTS_SLACK_SIGNATURE_MISSING from 127\.0\.0\.1 between /);
    expect(endpoint.audit[2]!.detail).toBe('expected X-Slack-Request-Timestamp and X-Slack-Signature headers');
  });

  it('groups rejections per remote address', async () => {
    const endpoint = await startEndpoint();
    for (const remoteAddress of ['10.0.0.1', '10.0.0.2', '10.0.0.1']) {
      const response = await endpoint.app.inject({
        method: 'POST',
        url: SLACK_INTERACTIVITY_PATH,
        remoteAddress,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'payload=%7B%7D',
      });
      expect(response.statusCode).toBe(401);
    }
    expect(endpoint.audit.map((event) => event.remoteAddress)).toEqual(['10.0.0.1', '10.0.0.2']);
  });
});
