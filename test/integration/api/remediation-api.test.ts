import type { ClickHouseClient } from '@clickhouse/client';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiServer } from '../../../server/api-server.js';
import type { ApiToken } from '../../../server/auth.js';
import { RemediationDouble } from '../../support/remediation-double.js';

const TOKENS = {
  viewer: 'viewer-token-0123456789',
  approver: 'approver-token-0123456789',
  second: 'second-approver-token-0123456789',
  admin: 'admin-token-0123456789',
  analystWithApprove: 'analyst-approve-token-0123456789',
  sql: 'sql-only-token-0123456789',
};

const tokens: ApiToken[] = [
  { name: 'viewer', token: TOKENS.viewer, scopes: ['read'], user: 'victor' },
  { name: 'approver', token: TOKENS.approver, scopes: ['approve'], user: 'alice' },
  { name: 'second', token: TOKENS.second, scopes: ['approve'], user: 'bob' },
  { name: 'admin', token: TOKENS.admin, scopes: ['admin'], user: 'root' },
  { name: 'analyst', token: TOKENS.analystWithApprove, scopes: ['approve'], user: 'anna' },
  { name: 'sql', token: TOKENS.sql, scopes: ['sql'] },
];

const logLines: string[] = [];
const logStream = new Writable({
  write(chunk, _encoding, callback) {
    logLines.push(String(chunk));
    callback();
  },
});

// None of these routes reads the store, so an empty object replaces the ClickHouse client.
const unusedClient = {} as ClickHouseClient;

const remediation = new RemediationDouble({ executionDelayMs: 20 })
  .addUser('victor', 'viewer')
  .addUser('alice', 'approver')
  .addUser('bob', 'approver')
  .addUser('root', 'admin')
  .addUser('anna', 'analyst');

const app = buildApiServer({
  client: unusedClient,
  tokens,
  logger: pino({ level: 'info' }, logStream),
  storeDescription: 'test store',
  remediation,
});

beforeAll(async () => {
  await app.ready();
});

afterAll(async () => {
  await app.close();
});

function call(method: 'GET' | 'POST', url: string, token: string | null, options: { body?: unknown; headers?: Record<string, string> } = {}) {
  return app.inject({
    method,
    url,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...options.headers },
    ...(options.body !== undefined ? { payload: options.body as object } : {}),
  });
}

describe('authentication and scopes', () => {
  it.each([
    ['no token', null],
    ['unknown token', 'not-a-configured-token-000'],
  ])('rejects %s with 401', async (_case, token) => {
    const response = await call('GET', '/api/v1/proposals', token);
    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe('API_ERR_UNAUTHORIZED');
  });

  it('rejects an sql token on the remediation API with 403', async () => {
    const response = await call('GET', '/api/v1/proposals', TOKENS.sql);
    expect(response.statusCode).toBe(403);
    expect(response.json().error.code).toBe('API_ERR_FORBIDDEN_SCOPE');
    expect(response.json().error.message).toContain('requires "read"');
  });

  it('keeps remediation tokens out of the SQL route', async () => {
    const response = await call('POST', '/api/sql', TOKENS.admin, { body: { query: 'SELECT 1' } });
    expect(response.statusCode).toBe(401);
  });

  it('refuses a viewer decision with 403 before the policy runs', async () => {
    remediation.addProposal({ id: 'viewer-target' });
    const before = remediation.decisions.length;
    const response = await call('POST', '/api/v1/proposals/viewer-target/approve', TOKENS.viewer, { body: {} });
    expect(response.statusCode).toBe(403);
    expect(response.json().error.code).toBe('API_ERR_FORBIDDEN_SCOPE');
    expect(remediation.decisions.length).toBe(before);
    expect((await remediation.getProposal('viewer-target'))?.status).toBe('pending');
  });

  it('limits the audit log to admin tokens', async () => {
    expect((await call('GET', '/api/v1/audit', TOKENS.approver)).statusCode).toBe(403);
    const response = await call('GET', '/api/v1/audit?limit=5', TOKENS.admin);
    expect(response.statusCode).toBe(200);
    expect(Array.isArray(response.json().entries)).toBe(true);
  });
});

describe('GET /api/v1/me', () => {
  it('lets an approver decide', async () => {
    const response = await call('GET', '/api/v1/me', TOKENS.approver);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      token: 'approver',
      user: 'alice',
      role: 'approver',
      scopes: ['approve'],
      permissions: { read: true, decide: true, audit: false },
    });
  });

  it('does not let a viewer decide', async () => {
    const body = (await call('GET', '/api/v1/me', TOKENS.viewer)).json();
    expect(body.role).toBe('viewer');
    expect(body.permissions.decide).toBe(false);
  });

  it('does not let an analyst decide with an approve token', async () => {
    const body = (await call('GET', '/api/v1/me', TOKENS.analystWithApprove)).json();
    expect(body.permissions.decide).toBe(false);
  });
});

