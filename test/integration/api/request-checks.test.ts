import type { ClickHouseClient } from '@clickhouse/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiServer } from '../../../server/api-server.js';
import type { ApiToken } from '../../../server/auth.js';
import { RemediationDouble } from '../../support/remediation-double.js';

const TOKENS = {
  viewer: 'checks-viewer-token-0123456789',
  approver: 'checks-approver-token-0123456789',
  admin: 'checks-admin-token-0123456789',
};

const tokens: ApiToken[] = [
  { name: 'viewer', token: TOKENS.viewer, scopes: ['read'], user: 'victor' },
  { name: 'approver', token: TOKENS.approver, scopes: ['approve'], user: 'alice' },
  { name: 'admin', token: TOKENS.admin, scopes: ['admin'], user: 'root' },
];

const remediation = new RemediationDouble().addUser('victor', 'viewer').addUser('alice', 'approver').addUser('root', 'admin');

// None of these routes reads the store, so an empty object replaces the ClickHouse client.
const app = buildApiServer({
  client: {} as ClickHouseClient,
  tokens,
  logger: pino({ level: 'silent' }),
  storeDescription: 'test store',
  remediation,
});

beforeAll(async () => {
  await app.ready();
});

afterAll(async () => {
  await app.close();
});

function call(method: 'GET' | 'POST' | 'DELETE', url: string, token: string | null, body?: unknown) {
  return app.inject({
    method,
    url,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    ...(body !== undefined ? { payload: body as object } : {}),
  });
}

describe('request body types', () => {
  it.each([
    ['a number', 5, 'number 5'],
    ['a boolean', true, 'boolean true'],
    ['an array', ['arr'], 'array ["arr"]'],
    ['null', null, 'null'],
  ])('rejects %s as a reason', async (_case, reason, received) => {
    remediation.addProposal({ id: 'typed-reason' });
    const response = await call('POST', '/api/v1/proposals/typed-reason/reject', TOKENS.approver, { reason });
    expect(response.statusCode).toBe(422);
    expect(response.json().error.code).toBe('API_ERR_VALIDATION');
    expect(response.json().error.message).toContain(`body.reason expected string, received ${received}`);
    expect((await remediation.getProposal('typed-reason'))?.status).toBe('pending');
    const newest = remediation.audit.at(-1);
    expect(newest?.event).toBe('refused');
    expect(newest?.code).toBe('API_ERR_VALIDATION');
    expect(newest?.actor).toBe('alice');
  });

  it('still reads numbers from the querystring', async () => {
    const response = await call('GET', '/api/v1/audit?limit=5', TOKENS.admin);
    expect(response.statusCode).toBe(200);
  });

  it('names the received value of a querystring', async () => {
    const response = await call('GET', '/api/v1/audit?limit=many', TOKENS.admin);
    expect(response.statusCode).toBe(422);
    expect(response.json().error.message).toBe(
      'the request does not match the route schema: querystring.limit expected integer, received string "many"',
    );
  });
});

describe('long proposal ids', () => {
  it('rejects an id over 200 characters with the schema limit', async () => {
    const response = await call('GET', `/api/v1/proposals/${'p'.repeat(201)}`, TOKENS.viewer);
    expect(response.statusCode).toBe(422);
    expect(response.json().error.code).toBe('API_ERR_VALIDATION');
    expect(response.json().error.message).toContain('params.id must NOT have more than 200 characters');
  });

  it('answers an undecodable path in the error envelope', async () => {
    const response = await call('GET', '/api/v1/proposals/%E0%A4%A', TOKENS.viewer);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('API_ERR_INVALID_URL');
  });

  it('answers an id past the router limit in the error envelope', async () => {
    const response = await call('GET', `/api/v1/proposals/${'p'.repeat(1_001)}`, TOKENS.viewer);
    expect(response.statusCode).toBe(422);
    expect(response.json().error.code).toBe('API_ERR_VALIDATION');
    expect(response.json().error.message).toContain('longer than 1000 characters');
  });
});

describe('unreadable bodies', () => {
  it.each([
    ['an XML body', 'application/xml', '<reason>x</reason>', 415],
    ['a body over 1 MiB', 'application/json', JSON.stringify({ reason: 'x'.repeat(1024 * 1024) }), 413],
  ])('answers %s in the error envelope', async (_case, contentType, payload, status) => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/proposals/any/reject',
      headers: { authorization: `Bearer ${TOKENS.approver}`, 'content-type': contentType },
      payload,
    });
    expect(response.statusCode).toBe(status);
    expect(response.json().error.code).toBe('API_ERR_INVALID_BODY');
  });
});

describe('status details', () => {
  it('sends WWW-Authenticate with 401', async () => {
    const response = await call('GET', '/api/v1/me', null);
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="syncwatch"');
  });

  it('answers a wrong method with 405 and Allow', async () => {
    const response = await call('DELETE', '/api/v1/proposals/some-id', TOKENS.viewer);
    expect(response.statusCode).toBe(405);
    expect(response.json().error.code).toBe('API_ERR_METHOD_NOT_ALLOWED');
    expect(response.headers.allow).toBe('GET, HEAD');
  });

  it('answers GET on a decision route with 405', async () => {
    const response = await call('GET', '/api/v1/proposals/some-id/approve', TOKENS.viewer);
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe('POST');
  });

  it('keeps 404 for an unknown path', async () => {
    const response = await call('GET', '/api/v1/nothing-here', TOKENS.viewer);
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('API_ERR_NOT_FOUND');
  });

  it('words an unknown proposal the same on GET and POST', async () => {
    const read = await call('GET', '/api/v1/proposals/nowhere', TOKENS.viewer);
    const decided = await call('POST', '/api/v1/proposals/nowhere/approve', TOKENS.approver, {});
    expect(read.statusCode).toBe(404);
    expect(decided.statusCode).toBe(404);
    expect(decided.json().error.message).toBe(read.json().error.message);
    expect(read.json().error.message).toBe('no such proposal: no proposal has id "nowhere"');
  });
});
