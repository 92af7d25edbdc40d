import type { ClickHouseClient } from '@clickhouse/client';
import { Validator } from '@seriousme/openapi-schema-validator';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiServer } from '../../../server/api-server.js';

const app = buildApiServer({
  client: {} as ClickHouseClient,
  tokens: [],
  logger: pino({ level: 'silent' }),
  storeDescription: 'test store',
});

/** Every route the server registers, as "METHOD path" in OpenAPI's `{param}` form. */
const registered: string[] = [];
app.addHook('onRoute', (route) => {
  if ((route.schema as { hide?: boolean } | undefined)?.hide) return;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  for (const method of methods) {
    if (method === 'HEAD') continue;
    registered.push(`${method} ${route.url.replace(/:(\w+)/g, '{$1}')}`);
  }
});

let document: {
  openapi: string;
  paths: Record<
    string,
    Record<string, { operationId?: string; security?: unknown[]; requestBody?: { required?: boolean }; responses: Record<string, unknown> }>
  >;
  components: { schemas: Record<string, unknown> };
};

beforeAll(async () => {
  await app.ready();
  const response = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
  expect(response.statusCode).toBe(200);
  document = response.json();
});

afterAll(async () => {
  await app.close();
});

describe('OpenAPI document', () => {
  it('is valid OpenAPI 3', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(document.openapi).toMatch(/^3\./);
  });

  it('lists every route', () => {
    const documented = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(registered.length).toBeGreaterThan(8);
    expect(documented.sort()).toEqual([...registered].sort());
  });

  it.each([
    'GET /api/v1/me',
    'GET /api/v1/incidents',
    'GET /api/v1/proposals',
    'GET /api/v1/proposals/{id}',
    'POST /api/v1/proposals/{id}/approve',
    'POST /api/v1/proposals/{id}/reject',
    'GET /api/v1/audit',
    'POST /api/sql',
  ])('documents %s with bearer auth', (route) => {
    const [method, path] = route.split(' ') as [string, string];
    const operation = document.paths[path]?.[method.toLowerCase()];
    expect(operation).toBeDefined();
    expect(operation?.security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(operation?.responses ?? {})).toContain('401');
  });

  it('gives each operation a unique operationId', () => {
    const operations = Object.values(document.paths).flatMap((path) => Object.values(path));
    const ids = operations.map((operation) => operation.operationId);
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('marks the approve body optional', () => {
    expect(document.paths['/api/v1/proposals/{id}/approve']?.post?.requestBody?.required).toBe(false);
    expect(document.paths['/api/v1/proposals/{id}/reject']?.post?.requestBody?.required).toBe(true);
  });

  it.each(['GET /api/v1/incidents', 'GET /api/v1/proposals', 'GET /api/v1/proposals/{id}', 'GET /api/v1/audit'])(
    'lists 422 for %s',
    (route) => {
      const [method, path] = route.split(' ') as [string, string];
      expect(Object.keys(document.paths[path]?.[method.toLowerCase()]?.responses ?? {})).toContain('422');
    },
  );

  it.each(['/api/v1/proposals/{id}/approve', '/api/v1/proposals/{id}/reject'])('lists body errors for %s', (path) => {
    const statuses = Object.keys(document.paths[path]?.post?.responses ?? {});
    expect(statuses).toEqual(expect.arrayContaining(['400', '413', '415', '422']));
  });

  it('describes the SQL body and result', () => {
    const sql = document.paths['/api/sql']?.post;
    expect(sql?.requestBody?.required).toBe(true);
    expect(Object.keys(sql?.responses ?? {})).toEqual(expect.arrayContaining(['200', '400', '401']));
  });

  it('calls the channel header a client-declared label', () => {
    const parameters = (document.paths['/api/v1/proposals/{id}/approve']?.post as { parameters?: Array<{ name: string; description?: string }> })
      .parameters;
    const channel = parameters?.find((parameter) => parameter.name === 'x-syncwatch-channel');
    expect(channel?.description).toContain('label the client declares');
  });

  it('names the shared schemas', () => {
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining(['Proposal', 'AuditEntry', 'DecisionOutcome', 'Incident', 'Error']),
    );
  });
});