describe('proposals', () => {
  it('lists pending proposals with their context', async () => {
    remediation.addProposal({ id: 'listed' });
    const response = await call('GET', '/api/v1/proposals?status=pending', TOKENS.viewer);
    expect(response.statusCode).toBe(200);
    const listed = response.json().proposals.find((proposal: { id: string }) => proposal.id === 'listed');
    expect(listed.blastRadius).toEqual({ events: 2, orders: 2, plants: ['plant-a'] });
    expect(listed.targets).toHaveLength(2);
    expect(listed.duplicateRisk).toMatch(/idempotency key/);
    expect(listed.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('rejects an unknown status with 422 naming the allowed values', async () => {
    const response = await call('GET', '/api/v1/proposals?status=bogus', TOKENS.viewer);
    expect(response.statusCode).toBe(422);
    expect(response.json().error.code).toBe('API_ERR_VALIDATION');
    expect(response.json().error.message).toContain('querystring.status');
    expect(response.json().error.message).toContain('pending, approved');
    expect(response.json().error.message).toContain('received "bogus"');
  });

  it('returns 404 for an unknown proposal', async () => {
    const response = await call('GET', '/api/v1/proposals/missing', TOKENS.viewer);
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('API_ERR_PROPOSAL_NOT_FOUND');
  });

  it('returns a proposal with its audit trail', async () => {
    remediation.addProposal({ id: 'with-audit' });
    await call('POST', '/api/v1/proposals/with-audit/reject', TOKENS.approver, { body: { reason: 'line 2 is in changeover' } });
    const response = await call('GET', '/api/v1/proposals/with-audit', TOKENS.viewer);
    expect(response.statusCode).toBe(200);
    expect(response.json().proposal.rejection.reason).toBe('line 2 is in changeover');
    expect(response.json().audit[0].event).toBe('rejected');
    expect(response.json().audit[0].channel).toBe('api');
  });
});

describe('decisions', () => {
  it('approves and then reports the execution result', async () => {
    remediation.addProposal({ id: 'approve-me' });
    const response = await call('POST', '/api/v1/proposals/approve-me/approve', TOKENS.approver, {
      body: {},
      headers: { 'idempotency-key': 'key-approve-me-1', 'x-syncwatch-channel': 'console' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().outcome.status).toBe('executing');
    const request = remediation.decisions.at(-1);
    expect(request).toEqual({
      proposalId: 'approve-me',
      decision: 'approve',
      userName: 'alice',
      channel: 'console',
      idempotencyKey: 'key-approve-me-1',
    });

    await remediation.settle();
    const after = (await call('GET', '/api/v1/proposals/approve-me', TOKENS.viewer)).json();
    expect(after.proposal.status).toBe('executed');
    expect(after.proposal.result).toBe('requeued 2 jobs');
  });

  it('accepts an approval without a body', async () => {
    remediation.addProposal({ id: 'no-body' });
    const response = await call('POST', '/api/v1/proposals/no-body/approve', TOKENS.approver);
    expect(response.statusCode).toBe(200);
    await remediation.settle();
  });

  it('returns the first outcome for a repeated idempotency key', async () => {
    remediation.addProposal({ id: 'idempotent' });
    const headers = { 'idempotency-key': 'key-idempotent' };
    const first = await call('POST', '/api/v1/proposals/idempotent/approve', TOKENS.approver, { body: {}, headers });
    const second = await call('POST', '/api/v1/proposals/idempotent/approve', TOKENS.approver, { body: {}, headers });
    expect(first.statusCode).toBe(200);
    expect(second.statusCode).toBe(200);
    expect(second.json().outcome).toEqual(first.json().outcome);
    await remediation.settle();
  });

  it('returns 409 for a second approval of a decided proposal', async () => {
    remediation.addProposal({ id: 'decided' });
    await call('POST', '/api/v1/proposals/decided/approve', TOKENS.approver, { body: {} });
    await remediation.settle();
    const response = await call('POST', '/api/v1/proposals/decided/approve', TOKENS.second, { body: {} });
    expect(response.statusCode).toBe(409);
    expect(response.json().error.code).toBe('API_ERR_PROPOSAL_CONFLICT');
    expect(response.json().error.remediationCode).toBe('REMEDIATION_NOT_PENDING');
    expect(response.json().error.outcome.status).toBe('refused');
  });

  it('waits for a second approver when two are required', async () => {
    remediation.addProposal({ id: 'two-approvals', requiredApprovals: 2 });
    const first = await call('POST', '/api/v1/proposals/two-approvals/approve', TOKENS.approver, { body: {} });
    expect(first.json().outcome.status).toBe('awaiting_second_approval');
    const again = await call('POST', '/api/v1/proposals/two-approvals/approve', TOKENS.approver, { body: {} });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.remediationCode).toBe('REMEDIATION_SAME_APPROVER');
    const second = await call('POST', '/api/v1/proposals/two-approvals/approve', TOKENS.second, { body: {} });
    expect(second.json().outcome.status).toBe('executing');
    await remediation.settle();
  });

  it('returns 410 for an expired proposal', async () => {
    remediation.addProposal({ id: 'expired', expiresAt: new Date(Date.now() - 1000) });
    const response = await call('POST', '/api/v1/proposals/expired/approve', TOKENS.approver, { body: {} });
    expect(response.statusCode).toBe(410);
    expect(response.json().error.code).toBe('API_ERR_PROPOSAL_EXPIRED');
  });

  it('returns 404 when deciding on an unknown proposal', async () => {
    const response = await call('POST', '/api/v1/proposals/nowhere/approve', TOKENS.approver, { body: {} });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.remediationCode).toBe('REMEDIATION_PROPOSAL_NOT_FOUND');
  });

  it('returns 403 when the policy refuses the user role', async () => {
    remediation.addProposal({ id: 'analyst-target' });
    const response = await call('POST', '/api/v1/proposals/analyst-target/approve', TOKENS.analystWithApprove, { body: {} });
    expect(response.statusCode).toBe(403);
    expect(response.json().error.code).toBe('API_ERR_DECISION_REFUSED');
    expect(response.json().error.remediationCode).toBe('REMEDIATION_FORBIDDEN_ROLE');
  });

  it.each([
    ['a missing reason', {}, "must have required property 'reason'"],
    ['a blank reason', { reason: '   ' }, 'body.reason must match pattern'],
    ['an unknown field', { reason: 'ok', force: true }, 'must NOT have additional properties "force"'],
  ])('rejects a rejection with %s as 422', async (_case, body, expected) => {
    remediation.addProposal({ id: 'reject-validation' });
    const response = await call('POST', '/api/v1/proposals/reject-validation/reject', TOKENS.approver, { body });
    expect(response.statusCode).toBe(422);
    expect(response.json().error.code).toBe('API_ERR_VALIDATION');
    expect(response.json().error.message).toContain(expected);
  });

  it('rejects an invalid idempotency key as 422', async () => {
    remediation.addProposal({ id: 'bad-key' });
    const response = await call('POST', '/api/v1/proposals/bad-key/approve', TOKENS.approver, {
      body: {},
      headers: { 'idempotency-key': 'x'.repeat(201) },
    });
    expect(response.statusCode).toBe(422);
    expect(response.json().error.message).toContain('headers.idempotency-key');
  });

  it('rejects malformed JSON as 400', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/proposals/any/reject',
      headers: { authorization: `Bearer ${TOKENS.approver}`, 'content-type': 'application/json' },
      payload: '{"reason": ',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('API_ERR_INVALID_BODY');
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After once a token spends its budget', async () => {
    const limited = buildApiServer({
      client: unusedClient,
      tokens,
      logger: pino({ level: 'silent' }),
      storeDescription: 'test store',
      remediation,
      rateLimit: { max: 3, windowMs: 60_000 },
    });
    try {
      const get = (token: string) =>
        limited.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } });
      for (let i = 0; i < 3; i += 1) expect((await get(TOKENS.viewer)).statusCode).toBe(200);
      const refused = await get(TOKENS.viewer);
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error.code).toBe('API_ERR_RATE_LIMITED');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // Each token has its own budget.
      expect((await get(TOKENS.approver)).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('without the remediation layer', () => {
  it('answers 503 on proposal routes', async () => {
    const bare = buildApiServer({ client: unusedClient, tokens, logger: pino({ level: 'silent' }), storeDescription: 'test store' });
    try {
      const response = await bare.inject({
        method: 'GET',
        url: '/api/v1/proposals',
        headers: { authorization: `Bearer ${TOKENS.viewer}` },
      });
      expect(response.statusCode).toBe(503);
      expect(response.json().error.code).toBe('API_ERR_REMEDIATION_UNAVAILABLE');
    } finally {
      await bare.close();
    }
  });
});

describe('console', () => {
  it('serves the page with a strict content security policy', async () => {
    const response = await app.inject({ method: 'GET', url: '/console' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/html');
    expect(response.headers['content-security-policy']).toContain("script-src 'self'");
    expect(response.headers['referrer-policy']).toBe('no-referrer');
  });

  it('keeps a token in the address out of the log', async () => {
    await app.inject({ method: 'GET', url: `/console?token=${TOKENS.approver}` });
    await call('GET', '/api/v1/me', TOKENS.approver);
    const log = logLines.join('');
    expect(log).toContain('/console?token=[redacted]');
    expect(log).not.toContain(TOKENS.approver);
  });
});
