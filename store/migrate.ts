import type { ClickHouseClient } from '@clickhouse/client';
import { adaptStatementForCluster } from './cluster.js';
import { MIGRATIONS, type Migration } from './migrations.js';

const MIGRATIONS_TABLE = 'syncwatch_schema_migrations';

/** Outcome of {@link migrate}: the versions applied now and those found already applied. */
export interface MigrateResult {
  applied: number[];
  alreadyApplied: number[];
}

export interface MigrateOptions {
  /** ClickHouse cluster to create replicated tables on, absent for one server or chDB. */
  cluster?: string;
}

/**
 * Applies every migration whose version is not yet recorded, in order. Running
 * it again, or from two processes against one server, is harmless because
 * each statement is idempotent.
 */
export async function migrate(
  client: ClickHouseClient,
  migrations: readonly Migration[] = MIGRATIONS,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const { cluster } = options;
  await client.command({
    query: adaptStatementForCluster(
      `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
      version UInt32,
      name String,
      applied_at DateTime64(3) DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree ORDER BY version`,
      cluster,
    ),
  });
  const done = new Set(await readAppliedVersions(client));
  const result: MigrateResult = { applied: [], alreadyApplied: [] };

  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(migration.version)) {
      result.alreadyApplied.push(migration.version);
      continue;
    }
    for (const statement of migration.statements) {
      await client.command({ query: adaptStatementForCluster(statement, cluster) });
    }
    await client.insert({
      table: MIGRATIONS_TABLE,
      values: [{ version: migration.version, name: migration.name }],
      format: 'JSONEachRow',
    });
    result.applied.push(migration.version);
  }
  return result;
}

/** Returns the schema versions recorded in the store, ascending. */
export async function readAppliedVersions(client: ClickHouseClient): Promise<number[]> {
  const result = await client.query({
    query: `SELECT DISTINCT version FROM ${MIGRATIONS_TABLE} ORDER BY version`,
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ version: number }>();
  return rows.map((row) => Number(row.version));
}
