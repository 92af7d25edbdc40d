import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adaptStatementForCluster, MIGRATIONS, openClickHouse, REPLICATED_TABLE_PATH } from '../../store/index.js';

const STATEMENTS = MIGRATIONS.flatMap((migration) =>
  migration.statements.map((statement, index) => ({ label: `migration ${migration.version} statement ${index + 1}`, statement })),
);

describe('adaptStatementForCluster', () => {
  it('leaves statements alone without a cluster', () => {
    for (const { statement } of STATEMENTS) {
      expect(adaptStatementForCluster(statement, undefined)).toBe(statement);
    }
  });

  it('runs every statement on the cluster', () => {
    for (const { label, statement } of STATEMENTS) {
      const adapted = adaptStatementForCluster(statement, 'plants');
      expect(adapted, label).toMatch(/^\s*(CREATE|ALTER)\b[^(]*? ON CLUSTER plants\b/);
    }
  });

  it('replicates every MergeTree table', () => {
    for (const { label, statement } of STATEMENTS) {
      const adapted = adaptStatementForCluster(statement, 'plants');
      expect(adapted, label).not.toMatch(/ENGINE\s*=\s*(?!Replicated)\w*MergeTree/);
      if (/ENGINE\s*=\s*\w*MergeTree/.test(statement)) {
        expect(adapted, label).toContain(`MergeTree('${REPLICATED_TABLE_PATH}', '{replica}'`);
      }
    }
  });

  it('keeps engine arguments after the replication ones', () => {
    const adapted = adaptStatementForCluster(
      'CREATE TABLE IF NOT EXISTS t (a UInt8, v UInt64) ENGINE = ReplacingMergeTree(v) ORDER BY a',
      'plants',
    );
    expect(adapted).toBe(
      `CREATE TABLE IF NOT EXISTS t ON CLUSTER plants (a UInt8, v UInt64) ENGINE = ReplicatedReplacingMergeTree('${REPLICATED_TABLE_PATH}', '{replica}', v) ORDER BY a`,
    );
  });

  it('switches to the replicated deduplication window', () => {
    const adapted = adaptStatementForCluster('ALTER TABLE t MODIFY SETTING non_replicated_deduplication_window = 100', 'plants');
    expect(adapted).toBe('ALTER TABLE t ON CLUSTER plants MODIFY SETTING replicated_deduplication_window = 100');
  });

  it('rejects a cluster name that is not an identifier', () => {
    expect(() => adaptStatementForCluster(STATEMENTS[0]!.statement, 'plants; DROP TABLE x')).toThrow(
      /invalid ClickHouse cluster name "plants; DROP TABLE x"/,
    );
  });

  it('rejects statements that name no object', () => {
    expect(() => adaptStatementForCluster('INSERT INTO t VALUES (1)', 'plants')).toThrow(/not a CREATE, ALTER or DROP/);
  });
});

describe('cluster statements on the ClickHouse parser', () => {
  let dataDir: string;
  let client: ClickHouseClient;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-cluster-'));
    client = openClickHouse({ kind: 'embedded', dataDir });
  });

  afterAll(async () => {
    await client.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  // chDB has no Keeper or remote_servers, so it can parse these statements but not run them.
  it('parses every adapted statement', async () => {
    for (const { label, statement } of STATEMENTS) {
      const result = await client.query({ query: `EXPLAIN AST ${adaptStatementForCluster(statement, 'plants')}`, format: 'TabSeparatedRaw' });
      expect(await result.text(), label).toMatch(/^"?(CreateQuery|AlterQuery)/);
    }
  });
});
