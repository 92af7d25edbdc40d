import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiServer } from '../../../server/api-server.js';
import { migrate, openClickHouse } from '../../../store/index.js';

const TOKEN = 'analyst-token-0123456789';
const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-sql-api-'));
const client = openClickHouse({ kind: 'embedded', dataDir });
const app = buildApiServer({
  client,
  tokens: [
    { name: 'analyst', token: TOKEN, scopes: ['sql'] },
    { name: 'no-scope', token: 'token-without-sql-scope', scopes: [] },
  ],
  logger: pino({ level: 'silent' }),
  storeDescription: 'test store',
});

beforeAll(async () => {
  await migrate(client);
  await client.insert({
    table: 'integration_lag',
    values: [
      { observed_at: Date.now(), integration: 'odoo-mes', workflow: 'material_consumption', source: 'rabbit', source_kind: 'rabbitmq', entity: 'q1', status: 'ok', lag_seconds: 4.5, lag_estimated: false },
    ],
    format: 'JSONEachRow',
  });
});

afterAll(async () => {
  await app.close();
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function postSql(body: unknown, token: string | null = TOKEN) {
  return app.inject({
    method: 'POST',
    url: '/api/sql',
    headers: token ? { authorization: `Bearer ${token}` } : {},
    payload: body as object,
  });
}

describe('POST /api/sql', () => {
  it('returns rows and column types', async () => {
    const response = await postSql({ query: 'SELECT entity, lag_seconds FROM integration_lag' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.columns).toEqual([
      { name: 'entity', type: 'String' },
      { name: 'lag_seconds', type: 'Nullable(Float64)' },
    ]);
    expect(body.rows).toEqual([{ entity: 'q1', lag_seconds: 4.5 }]);
    expect(body.truncated).toBe(false);
  });

  it('accepts a text/plain body', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/sql',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' },
      payload: 'SELECT count() AS n FROM integration_lag;',
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().rows).toEqual([{ n: '1' }]);
  });

  it('truncates results past the row cap', async () => {
    const response = await postSql({ query: 'SELECT number FROM numbers(20000)' });
    expect(response.statusCode).toBe(200);
    expect(response.json().rowCount).toBe(10_000);
    expect(response.json().truncated).toBe(true);
  });

  it.each([
    ['no token', null],
    ['a wrong token', 'wrong-token-0123456789'],
    ['a token without the sql scope', 'token-without-sql-scope'],
  ])('rejects %s with 401', async (_case, token) => {
    const response = await postSql({ query: 'SELECT 1' }, token);
    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe('API_ERR_UNAUTHORIZED');
  });

  it.each([
    ['an insert', "INSERT INTO integration_lag (entity) VALUES ('x')", /statement InsertQuery is not allowed/],
    ['a drop', 'DROP TABLE integration_lag', /is not allowed/],
    ['two statements', 'SELECT 1; DROP TABLE integration_lag', /more than one statement/],
    ['the file table function', "SELECT * FROM file('/etc/hostname', 'LineAsString')", /table function file\(\) is not allowed/],
    ['the url table function', "SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')", /table function url\(\) is not allowed/],
    ['a nested table function', "SELECT * FROM (SELECT * FROM s3('http://127.0.0.1:1/x.csv'))", /table function s3\(\) is not allowed/],
    ['the file scalar function', "SELECT file('/etc/hostname')", /function file\(\) is not allowed/],
    ['INTO OUTFILE', "SELECT 1 INTO OUTFILE '/tmp/syncwatch-outfile.txt'", /INTO OUTFILE is not allowed/],
    ['a readonly override', 'SELECT 1 SETTINGS readonly = 0', /readonly setting cannot be changed/],
  ])('rejects %s', async (_case, query, message) => {
    const response = await postSql({ query });
    expect(response.statusCode).toBe(400);
    expect(['API_ERR_QUERY_REJECTED', 'API_ERR_QUERY_FAILED']).toContain(response.json().error.code);
    expect(response.json().error.message).toMatch(message);
  });

  it('still holds the rows after rejected writes', async () => {
    const response = await postSql({ query: 'SELECT count() AS n FROM integration_lag' });
    expect(response.json().rows).toEqual([{ n: '1' }]);
  });

  it('leaves the store writable afterwards', async () => {
    const response = await postSql({ query: 'SELECT count() FROM integration_lag' });
    expect(response.statusCode).toBe(200);
    await client.insert({
      table: 'integration_lag',
      values: [{ observed_at: Date.now(), entity: 'q2', status: 'ok' }],
      format: 'JSONEachRow',
    });
    await client.command({ query: `ALTER TABLE integration_lag DELETE WHERE entity = 'q2'`, clickhouse_settings: { mutations_sync: '2' } });
  });

  it('keeps the order of an ordered query', async () => {
    const response = await postSql({ query: 'SELECT number FROM numbers(2000) ORDER BY number DESC' });
    const numbers = response.json().rows.map((row: { number: string }) => Number(row.number));
    expect(numbers.slice(0, 3)).toEqual([1999, 1998, 1997]);
    expect(numbers).toHaveLength(2000);
  });

  it('accepts a parameterised view', async () => {
    await client.command({
      query: `CREATE VIEW IF NOT EXISTS lag_of_entity AS SELECT entity, lag_seconds FROM integration_lag WHERE entity = {entity:String}`,
    });
    const response = await postSql({ query: `SELECT lag_seconds FROM lag_of_entity(entity = 'q1')` });
    expect(response.statusCode).toBe(200);
    expect(response.json().rows).toEqual([{ lag_seconds: 4.5 }]);
  });

  it('answers SHOW TABLES', async () => {
    const response = await postSql({ query: 'SHOW TABLES' });
    expect(response.statusCode).toBe(200);
    expect(response.json().rows.map((row: { name: string }) => row.name)).toContain('otel_traces');
  });

  it('reports a timeout by its own code', async () => {
    const response = await postSql({ query: 'SELECT sleepEachRow(1) FROM numbers(20) SETTINGS max_block_size = 1' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('API_ERR_QUERY_TIMEOUT');
    expect(response.json().error.message).toMatch(/15 s limit/);
  }, 40_000);

  it('rejects a result over the memory cap', async () => {
    const response = await postSql({ query: "SELECT repeat('x', 1000000) FROM numbers(600)" });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('API_ERR_RESULT_TOO_LARGE');
  });

  it('accepts a comment after the semicolon', async () => {
    const response = await postSql({ query: "SELECT ';' AS s; -- trailing note" });
    expect(response.statusCode).toBe(200);
    expect(response.json().rows).toEqual([{ s: ';' }]);
  });

  it('checks the token before the body', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/sql',
      headers: { 'content-type': 'application/json' },
      payload: '{not json',
    });
    expect(response.statusCode).toBe(401);
  });

  it('runs a query after a failed one', async () => {
    const failed = await postSql({ query: 'SELECT throwIf(1)' });
    expect(failed.statusCode).toBe(400);
    const response = await postSql({ query: 'SELECT 1 AS one SETTINGS max_threads = 1' });
    expect(response.statusCode).toBe(200);
    expect(response.json().rows).toEqual([{ one: 1 }]);
  });

  it('reports invalid SQL as rejected', async () => {
    const response = await postSql({ query: 'SELEC 1' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('API_ERR_QUERY_REJECTED');
    expect(response.json().error.message).toMatch(/not valid ClickHouse SQL/);
  });

  it('reports an unknown table as a failed query', async () => {
    const response = await postSql({ query: 'SELECT * FROM no_such_table' });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toMatch(/no_such_table/);
  });

  it.each([
    ['an empty body', {}],
    ['a numeric query', { query: 5 }],
    ['a blank query', { query: '   ' }],
  ])('rejects %s with the expected shape', async (_case, body) => {
    const response = await postSql(body);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('API_ERR_INVALID_BODY');
    expect(response.json().error.message).toMatch(/expected JSON \{"query"/);
  });

  it('answers unknown routes with a coded 404', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/nothing' });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('API_ERR_NOT_FOUND');
  });
});
