import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../../config/index.js';
import { openRemediation, type Remediation } from '../../../remediation/index.js';
import { buildApiServer } from '../../../server/api-server.js';
import { routeDraft } from '../remediation/harness.js';

/** PostgreSQL on loopback for the control plane, in a schema of this file's own. */
const POSTGRES_URL = process.env.SYNCWATCH_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONTROL_SCHEMA = `sw_api_${randomBytes(5).toString('hex')}`;

const TOKENS = {
  alice: 'alice-core-token-0123456789',
  bob: 'bob-core-token-0123456789',
  ana: 'ana-core-token-0123456789',
  pat: 'pat-core-token-0123456789',
  root: 'root-core-token-0123456789',
  vera: 'vera-core-token-0123456789',
};

const SCOPES: Record<string, string> = { root: 'admin', vera: 'read' };

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-api-core-'));
let remediation: Remediation;
let app: ReturnType<typeof buildApiServer>;

function approve(id: string, token: string, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: `/api/v1/proposals/${id}/approve`,
    headers: { authorization: `Bearer ${token}`, ...headers },
    payload: {},
  });
}

function reject(id: string, token: string, reason: string, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: `/api/v1/proposals/${id}/reject`,
    headers: { authorization: `Bearer ${token}`, ...headers },
    payload: { reason },
  });
}

async function readAudit(query: string) {
  const response = await app.inject({ method: 'GET', url: `/api/v1/audit?${query}`, headers: { authorization: `Bearer ${TOKENS.root}` } });
  expect(response.statusCode).toBe(200);
  return response.json();
}

