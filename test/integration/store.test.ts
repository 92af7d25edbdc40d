import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS, openClickHouse } from '../../store/index.js';

// migrate() applies versions in ascending order, whatever the order of the list.
const ALL_VERSIONS = MIGRATIONS.map((migration) => migration.version).sort((a, b) => a - b);

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-store-'));
const client = openClickHouse({ kind: 'embedded', dataDir });

afterAll(async () => {
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('migrate', () => {
  it('creates the exporter trace tables', async () => {
    const first = await migrate(client);
    expect(first.applied).toEqual(ALL_VERSIONS);

    const result = await client.query({
      query: `SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY name`,
      format: 'JSONEachRow',
    });
    const tables = await result.json<{ name: string; engine: string }>();
    expect(tables).toEqual(
      expect.arrayContaining([
        { name: 'otel_traces', engine: 'MergeTree' },
        { name: 'otel_traces_trace_id_ts', engine: 'AggregatingMergeTree' },
        { name: 'otel_traces_trace_id_ts_mv', engine: 'MaterializedView' },
        { name: 'integration_lag', engine: 'MergeTree' },
      ]),
    );
  });

  it('is idempotent on a second run', async () => {
    const second = await migrate(client);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toEqual(ALL_VERSIONS);
  });

  it('keeps the exporter sorting key', async () => {
    const result = await client.query({
      query: `SELECT sorting_key, primary_key, partition_key FROM system.tables WHERE name = 'otel_traces' AND database = currentDatabase()`,
      format: 'JSONEachRow',
    });
    const [table] = await result.json<{ sorting_key: string; primary_key: string; partition_key: string }>();
    expect(table?.sorting_key).toBe('ServiceName, SpanName, toDateTime(Timestamp), Timestamp');
    expect(table?.primary_key).toBe('ServiceName, SpanName, toDateTime(Timestamp)');
    expect(table?.partition_key).toBe('toDate(Timestamp)');
  });
});

describe('embedded connection', () => {
  it('returns a clean result after a failed query', async () => {
    await expect(client.query({ query: 'SELECT throwIf(1)', format: 'JSON' }).then((result) => result.json())).rejects.toThrow(
      /throwIf/,
    );
    const result = await client.query({ query: 'SELECT 42 AS answer', format: 'JSONEachRow' });
    expect(await result.json()).toEqual([{ answer: 42 }]);
  });

  it('keeps concurrent queries apart', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, index) =>
        client
          .query({ query: index % 3 === 0 ? 'SELECT throwIf(1)' : `SELECT ${index} AS value`, format: 'JSONEachRow' })
          .then((result) => result.json<{ value: number }>()),
      ),
    );
    results.forEach((result, index) => {
      if (index % 3 === 0) expect(result.status).toBe('rejected');
      else expect(result).toEqual({ status: 'fulfilled', value: [{ value: index }] });
    });
  });

  it('runs a statement beside a slow one', async () => {
    const finished: string[] = [];
    const slow = client.command({ query: 'SELECT sleep(2)' }).then(() => finished.push('slow'));
    const quick = client.query({ query: 'SELECT 1', format: 'JSONEachRow' }).then(() => finished.push('quick'));
    await Promise.all([slow, quick]);
    expect(finished).toEqual(['quick', 'slow']);
  });
});
