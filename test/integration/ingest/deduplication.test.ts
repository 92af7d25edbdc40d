import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientBatchInserter } from '../../../collector/ingest/index.js';
import { migrate, openClickHouse } from '../../../store/index.js';
import { DEDUPLICATION_WINDOW_BLOCKS } from '../../../store/migrations.js';
import { buildSpanRows, encodeRows } from './span-rows.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-dedup-'));
let client: ClickHouseClient;

beforeAll(async () => {
  client = openClickHouse({ kind: 'embedded', dataDir });
  await migrate(client);
});

afterAll(async () => {
  await client?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function querySingleValue(query: string): Promise<string> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  const rows = await result.json<{ value: string | number }>();
  return String(rows[0]?.value);
}

async function countSpans(traceId: string): Promise<number> {
  return Number(await querySingleValue(`SELECT count() AS value FROM otel_traces WHERE TraceId = '${traceId}'`));
}

describe('batch insert deduplication', () => {
  it('stores a repeated batch once', async () => {
    const rows = buildSpanRows(50);
    const inserter = createClientBatchInserter(client);
    const batch = { batchId: 'dedup-test-repeat-1', rowCount: rows.length, body: encodeRows(rows) };
    await inserter.insert('otel_traces', batch);
    await inserter.insert('otel_traces', batch);
    expect(await countSpans(rows[0]!.TraceId)).toBe(50);
  });

  it('stores distinct batches with distinct ids', async () => {
    const first = buildSpanRows(10);
    const second = buildSpanRows(20);
    const inserter = createClientBatchInserter(client);
    await inserter.insert('otel_traces', { batchId: 'dedup-test-distinct-1', rowCount: 10, body: encodeRows(first) });
    await inserter.insert('otel_traces', { batchId: 'dedup-test-distinct-2', rowCount: 20, body: encodeRows(second) });
    expect(await countSpans(first[0]!.TraceId)).toBe(10);
    expect(await countSpans(second[0]!.TraceId)).toBe(20);
  });

  it('leaves no token in the session', async () => {
    const inserter = createClientBatchInserter(client);
    const tokened = buildSpanRows(5);
    await inserter.insert('otel_traces', { batchId: 'dedup-test-leak-1', rowCount: 5, body: encodeRows(tokened) });

    expect(await querySingleValue("SELECT getSetting('insert_deduplication_token') AS value")).toBe('');
    // A token left in the session would make ClickHouse drop this insert as a duplicate.
    const plain = buildSpanRows(7);
    await client.insert({ table: 'otel_traces', values: plain, format: 'JSONEachRow' });
    expect(await countSpans(plain[0]!.TraceId)).toBe(7);
  });

  it('keeps the materialized views exact', async () => {
    const correlationId = `dedup-test-${Date.now()}`;
    const rows = buildSpanRows(4, { 'syncwatch.correlation_id': correlationId, 'syncwatch.workflow': 'quality-hold' });
    const inserter = createClientBatchInserter(client);
    const batch = { batchId: 'dedup-test-views-1', rowCount: 4, body: encodeRows(rows) };
    await inserter.insert('otel_traces', batch);
    await inserter.insert('otel_traces', batch);

    const spanCount = await querySingleValue(
      `SELECT sum(span_count) AS value FROM workflow_transactions WHERE correlation_id = '${correlationId}'`,
    );
    expect(spanCount).toBe('4');
  });

  it('sets the window on every ingest table', async () => {
    const result = await client.query({
      query: `SELECT name, engine_full FROM system.tables
              WHERE database = currentDatabase()
                AND name IN ('otel_traces', 'otel_traces_trace_id_ts', 'workflow_transactions', 'integration_lag', 'integration_failures', 'source_polls')
              ORDER BY name`,
      format: 'JSONEachRow',
    });
    const tables = await result.json<{ name: string; engine_full: string }>();
    expect(tables.map((table) => table.name)).toEqual([
      'integration_failures',
      'integration_lag',
      'otel_traces',
      'otel_traces_trace_id_ts',
      'source_polls',
      'workflow_transactions',
    ]);
    for (const table of tables) {
      expect(table.engine_full).toContain(`non_replicated_deduplication_window = ${DEDUPLICATION_WINDOW_BLOCKS}`);
    }
  });
});
