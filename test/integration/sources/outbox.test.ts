import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createOutboxSource,
  type LagSample,
  type LagSource,
  type OutboxSourceConfigInput,
} from '../../../collector/sources/index.js';

const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
const MARIADB_URL = 'mysql://root@127.0.0.1:3306/test';
const suffix = randomBytes(4).toString('hex');

/** How timestamps are stored in a test table. */
type ClockColumn = 'zoned' | 'local';

interface RowSpec {
  group?: string | null;
  /** Seconds before the database clock; negative values lie in the future. */
  createdSecondsAgo: number;
  publishedSecondsAgo?: number;
  status?: string;
}

/** The database-specific part of the tests. */
interface Dialect {
  name: string;
  url: string;
  /** Table name as the config writes it. */
  tableName(index: number): string;
  open(): Promise<void>;
  close(): Promise<void>;
  createTable(table: string, clock: ClockColumn): Promise<void>;
  /** Inserts a row; `zone` is the zone of local timestamp columns. */
  insert(table: string, row: RowSpec, zone: string): Promise<void>;
  markPublished(table: string, group: string): Promise<void>;
  dropTables(tables: string[]): Promise<void>;
}

function postgresDialect(): Dialect {
  const schema = `sw_outbox_${suffix}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  const ago = (seconds: number | undefined, clock: ClockColumn, zone: string) => {
    if (seconds === undefined) return 'NULL';
    const instant = `(now() - make_interval(secs => ${seconds}))`;
    return clock === 'zoned' ? instant : `(${instant} AT TIME ZONE '${zone}'::interval)`;
  };
  const clocks = new Map<string, ClockColumn>();
  return {
    name: 'postgresql',
    url: POSTGRES_URL,
    tableName: (index) => `${schema}.outbox_${index}`,
    async open() {
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
    },
    async close() {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    },
    async createTable(table, clock) {
      const type = clock === 'zoned' ? 'timestamptz' : 'timestamp';
      clocks.set(table, clock);
      await admin.query(
        `CREATE TABLE ${table} (id serial PRIMARY KEY, aggregate_type text, status text,
                                created_at ${type} NOT NULL, published_at ${type})`,
      );
    },
    async insert(table, row, zone) {
      const clock = clocks.get(table) ?? 'zoned';
      const offset = zone === 'UTC' ? '+00:00' : zone;
      await admin.query(
        `INSERT INTO ${table} (aggregate_type, status, created_at, published_at)
         VALUES ($1, $2, ${ago(row.createdSecondsAgo, clock, offset)}, ${ago(row.publishedSecondsAgo, clock, offset)})`,
        [row.group ?? null, row.status ?? null],
      );
    },
    async markPublished(table, group) {
      await admin.query(`UPDATE ${table} SET published_at = now(), status = 'SENT' WHERE aggregate_type = $1`, [group]);
    },
    async dropTables() {
      // The schema is dropped as a whole.
    },
  };
}

function mariadbDialect(): Dialect {
  let admin: mysql.Connection | undefined;
  const ago = (seconds: number | undefined, clock: ClockColumn, zone: string) => {
    if (seconds === undefined) return 'NULL';
    const instant = `(UTC_TIMESTAMP(6) - INTERVAL ${Math.round(seconds * 1_000_000)} MICROSECOND)`;
    return clock === 'zoned' ? instant : `CONVERT_TZ(${instant}, '+00:00', '${zone}')`;
  };
  const clocks = new Map<string, ClockColumn>();
  const connection = () => {
    if (!admin) throw new Error('MariaDB admin connection is not open');
    return admin;
  };
  return {
    name: 'mariadb',
    url: MARIADB_URL,
    tableName: (index) => `sw_outbox_${suffix}_${index}`,
    async open() {
      admin = await mysql.createConnection({ uri: MARIADB_URL });
      await admin.query("SET time_zone = '+00:00'");
    },
    async close() {
      await admin?.end();
    },
    async createTable(table, clock) {
      const type = clock === 'zoned' ? 'TIMESTAMP(6) NULL' : 'DATETIME(6)';
      clocks.set(table, clock);
      await connection().query(
        `CREATE TABLE ${table} (id INT AUTO_INCREMENT PRIMARY KEY, aggregate_type VARCHAR(64), status VARCHAR(16),
                                created_at ${type}, published_at ${type})`,
      );
    },
    async insert(table, row, zone) {
      const clock = clocks.get(table) ?? 'zoned';
      const offset = zone === 'UTC' ? '+00:00' : zone;
      await connection().query(
        `INSERT INTO ${table} (aggregate_type, status, created_at, published_at)
         VALUES (?, ?, ${ago(row.createdSecondsAgo, clock, offset)}, ${ago(row.publishedSecondsAgo, clock, offset)})`,
        [row.group ?? null, row.status ?? null],
      );
    },
    async markPublished(table, group) {
      await connection().query(
        `UPDATE ${table} SET published_at = UTC_TIMESTAMP(6), status = 'SENT' WHERE aggregate_type = ?`,
        [group],
      );
    },
    async dropTables(tables) {
      for (const table of tables) await connection().query(`DROP TABLE IF EXISTS ${table}`);
    },
  };
}

function findSample(samples: LagSample[], entity: string): LagSample {
  const sample = samples.find((candidate) => candidate.entity === entity);
  if (!sample) throw new Error(`no sample for entity "${entity}" among ${samples.map((s) => s.entity).join(', ')}`);
  return sample;
}

describe.each([postgresDialect(), mariadbDialect()])('outbox source on $name', (dialect) => {
  const openSources: LagSource[] = [];
  const tables: string[] = [];

  beforeAll(async () => {
    await dialect.open();
  });

  afterAll(async () => {
    await Promise.allSettled(openSources.map((source) => source.close()));
    await dialect.dropTables(tables);
    await dialect.close();
  });

  async function createTable(clock: ClockColumn = 'zoned'): Promise<string> {
    const table = dialect.tableName(tables.length + 1);
    tables.push(table);
    await dialect.createTable(table, clock);
    return table;
  }

  function openSource(overrides: Partial<OutboxSourceConfigInput> & { table: string }): LagSource {
    const source = createOutboxSource({
      kind: 'outbox',
      name: `mes-outbox-${tables.length}`,
      integration: 'odoo',
      workflow: 'production_order_release',
      url: dialect.url,
      createdAtColumn: 'created_at',
      publishedAtColumn: 'published_at',
      interval: '60s',
      ...overrides,
    });
    openSources.push(source);
    return source;
  }

  it('reports unpublished rows per group', async () => {
    const table = await createTable();
    await dialect.insert(table, { group: 'production_order', createdSecondsAgo: 300 }, 'UTC');
    await dialect.insert(table, { group: 'production_order', createdSecondsAgo: 20 }, 'UTC');
    await dialect.insert(table, { group: 'production_order', createdSecondsAgo: 900, publishedSecondsAgo: 30 }, 'UTC');
    await dialect.insert(table, { group: 'stock_move', createdSecondsAgo: 45 }, 'UTC');
    const source = openSource({ table, groupColumn: 'aggregate_type' });

    const { samples } = await source.poll(new Date());

    expect(samples.map((sample) => sample.entity).sort()).toEqual(['production_order', 'stock_move']);
    const orders = findSample(samples, 'production_order');
    expect(orders.status).toBe('ok');
    expect(orders.depth).toBe(2);
    expect(orders.lagSeconds).toBeGreaterThanOrEqual(300);
    expect(orders.lagSeconds).toBeLessThan(310);
    expect(orders.lagEstimated).toBe(false);
    expect(orders.outflowPerSecond).toBeCloseTo(1 / 60);
    expect(orders.inflowPerSecond).toBeCloseTo(1 / 60);
    expect(orders.workflow).toBe('production_order_release');
    expect(orders.attributes?.group_column).toBe('aggregate_type');
    expect(orders.attributes?.clock_ahead).toBeUndefined();
    expect(orders.conditions).toBeUndefined();
    const moves = findSample(samples, 'stock_move');
    expect(moves.depth).toBe(1);
    expect(moves.lagSeconds).toBeGreaterThanOrEqual(45);
  });

  it('reports an empty outbox as zero lag', async () => {
    const table = await createTable();
    const source = openSource({ table });

    const { samples } = await source.poll(new Date());

    expect(samples).toHaveLength(1);
    const [sample] = samples;
    expect(sample?.entity).toBe(table);
    expect(sample?.status).toBe('ok');
    expect(sample?.depth).toBe(0);
    expect(sample?.lagSeconds).toBe(0);
    expect(sample?.outflowPerSecond).toBe(0);
  });

  it('reads unpublished rows by status', async () => {
    const table = await createTable();
    await dialect.insert(table, { group: 'quality_hold', createdSecondsAgo: 120, status: 'NEW' }, 'UTC');
    await dialect.insert(table, { group: 'quality_hold', createdSecondsAgo: 60, status: 'RETRY' }, 'UTC');
    await dialect.insert(table, { group: 'quality_hold', createdSecondsAgo: 600, status: 'SENT' }, 'UTC');
    await dialect.insert(table, { group: 'quality_hold', createdSecondsAgo: 700, status: 'FAILED' }, 'UTC');
    const source = openSource({
      table,
      publishedAtColumn: undefined,
      statusColumn: 'status',
      unpublishedStatuses: ['NEW', 'RETRY'],
      failedStatuses: ['FAILED'],
      groupColumn: 'aggregate_type',
    });

    const { samples } = await source.poll(new Date());

    const holds = findSample(samples, 'quality_hold');
    expect(holds.depth).toBe(2);
    expect(holds.lagSeconds).toBeGreaterThanOrEqual(120);
    expect(holds.lagSeconds).toBeLessThan(130);
    expect(holds.failed).toBe(1);
    expect(holds.outflowPerSecond).toBeUndefined();
  });

  it('clamps rows stamped ahead of the clock', async () => {
    const table = await createTable();
    await dialect.insert(table, { group: 'shipment', createdSecondsAgo: -600 }, 'UTC');
    const source = openSource({ table, groupColumn: 'aggregate_type' });

    const { samples } = await source.poll(new Date());

    const shipment = findSample(samples, 'shipment');
    expect(shipment.status).toBe('ok');
    expect(shipment.depth).toBe(1);
    expect(shipment.lagSeconds).toBe(0);
    expect(shipment.attributes?.clock_ahead).toBe('true');
    expect(shipment.attributes?.future_rows).toBe('1');
    expect(shipment.conditions).toEqual(['clock_skew']);
  });

  it('flags future rows behind older ones', async () => {
    const table = await createTable();
    await dialect.insert(table, { group: 'quality_hold', createdSecondsAgo: 90 }, 'UTC');
    await dialect.insert(table, { group: 'quality_hold', createdSecondsAgo: -120 }, 'UTC');
    await dialect.insert(table, { group: null, createdSecondsAgo: 30 }, 'UTC');
    const source = openSource({ table, groupColumn: 'aggregate_type' });

    const { samples } = await source.poll(new Date());

    const holds = findSample(samples, 'quality_hold');
    expect(holds.depth).toBe(2);
    expect(holds.lagSeconds).toBeGreaterThanOrEqual(90);
    expect(holds.attributes?.future_rows).toBe('1');
    expect(holds.conditions).toEqual(['clock_skew']);
    const ungrouped = findSample(samples, '(null)');
    expect(ungrouped.depth).toBe(1);
    expect(ungrouped.lagSeconds).toBeGreaterThanOrEqual(30);
  });

  it('keeps a drained group at zero', async () => {
    const table = await createTable();
    await dialect.insert(table, { group: 'supplier_confirmation', createdSecondsAgo: 3600 }, 'UTC');
    const source = openSource({ table, groupColumn: 'aggregate_type', interval: '1s' });
    const first = await source.poll(new Date());
    expect(findSample(first.samples, 'supplier_confirmation').depth).toBe(1);

    await dialect.markPublished(table, 'supplier_confirmation');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const { samples } = await source.poll(new Date());

    const confirmations = findSample(samples, 'supplier_confirmation');
    expect(confirmations.status).toBe('ok');
    expect(confirmations.depth).toBe(0);
    expect(confirmations.lagSeconds).toBe(0);
    expect(confirmations.outflowPerSecond).toBe(0);
  });

  it('converts local timestamps from their zone', async () => {
    const table = await createTable('local');
    await dialect.insert(table, { group: 'work_order', createdSecondsAgo: 200 }, '+02:00');
    const source = openSource({ table, groupColumn: 'aggregate_type', timestampZone: '+02:00' });

    const { samples } = await source.poll(new Date());

    const orders = findSample(samples, 'work_order');
    expect(orders.lagSeconds).toBeGreaterThanOrEqual(200);
    expect(orders.lagSeconds).toBeLessThan(210);
    expect(orders.attributes?.clock_ahead).toBeUndefined();
  });

  it('reports a missing table as down', async () => {
    const table = dialect.tableName(9_999);
    const source = openSource({ table });

    const { samples } = await source.poll(new Date());

    expect(samples).toHaveLength(1);
    expect(samples[0]?.status).toBe('source_down');
    expect(samples[0]?.depth).toBeUndefined();
    expect(samples[0]?.lagSeconds).toBeUndefined();
    expect(samples[0]?.detail).toContain('not found');
  });

  it('reports a missing column as down', async () => {
    const table = await createTable();
    const source = openSource({ table, publishedAtColumn: 'sent_at' });

    const { samples } = await source.poll(new Date());

    expect(samples[0]?.status).toBe('source_down');
    expect(samples[0]?.detail).toContain('column "sent_at" not found');
  });

  it('reports an unreachable database as down', async () => {
    const table = await createTable();
    await dialect.insert(table, { group: 'stock_move', createdSecondsAgo: 10 }, 'UTC');
    const url = dialect.url.replace(/:(5432|3306)\//, ':1/');
    const source = openSource({ table, url, timeoutMs: 2_000 });

    const { samples } = await source.poll(new Date());

    expect(samples).toHaveLength(1);
    expect(samples[0]?.status).toBe('source_down');
    expect(samples[0]?.depth).toBeUndefined();
    expect(samples[0]?.detail).toContain('cannot read');
  });
});
