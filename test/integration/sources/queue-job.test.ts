import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createQueueJobSource,
  openReadOnlyPool,
  type LagSample,
  type LagSource,
  type QueueJobSourceConfigInput,
} from '../../../collector/sources/index.js';
import { QueueJobTables } from './queue-job-fixture.js';

const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
const schema = `sw_queue_job_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: DATABASE_URL });
const tables = new QueueJobTables(admin, schema);
const openSources: LagSource[] = [];

beforeAll(async () => {
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
});

afterAll(async () => {
  await Promise.allSettled(openSources.map((source) => source.close()));
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

function openSource(overrides: Partial<QueueJobSourceConfigInput> & { table: string }): LagSource {
  const source = createQueueJobSource({
    kind: 'queue_job',
    name: `odoo-jobs-${tables.created}`,
    integration: 'odoo',
    workflow: 'production_order_release',
    url: DATABASE_URL,
    ...overrides,
  });
  openSources.push(source);
  return source;
}

function findSample(samples: LagSample[], entity: string): LagSample {
  const sample = samples.find((candidate) => candidate.entity === entity);
  if (!sample) throw new Error(`no sample for entity "${entity}" among ${samples.map((s) => s.entity).join(', ')}`);
  return sample;
}

const RELEASE = { channel: 'root.mes', model: 'mrp.production', method: 'release_to_mes' };
const RELEASE_ENTITY = 'root.mes/<mrp.production>.release_to_mes';
const MOVES = { channel: 'root.wms', model: 'stock.move', method: 'push_to_wms' };
const MOVES_ENTITY = 'root.wms/<stock.move>.push_to_wms';

describe('queue_job source', () => {
  it('counts jobs by state per channel and function', async () => {
    const table = await tables.create();
    for (const state of ['pending', 'pending', 'enqueued', 'started', 'failed', 'wait_dependencies', 'done', 'cancelled']) {
      await tables.insertJob(table, { ...RELEASE, state, startedSecondsAgo: state === 'started' ? 5 : undefined });
    }
    await tables.insertJob(table, { ...MOVES, state: 'pending' });
    const source = openSource({ table });

    const { samples } = await source.poll(new Date());

    expect(samples).toHaveLength(2);
    const release = findSample(samples, RELEASE_ENTITY);
    expect(release.status).toBe('ok');
    expect(release.stateCounts).toEqual({ wait_dependencies: 1, pending: 2, enqueued: 1, started: 1, failed: 1 });
    expect(release.depth).toBe(3);
    expect(release.inFlight).toBe(1);
    expect(release.failed).toBe(1);
    expect(release.stuck).toBe(0);
    expect(release.workflow).toBe('production_order_release');
    expect(release.attributes?.channel).toBe('root.mes');
    expect(release.attributes?.job_function).toBe('<mrp.production>.release_to_mes');
    const moves = findSample(samples, MOVES_ENTITY);
    expect(moves.stateCounts?.pending).toBe(1);
    expect(moves.depth).toBe(1);
  });

  it('measures lag from eta or creation', async () => {
    const table = await tables.create();
    // Created ten minutes ago but not due before two minutes ago: lag is two minutes.
    await tables.insertJob(table, { ...RELEASE, state: 'pending', createdSecondsAgo: 600, etaSecondsAgo: 120 });
    await tables.insertJob(table, { ...RELEASE, state: 'pending', createdSecondsAgo: 30 });
    // Due in an hour: scheduled, not late.
    await tables.insertJob(table, { ...MOVES, state: 'pending', createdSecondsAgo: 900, etaSecondsAgo: -3600 });
    const source = openSource({ table });

    const { samples } = await source.poll(new Date());

    const release = findSample(samples, RELEASE_ENTITY);
    expect(release.lagSeconds).toBeGreaterThanOrEqual(120);
    expect(release.lagSeconds).toBeLessThan(130);
    expect(release.lagEstimated).toBe(false);
    const moves = findSample(samples, MOVES_ENTITY);
    expect(moves.depth).toBe(1);
    expect(moves.lagSeconds).toBe(0);
    expect(moves.attributes?.scheduled).toBe('1');
  });

  it('counts long started jobs as stuck', async () => {
    const table = await tables.create();
    await tables.insertJob(table, { ...RELEASE, state: 'started', createdSecondsAgo: 7300, startedSecondsAgo: 7200 });
    await tables.insertJob(table, { ...RELEASE, state: 'started', createdSecondsAgo: 20, startedSecondsAgo: 10 });
    await tables.insertJob(table, { ...MOVES, state: 'enqueued', createdSecondsAgo: 400, enqueuedSecondsAgo: 300 });
    await tables.insertJob(table, { ...MOVES, state: 'enqueued', createdSecondsAgo: 5, enqueuedSecondsAgo: 5 });
    const source = openSource({ table, stuckAfterSeconds: { started: 3600, enqueued: 120 } });

    const { samples } = await source.poll(new Date());

    const release = findSample(samples, RELEASE_ENTITY);
    expect(release.inFlight).toBe(2);
    expect(release.stuck).toBe(1);
    expect(release.attributes?.stuck_started).toBe('1');
    const moves = findSample(samples, MOVES_ENTITY);
    expect(moves.stuck).toBe(1);
    expect(moves.attributes?.stuck_enqueued).toBe('1');
    expect(moves.lagSeconds).toBeGreaterThanOrEqual(400);
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
    const source = openSource({ table });
    const observedAt = new Date();

    const { samples, failures } = await source.poll(observedAt);

    expect(findSample(samples, RELEASE_ENTITY).failed).toBe(1);
    expect(failures.map((failure) => failure.failureId)).toEqual([uuid, olderUuid]);
    const [newest, older] = failures;
    expect(newest?.exceptionName).toBe('odoo.exceptions.UserError');
    expect(newest?.exceptionMessage).toBe('Work center "Press 4" is unknown to the MES');
    expect(newest?.retryCount).toBe(3);
    expect(newest?.entity).toBe(RELEASE_ENTITY);
    expect(newest?.sourceKind).toBe('queue_job');
    expect(newest?.observedAt).toBe(observedAt);
    const failedAgoSeconds = (Date.now() - (newest?.failedAt.getTime() ?? 0)) / 1000;
    expect(failedAgoSeconds).toBeGreaterThan(85);
    expect(failedAgoSeconds).toBeLessThan(100);
    expect(older?.exceptionName).toBe('psycopg2.errors.LockNotAvailable');
    expect(older?.exceptionMessage).toBe('could not obtain lock');
  });

  it('reports zeros once a group empties', async () => {
    const table = await tables.create();
    await tables.insertJob(table, { ...RELEASE, state: 'pending', createdSecondsAgo: 50 });
    const source = openSource({ table });
    await source.poll(new Date());
    await admin.query(`UPDATE ${table} SET state = 'done'`);

    const { samples } = await source.poll(new Date());

    const release = findSample(samples, RELEASE_ENTITY);
    expect(release.status).toBe('ok');
    expect(release.depth).toBe(0);
    expect(release.lagSeconds).toBe(0);
  });

  it('reports an empty table as idle', async () => {
    const table = await tables.create();
    const source = openSource({ table });

    const { samples } = await source.poll(new Date());

    expect(samples).toHaveLength(1);
    expect(samples[0]?.entity).toBe('*');
    expect(samples[0]?.status).toBe('ok');
    expect(samples[0]?.depth).toBe(0);
    expect(samples[0]?.lagSeconds).toBe(0);
  });

  it('reports a missing table as down', async () => {
    const source = openSource({ table: `${schema}.no_such_table` });

    const { samples } = await source.poll(new Date());

    expect(samples).toHaveLength(1);
    expect(samples[0]?.status).toBe('source_down');
    expect(samples[0]?.detail).toContain('not found');
    expect(samples[0]?.depth).toBeUndefined();
  });

  it('reports an unreachable database as down', async () => {
    const source = openSource({ table: 'queue_job', url: 'postgres://postgres@127.0.0.1:1/test', timeoutMs: 2000 });

    const { samples, failures } = await source.poll(new Date());

    expect(failures).toEqual([]);
    expect(samples).toHaveLength(1);
    expect(samples[0]?.status).toBe('source_down');
    expect(samples[0]?.detail).toContain('ECONNREFUSED');
    expect(samples[0]?.depth).toBeUndefined();
    expect(samples[0]?.lagSeconds).toBeUndefined();
  });

  it('reports known groups as down', async () => {
    const table = await tables.create();
    await tables.insertJob(table, { ...RELEASE, state: 'pending' });
    const source = openSource({ table });
    await source.poll(new Date());
    await admin.query(`ALTER TABLE ${table} RENAME TO ${table.split('.')[1]}_moved`);

    const { samples } = await source.poll(new Date());

    expect(samples.map((sample) => [sample.entity, sample.status])).toEqual([[RELEASE_ENTITY, 'source_down']]);
  });
});

describe('openReadOnlyPool', () => {
  it('rejects writes', async () => {
    const table = await tables.create();
    const pool = openReadOnlyPool(DATABASE_URL, 5000);
    try {
      await expect(pool.query(`INSERT INTO ${table} (uuid, state) VALUES ('x', 'pending')`)).rejects.toThrow(
        /read-only transaction/,
      );
      await expect(pool.query(`DELETE FROM ${table}`)).rejects.toThrow(/read-only transaction/);
      const { rows } = await pool.query<{ default_transaction_read_only: string }>('SHOW default_transaction_read_only');
      expect(rows[0]?.default_transaction_read_only).toBe('on');
    } finally {
      await pool.end();
    }
  });
});
