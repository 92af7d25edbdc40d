import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createOdooApiSource,
  createOdooClient,
  createQueueJobSource,
  ODOO_ERROR_CODES,
  type FailureRecord,
  type LagSample,
  type LagSource,
  type OdooApiSourceConfigInput,
  type OdooProtocol,
} from '../../../collector/sources/index.js';
import { startOdooRpcServer, type OdooRpcServer, type OdooRpcServerOptions } from '../../../simulator/odoo-rpc-server.js';
import { QueueJobTables } from './queue-job-fixture.js';

const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
const ODOO_DATABASE = 'plant_erp';
const ODOO_LOGIN = 'syncwatch-bot';
const API_KEY = `key-${randomBytes(12).toString('hex')}`;
const PROTOCOLS: OdooProtocol[] = ['jsonrpc', 'json2'];
/** Ages from the API have whole seconds and a `Date` header with whole seconds, so they may differ from SQL by up to two seconds. */
const AGE_TOLERANCE_SECONDS = 2;

const schema = `sw_odoo_api_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: DATABASE_URL });
const tables = new QueueJobTables(admin, schema);
const openSources: LagSource[] = [];
const openServers: OdooRpcServer[] = [];

beforeAll(async () => {
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
});

afterAll(async () => {
  await Promise.allSettled(openSources.map((source) => source.close()));
  await Promise.allSettled(openServers.map((server) => server.close()));
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

async function startServer(table: string, overrides: Partial<OdooRpcServerOptions> = {}): Promise<OdooRpcServer> {
  const server = await startOdooRpcServer({
    databaseUrl: DATABASE_URL,
    table,
    database: ODOO_DATABASE,
    login: ODOO_LOGIN,
    apiKey: API_KEY,
    ...overrides,
  });
  openServers.push(server);
  return server;
}

function openApiSource(url: string, protocol: OdooProtocol, overrides: Partial<OdooApiSourceConfigInput> = {}): LagSource {
  const source = createOdooApiSource({
    kind: 'odoo_api',
    name: `odoo-api-${tables.created}-${protocol}`,
    integration: 'odoo',
    workflow: 'production_order_release',
    url,
    protocol,
    database: ODOO_DATABASE,
    login: ODOO_LOGIN,
    apiKey: API_KEY,
    timeoutMs: 5_000,
    ...overrides,
  });
  openSources.push(source);
  return source;
}

function openSqlSource(table: string, stuckAfterSeconds?: { started: number; enqueued: number }): LagSource {
  const source = createQueueJobSource({
    kind: 'queue_job',
    name: `odoo-sql-${tables.created}`,
    integration: 'odoo',
    workflow: 'production_order_release',
    url: DATABASE_URL,
    table,
    ...(stuckAfterSeconds ? { stuckAfterSeconds } : {}),
  });
  openSources.push(source);
  return source;
}

function findSample(samples: LagSample[], entity: string): LagSample {
  const sample = samples.find((candidate) => candidate.entity === entity);
  if (!sample) throw new Error(`no sample for entity "${entity}" among ${samples.map((s) => s.entity).join(', ')}`);
  return sample;
}

/** Fields that both sources must report identically; ages are compared separately. */
function comparableSample(sample: LagSample): Record<string, unknown> {
  const { clock: _clock, protocol: _protocol, oldest_pending_seconds: _oldest, ...attributes } = sample.attributes ?? {};
  return {
    entity: sample.entity,
    status: sample.status,
    workflow: sample.workflow,
    integration: sample.integration,
    stateCounts: sample.stateCounts,
    depth: sample.depth,
    inFlight: sample.inFlight,
    stuck: sample.stuck,
    failed: sample.failed,
    lagEstimated: sample.lagEstimated,
    detail: sample.detail,
    attributes,
  };
}

function comparableFailure(failure: FailureRecord): Record<string, unknown> {
  return {
    failureId: failure.failureId,
    entity: failure.entity,
    workflow: failure.workflow,
    exceptionName: failure.exceptionName,
    exceptionMessage: failure.exceptionMessage,
    retryCount: failure.retryCount,
    attributes: failure.attributes,
  };
}

async function findClosedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address for the probe server');
  return address.port;
}

const RELEASE = { channel: 'root.mes', model: 'mrp.production', method: 'release_to_mes' };
const RELEASE_ENTITY = 'root.mes/<mrp.production>.release_to_mes';
const MOVES = { channel: 'root.wms', model: 'stock.move', method: 'push_to_wms' };
const MOVES_ENTITY = 'root.wms/<stock.move>.push_to_wms';
const HOLDS = { channel: 'root.qms', model: 'quality.check', method: 'hold_lot' };
const HOLDS_ENTITY = 'root.qms/<quality.check>.hold_lot';

/** Fills a table with every case the sources distinguish. */
async function insertMixedJobs(table: string): Promise<void> {
  for (const state of ['pending', 'enqueued', 'started', 'wait_dependencies', 'done', 'cancelled']) {
    await tables.insertJob(table, { ...RELEASE, state, createdSecondsAgo: 40, startedSecondsAgo: state === 'started' ? 5 : undefined });
  }
  await tables.insertJob(table, { ...RELEASE, state: 'pending', createdSecondsAgo: 600, etaSecondsAgo: 120 });
  await tables.insertJob(table, { ...RELEASE, state: 'started', createdSecondsAgo: 7300, startedSecondsAgo: 7200 });
  await tables.insertJob(table, { ...MOVES, state: 'enqueued', createdSecondsAgo: 400, enqueuedSecondsAgo: 300 });
  await tables.insertJob(table, { ...MOVES, state: 'pending', createdSecondsAgo: 900, etaSecondsAgo: -3600 });
  // An eta before the job's creation: the job waits from its creation, 100 s.
  await tables.insertJob(table, { ...HOLDS, state: 'pending', createdSecondsAgo: 100, etaSecondsAgo: 700 });
  await tables.insertJob(table, { ...HOLDS, state: 'pending', createdSecondsAgo: 600, etaSecondsAgo: 500 });
  await tables.insertJob(table, {
    ...RELEASE,
    state: 'failed',
    createdSecondsAgo: 100,
    startedSecondsAgo: 90,
    excName: 'odoo.exceptions.UserError',
    excMessage: 'Work center "Press 4" is unknown to the MES',
    retry: 3,
  });
  await tables.insertJob(table, {
    ...MOVES,
    state: 'failed',
    createdSecondsAgo: 500,
    startedSecondsAgo: 400,
    excInfo: 'Traceback (most recent call last):\n  File "x.py", line 1\npsycopg2.errors.LockNotAvailable: could not obtain lock\n',
  });
}

/** Polls the API source and the SQL source over one table and compares every sample and failure. */
async function expectSameAsSqlSource(protocol: OdooProtocol, overrides: Partial<OdooApiSourceConfigInput>): Promise<void> {
  const table = await tables.create();
  await insertMixedJobs(table);
  const server = await startServer(table);
  const stuckAfterSeconds = { started: 3600, enqueued: 120 };
  const api = openApiSource(server.url, protocol, { stuckAfterSeconds, ...overrides });
  const sql = openSqlSource(table, stuckAfterSeconds);
  const observedAt = new Date();

  const fromApi = await api.poll(observedAt);
  const fromSql = await sql.poll(observedAt);

  const entities = (samples: LagSample[]) => samples.map((sample) => sample.entity).sort();
  expect(entities(fromApi.samples)).toEqual([HOLDS_ENTITY, RELEASE_ENTITY, MOVES_ENTITY].sort());
  expect(entities(fromApi.samples)).toEqual(entities(fromSql.samples));
  for (const sqlSample of fromSql.samples) {
    const apiSample = findSample(fromApi.samples, sqlSample.entity);
    expect(comparableSample(apiSample)).toEqual(comparableSample(sqlSample));
    expect(apiSample.sourceKind).toBe('odoo_api');
    expect(apiSample.attributes?.clock).toBe('server');
    expect(apiSample.attributes?.protocol).toBe(protocol);
    expect(Math.abs((apiSample.lagSeconds ?? NaN) - (sqlSample.lagSeconds ?? NaN))).toBeLessThanOrEqual(AGE_TOLERANCE_SECONDS);
    const apiPending = Number(apiSample.attributes?.oldest_pending_seconds ?? 0);
    const sqlPending = Number(sqlSample.attributes?.oldest_pending_seconds ?? 0);
    expect(Math.abs(apiPending - sqlPending)).toBeLessThanOrEqual(AGE_TOLERANCE_SECONDS);
  }
  expect(findSample(fromApi.samples, HOLDS_ENTITY).lagSeconds).toBeGreaterThanOrEqual(500 - AGE_TOLERANCE_SECONDS);

  expect(fromApi.failures.map(comparableFailure)).toEqual(fromSql.failures.map(comparableFailure));
  fromApi.failures.forEach((failure, index) => {
    const sqlFailedAt = fromSql.failures[index]?.failedAt.getTime() ?? NaN;
    expect(Math.abs(failure.failedAt.getTime() - sqlFailedAt)).toBeLessThan(1000);
    expect(failure.sourceKind).toBe('odoo_api');
    expect(failure.observedAt).toBe(observedAt);
  });
}

describe.each(PROTOCOLS)('odoo_api source over %s', (protocol) => {
  it('matches the queue_job source', async () => {
    await expectSameAsSqlSource(protocol, {});
  });

  it('counts a stuck started job', async () => {
    const table = await tables.create();
    await tables.insertJob(table, { ...RELEASE, state: 'started', createdSecondsAgo: 7300, startedSecondsAgo: 7200 });
    await tables.insertJob(table, { ...RELEASE, state: 'started', createdSecondsAgo: 20, startedSecondsAgo: 10 });
    const server = await startServer(table);
    const source = openApiSource(server.url, protocol, { stuckAfterSeconds: { started: 3600, enqueued: 60 } });

    const { samples } = await source.poll(new Date());

    const release = findSample(samples, RELEASE_ENTITY);
    expect(release.status).toBe('ok');
    expect(release.inFlight).toBe(2);
    expect(release.stuck).toBe(1);
    expect(release.attributes?.stuck_started).toBe('1');
    expect(release.attributes?.stuck_enqueued).toBe('0');
    expect(release.depth).toBe(0);
    expect(release.lagSeconds).toBe(0);
  });

  it('reports failed jobs as failure records', async () => {
    const table = await tables.create();
    const uuid = await tables.insertJob(table, {
      ...RELEASE,
      state: 'failed',
      createdSecondsAgo: 100,
      startedSecondsAgo: 90,
      excName: 'odoo.exceptions.UserError',
      excMessage: 'Work center "Press 4" is unknown to the MES',
      retry: 3,
    });
    const olderUuid = await tables.insertJob(table, {
      ...MOVES,
      state: 'failed',
      createdSecondsAgo: 500,
      startedSecondsAgo: 400,
      excInfo: 'Traceback (most recent call last):\n  File "x.py", line 1\npsycopg2.errors.LockNotAvailable: could not obtain lock\n',
    });
    const server = await startServer(table);
    const source = openApiSource(server.url, protocol);

    const { samples, failures } = await source.poll(new Date());

    expect(findSample(samples, RELEASE_ENTITY).failed).toBe(1);
    expect(failures.map((failure) => failure.failureId)).toEqual([uuid, olderUuid]);
    const [newest, older] = failures;
    expect(newest?.exceptionName).toBe('odoo.exceptions.UserError');
    expect(newest?.exceptionMessage).toBe('Work center "Press 4" is unknown to the MES');
    expect(newest?.retryCount).toBe(3);
    expect(newest?.entity).toBe(RELEASE_ENTITY);
    expect(newest?.attributes?.max_retries).toBe('5');
    const failedAgoSeconds = (Date.now() - (newest?.failedAt.getTime() ?? 0)) / 1000;
    expect(failedAgoSeconds).toBeGreaterThan(85);
    expect(failedAgoSeconds).toBeLessThan(100);
    expect(older?.exceptionName).toBe('psycopg2.errors.LockNotAvailable');
    expect(older?.exceptionMessage).toBe('could not obtain lock');
  });

  it('keeps a future eta out of lag', async () => {
    const table = await tables.create();
    await tables.insertJob(table, { ...MOVES, state: 'pending', createdSecondsAgo: 900, etaSecondsAgo: -3600 });
    const server = await startServer(table);
    const source = openApiSource(server.url, protocol);

    const { samples } = await source.poll(new Date());

    const moves = findSample(samples, MOVES_ENTITY);
    expect(moves.depth).toBe(1);
    expect(moves.lagSeconds).toBe(0);
    expect(moves.attributes?.scheduled).toBe('1');
  });

  it('measures ages on the server clock', async () => {
    const table = await tables.create();
    await tables.insertJob(table, { ...RELEASE, state: 'pending', createdSecondsAgo: 120 });
    // The server's clock runs ten minutes ahead of the database that stamped the job.
    const server = await startServer(table, { clockOffsetMs: 600_000 });
    const source = openApiSource(server.url, protocol);

    const { samples } = await source.poll(new Date());

    const release = findSample(samples, RELEASE_ENTITY);
    expect(release.attributes?.clock).toBe('server');
    expect(release.lagSeconds).toBeGreaterThanOrEqual(720 - AGE_TOLERANCE_SECONDS);
    expect(release.lagSeconds).toBeLessThanOrEqual(720 + AGE_TOLERANCE_SECONDS);
  });

  it('falls back to the host clock', async () => {
    const table = await tables.create();
    await tables.insertJob(table, { ...RELEASE, state: 'pending', createdSecondsAgo: 120 });
    const server = await startServer(table, { omitDateHeader: true });
    const source = openApiSource(server.url, protocol);

    const { samples } = await source.poll(new Date());

    const release = findSample(samples, RELEASE_ENTITY);
    expect(release.attributes?.clock).toBe('host');
    expect(release.lagSeconds).toBeGreaterThanOrEqual(120 - AGE_TOLERANCE_SECONDS);
    expect(release.lagSeconds).toBeLessThanOrEqual(120 + AGE_TOLERANCE_SECONDS);
  });

  it('reports an empty queue as idle', async () => {
    const table = await tables.create();
    const server = await startServer(table);
    const source = openApiSource(server.url, protocol);

    const { samples, failures } = await source.poll(new Date());

    expect(failures).toEqual([]);
    expect(samples).toHaveLength(1);
    expect(samples[0]?.entity).toBe('*');
    expect(samples[0]?.status).toBe('ok');
    expect(samples[0]?.depth).toBe(0);
  });

  it('reports a wrong API key as down', async () => {
    const table = await tables.create();
    await tables.insertJob(table, { ...RELEASE, state: 'pending' });
    const server = await startServer(table);
    const wrongKey = `wrong-${randomBytes(8).toString('hex')}`;
    const source = openApiSource(server.url, protocol, { apiKey: wrongKey });

    const { samples, failures } = await source.poll(new Date());

    expect(failures).toEqual([]);
    expect(samples).toHaveLength(1);
    const [sample] = samples;
    expect(sample?.status).toBe('source_down');
    expect(sample?.depth).toBeUndefined();
    expect(sample?.lagSeconds).toBeUndefined();
    expect(sample?.detail).toContain(ODOO_ERROR_CODES.accessDenied);
    expect(sample?.detail).toMatch(protocol === 'jsonrpc' ? /authentication failed for login "syncwatch-bot"/ : /HTTP 401/);
    expect(sample?.detail).not.toContain(wrongKey);
  });

  it('reports known groups as down', async () => {
    const table = await tables.create();
    await tables.insertJob(table, { ...RELEASE, state: 'pending' });
    const server = await startServer(table);
    const source = openApiSource(server.url, protocol);
    await source.poll(new Date());
    await server.close();

    const { samples } = await source.poll(new Date());

    expect(samples.map((sample) => [sample.entity, sample.status])).toEqual([[RELEASE_ENTITY, 'source_down']]);
    // The first request may reuse a keep-alive socket, so the reason is either a refused or a closed connection.
    expect(samples[0]?.detail).toContain(ODOO_ERROR_CODES.unreachable);
  });

  it('reports a closed port as down', async () => {
    const port = await findClosedPort();
    const source = openApiSource(`http://127.0.0.1:${port}`, protocol, { timeoutMs: 2_000 });

    const { samples, failures } = await source.poll(new Date());

    expect(failures).toEqual([]);
    expect(samples).toHaveLength(1);
    expect(samples[0]?.status).toBe('source_down');
    expect(samples[0]?.detail).toContain(ODOO_ERROR_CODES.unreachable);
    expect(samples[0]?.detail).toContain('ECONNREFUSED');
    expect(samples[0]?.depth).toBeUndefined();
  });
});