beforeAll(async () => {
  const config = configSchema.parse({
    store: { dataDir },
    remediation: {
      database: { url: POSTGRES_URL },
      users: [
        { name: 'alice', role: 'approver' },
        { name: 'bob', role: 'approver' },
        { name: 'ana', role: 'analyst' },
        { name: 'pat', role: 'approver', plants: ['plant-2'] },
        { name: 'root', role: 'admin' },
        { name: 'vera', role: 'viewer' },
      ],
    },
  });
  remediation = await openRemediation({ config, logger: pino({ level: 'silent' }), schema: CONTROL_SCHEMA, executeInBackground: false });
  app = buildApiServer({
    client: {} as ClickHouseClient,
    tokens: Object.entries(TOKENS).map(([user, token]) => ({ name: `${user}-token`, token, scopes: [SCOPES[user] ?? 'approve'], user })),
    logger: pino({ level: 'silent' }),
    storeDescription: 'test store',
    remediation,
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await remediation?.close();
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS "${CONTROL_SCHEMA}" CASCADE`);
  await admin.end();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('remediation API on the remediation core', () => {
  it('executes an approved proposal', async () => {
    const proposal = await remediation.storeProposal(routeDraft());
    const response = await approve(proposal.id, TOKENS.alice, { 'idempotency-key': `key-${proposal.id}` });
    expect(response.statusCode).toBe(200);
    expect(response.json().outcome.status).toBe('executed');
    expect(response.json().proposal.status).toBe('executed');

    const repeated = await approve(proposal.id, TOKENS.alice, { 'idempotency-key': `key-${proposal.id}` });
    expect(repeated.statusCode).toBe(200);
    expect(['executing', 'executed']).toContain(repeated.json().outcome.status);
    expect(repeated.json().proposal.approvals).toHaveLength(1);

    const second = await approve(proposal.id, TOKENS.bob);
    expect(second.statusCode).toBe(409);
    expect(second.json().error.remediationCode).toBe('REMEDIATION_NOT_PENDING');
  });

  it.each([
    ['an unknown proposal', () => 'missing-proposal', TOKENS.alice, 404, 'REMEDIATION_PROPOSAL_NOT_FOUND'],
    ['an analyst', () => routeDraft(), TOKENS.ana, 403, 'REMEDIATION_FORBIDDEN_ROLE'],
    ['the requester', () => routeDraft({ requestedBy: 'alice' }), TOKENS.alice, 403, 'REMEDIATION_SELF_APPROVAL'],
    ['another plant', () => routeDraft(), TOKENS.pat, 403, 'REMEDIATION_OUT_OF_SCOPE'],
    ['an expired proposal', () => routeDraft({ expiresAt: new Date(Date.now() - 1_000) }), TOKENS.alice, 410, 'REMEDIATION_EXPIRED'],
  ])('refuses %s', async (_case, makeDraft, token, status, remediationCode) => {
    const draft = makeDraft();
    const id = typeof draft === 'string' ? draft : (await remediation.storeProposal(draft)).id;
    const response = await approve(id, token);
    expect(response.statusCode).toBe(status);
    expect(response.json().error.remediationCode).toBe(remediationCode);
    expect(response.json().error.outcome.status).toBe('refused');
  });

  it('refuses a reused key for another decision', async () => {
    const proposal = await remediation.storeProposal(routeDraft({ requiredApprovals: 2 }));
    const key = `reused-${proposal.id}`;
    expect((await approve(proposal.id, TOKENS.alice, { 'idempotency-key': key })).statusCode).toBe(200);
    const response = await reject(proposal.id, TOKENS.alice, 'changed my mind', { 'idempotency-key': key });

    expect(response.statusCode).toBe(409);
    expect(response.json().error.code).toBe('API_ERR_IDEMPOTENCY_CONFLICT');
    expect(response.json().error.remediationCode).toBe('REMEDIATION_IDEMPOTENCY_CONFLICT');
    expect((await remediation.getProposal(proposal.id))?.status).toBe('pending');
    const refused = (await remediation.listAudit({ proposalId: proposal.id })).filter((entry) => entry.event === 'decision.refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]?.code).toBe('REMEDIATION_IDEMPOTENCY_CONFLICT');
    expect(refused[0]?.actor).toBe('alice');
  });

  it('refuses a reused key with another reason', async () => {
    const proposal = await remediation.storeProposal(routeDraft());
    const other = await remediation.storeProposal(routeDraft());
    const key = `reason-${proposal.id}`;
    expect((await reject(proposal.id, TOKENS.bob, 'line 2 is in changeover', { 'idempotency-key': key })).statusCode).toBe(200);

    const repeated = await reject(proposal.id, TOKENS.bob, 'line 2 is in changeover', { 'idempotency-key': key });
    const changed = await reject(proposal.id, TOKENS.bob, 'another reason', { 'idempotency-key': key });
    const moved = await reject(other.id, TOKENS.bob, 'line 2 is in changeover', { 'idempotency-key': key });

    expect(repeated.statusCode).toBe(200);
    expect(changed.statusCode).toBe(409);
    expect(changed.json().error.message).toContain('with another reason');
    expect(moved.statusCode).toBe(409);
    expect((await remediation.getProposal(other.id))?.status).toBe('pending');
  });

  it('scopes idempotency keys per user', async () => {
    const proposal = await remediation.storeProposal(routeDraft({ requiredApprovals: 2 }));
    const key = `shared-${proposal.id}`;
    const first = await approve(proposal.id, TOKENS.alice, { 'idempotency-key': key });
    const second = await approve(proposal.id, TOKENS.bob, { 'idempotency-key': key });

    expect(first.json().outcome.status).toBe('awaiting_second_approval');
    expect(second.statusCode).toBe(200);
    expect(second.json().outcome.status).toBe('executed');
    expect(JSON.stringify(second.json())).not.toContain('approval 1 of 2 by "alice"');
    expect((await remediation.getProposal(proposal.id))?.approvals.map((approval) => approval.userName).sort()).toEqual(['alice', 'bob']);
  });

  it('pages the audit log newest first', async () => {
    const proposal = await remediation.storeProposal(routeDraft({ requiredApprovals: 2 }));
    await approve(proposal.id, TOKENS.alice);
    await approve(proposal.id, TOKENS.ana);
    await approve(proposal.id, TOKENS.bob);
    const all = await remediation.listAudit({ proposalId: proposal.id });
    const ascending = all.map((entry) => entry.seq);
    expect(ascending.length).toBeGreaterThanOrEqual(4);

    const first = await readAudit(`proposalId=${proposal.id}&limit=2`);
    const second = await readAudit(`proposalId=${proposal.id}&limit=2&before=${first.nextBefore}`);
    const newest = await readAudit('limit=1');

    expect(first.entries.map((entry: { seq: number }) => entry.seq)).toEqual(ascending.slice(-2).reverse());
    expect(first.nextBefore).toBe(ascending.at(-2));
    expect(second.entries.map((entry: { seq: number }) => entry.seq)).toEqual(ascending.slice(-4, -2).reverse());
    expect(newest.entries[0].seq).toBeGreaterThanOrEqual(ascending.at(-1)!);
  });

  it('ends audit paging without nextBefore', async () => {
    const proposal = await remediation.storeProposal(routeDraft());
    const page = await readAudit(`proposalId=${proposal.id}&limit=50`);
    expect(page.entries).toHaveLength(1);
    expect(page.nextBefore).toBeUndefined();
  });

  it.each([
    ['the proposal id', (id: string) => ({ url: `/api/v1/proposals/${id}%00x/reject`, reason: 'ok' }), 'params.id'],
    ['the reason', (id: string) => ({ url: `/api/v1/proposals/${id}/reject`, reason: 'bad\u0000reason' }), 'body.reason'],
  ])('rejects NUL in %s and audits it', async (_case, makeRequest, field) => {
    const proposal = await remediation.storeProposal(routeDraft());
    const { url, reason } = makeRequest(proposal.id);
    const response = await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${TOKENS.bob}` }, payload: { reason } });

    expect(response.statusCode).toBe(422);
    expect(response.json().error.code).toBe('API_ERR_VALIDATION');
    expect(response.json().error.message).toContain(`${field} must not contain NUL characters (U+0000)`);
    const newest = (await remediation.listAudit({ newestFirst: true, limit: 1 }))[0];
    expect(newest?.event).toBe('decision.refused');
    expect(newest?.code).toBe('API_ERR_VALIDATION');
    expect(newest?.actor).toBe('bob');
    expect(newest?.detail).toContain(field);
    expect((await remediation.getProposal(proposal.id))?.status).toBe('pending');
  });

  it('rejects NUL in read routes as 422', async () => {
    const headers = { authorization: `Bearer ${TOKENS.root}` };
    const proposal = await app.inject({ method: 'GET', url: '/api/v1/proposals/a%00b', headers });
    const audit = await app.inject({ method: 'GET', url: '/api/v1/audit?proposalId=a%00b', headers });

    expect(proposal.statusCode).toBe(422);
    expect(proposal.json().error.message).toContain('params.id must not contain NUL');
    expect(audit.statusCode).toBe(422);
    expect(audit.json().error.message).toContain('querystring.proposalId must not contain NUL');
  });

  it('audits a decision refused for its scope', async () => {
    const proposal = await remediation.storeProposal(routeDraft());
    const response = await approve(proposal.id, TOKENS.vera);

    expect(response.statusCode).toBe(403);
    expect(response.json().error.code).toBe('API_ERR_FORBIDDEN_SCOPE');
    const refused = (await remediation.listAudit({ proposalId: proposal.id })).filter((entry) => entry.event === 'decision.refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]?.actor).toBe('token:vera-token');
    expect(refused[0]?.code).toBe('API_ERR_FORBIDDEN_SCOPE');
    expect((await remediation.getProposal(proposal.id))?.approvals).toHaveLength(0);
  });

  it('rejects with a reason', async () => {
    const proposal = await remediation.storeProposal(routeDraft());
    const response = await app.inject({
      method: 'POST',
      url: `/api/v1/proposals/${proposal.id}/reject`,
      headers: { authorization: `Bearer ${TOKENS.bob}` },
      payload: { reason: 'the secondary MES is in maintenance' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().outcome.status).toBe('rejected');
    expect(response.json().proposal.rejection.reason).toBe('the secondary MES is in maintenance');
  });
});
