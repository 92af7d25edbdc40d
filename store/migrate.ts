import type { ClickHouseClient } from '@clickhouse/client';
import { MIGRATIONS, type Migration } from './migrations.js';

const MIGRATIONS_TABLE = 'syncwatch_schema_migrations';

/** Outcome of {@link migrate}: the versions applied now and those found already applied. */
export interface MigrateResult {
  applied: number[];
  alreadyApplied: number[];
}

/**
 * Applies every migration whose version is not yet recorded, in order. Running
 * it again, or from two processes against one server, is harmless because
 * each statement is idempotent.
 */
export async function migrate(
  client: ClickHouseClient,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<MigrateResult> {
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
      version UInt32,
      name String,
      applied_at DateTime64(3) DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree ORDER BY version`,
  });
  const done = new Set(await readAppliedVersions(client));
  const result: MigrateResult = { applied: [], alreadyApplied: [] };

  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(migration.version)) {
      result.alreadyApplied.push(migration.version);
      continue;
    }
    for (const statement of migration.statements) {
      await client.command({ query: statement });
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