describe('odoo_api source', () => {
  it('groups with formatted_read_group over jsonrpc', async () => {
    await expectSameAsSqlSource('jsonrpc', { groupMethod: 'formatted_read_group' });
  });

  it('groups with read_group over json2', async () => {
    await expectSameAsSqlSource('json2', { groupMethod: 'read_group' });
  });
});

describe('odoo_api source config', () => {
  it('requires login and database for jsonrpc', () => {
    expect(() =>
      createOdooApiSource({
        kind: 'odoo_api',
        name: 'odoo-api',
        integration: 'odoo',
        url: 'http://127.0.0.1:8069',
        protocol: 'jsonrpc',
        apiKey: API_KEY,
      }),
    ).toThrow(/COLLECTOR_ERR_SOURCE_CONFIG.*"database" and "login"/);
  });
});

describe('simulated Odoo server', () => {
  it('answers a wrong password with AccessDenied', async () => {
    const table = await tables.create();
    const server = await startServer(table);

    const response = await fetch(`${server.url}/jsonrpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        method: 'call',
        id: 7,
        params: { service: 'object', method: 'execute_kw', args: [ODOO_DATABASE, 2, 'not-the-key', 'queue.job', 'search_count', [[]], {}] },
      }),
    });

    expect(response.status).toBe(200);
    const body = (await response.json()) as { id: number; error: { code: number; data: { name: string; message: string } } };
    expect(body.id).toBe(7);
    expect(body.error.code).toBe(200);
    expect(body.error.data.name).toBe('odoo.exceptions.AccessDenied');
    expect(body.error.data.message).toBe('Access Denied');
  });

  it('answers a wrong bearer key with 401', async () => {
    const table = await tables.create();
    const server = await startServer(table);

    const response = await fetch(`${server.url}/json/2/queue.job/search_count`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'bearer not-the-key' },
      body: JSON.stringify({ domain: [] }),
    });

    expect(response.status).toBe(401);
    const body = (await response.json()) as { name: string; message: string };
    expect(body.name).toBe('werkzeug.exceptions.Unauthorized');
    expect(body.message).toBe('Invalid apikey');
  });

  it('rejects unknown models and arguments', async () => {
    const table = await tables.create();
    const server = await startServer(table);
    const client = createOdooClient({ url: server.url, protocol: 'json2', apiKey: API_KEY, timeoutMs: 5_000 });

    await expect(client.callModel('res.partner', 'search_count', { domain: [] })).rejects.toThrow(/HTTP 404/);
    await expect(client.callModel('queue.job', 'unlink', {})).rejects.toThrow(/HTTP 404/);
    await expect(client.callModel('queue.job', 'search_count', { domain: [], fields: [] })).rejects.toThrow(
      /HTTP 422.*unexpected keyword argument 'fields'/,
    );
    await expect(client.callModel('queue.job', 'search_count', { domain: [['no_such_field', '=', 1]] })).rejects.toThrow(
      /Invalid domain/,
    );
  });

  it.each(PROTOCOLS)('translates domains into SQL over %s', async (protocol) => {
    const table = await tables.create();
    await tables.insertJob(table, { ...RELEASE, state: 'pending', createdSecondsAgo: 10 });
    await tables.insertJob(table, { ...RELEASE, state: 'started', createdSecondsAgo: 300, startedSecondsAgo: 200 });
    await tables.insertJob(table, { ...MOVES, state: 'failed', createdSecondsAgo: 50, startedSecondsAgo: 40, excName: 'ValueError' });
    await tables.insertJob(table, { ...HOLDS, state: 'done', createdSecondsAgo: 5 });
    await admin.query(`UPDATE ${table} SET channel = NULL WHERE state = 'done'`);
    const server = await startServer(table);
    const client = createOdooClient({
      url: server.url,
      protocol,
      database: ODOO_DATABASE,
      login: ODOO_LOGIN,
      apiKey: API_KEY,
      timeoutMs: 5_000,
    });
    const count = async (domain: unknown[]) => (await client.callModel('queue.job', 'search_count', { domain })).result;
    const hundredSecondsAgo = new Date(Date.now() - 100_000).toISOString().slice(0, 19).replace('T', ' ');

    expect(await count([])).toBe(4);
    expect(await count([['state', '=', 'pending']])).toBe(1);
    expect(await count([['state', '!=', 'pending']])).toBe(3);
    expect(await count([['channel', '=', false]])).toBe(1);
    // Negative operators match NULL, as in Odoo.
    expect(await count([['channel', '!=', 'root.mes']])).toBe(2);
    expect(await count([['channel', 'not in', ['root.mes', 'root.wms']]])).toBe(1);
    expect(await count([['channel', 'in', ['root.mes', false]]])).toBe(3);
    expect(await count([['channel', 'in', []]])).toBe(0);
    expect(await count([['date_created', '<', hundredSecondsAgo]])).toBe(1);
    expect(await count([['date_created', '>=', hundredSecondsAgo]])).toBe(3);
    expect(await count([['channel_method_name', 'like', 'mrp.production']])).toBe(2);
    expect(await count([['exc_name', 'ilike', 'valueerror']])).toBe(1);
    expect(await count([['exc_name', 'not ilike', 'valueerror']])).toBe(3);
    expect(await count(['|', ['state', '=', 'pending'], ['state', '=', 'failed']])).toBe(2);
    expect(await count(['!', ['state', '=', 'pending']])).toBe(3);
    expect(await count([['channel', '=', 'root.mes'], '|', ['state', '=', 'pending'], ['state', '=', 'done']])).toBe(1);
    expect(await count(['&', ['retry', '>', -1], ['retry', '<=', 0]])).toBe(4);
  });
});
