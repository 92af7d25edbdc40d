import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientBatchInserter, openIngest, type Ingest } from '../../../collector/ingest/index.js';
import { createLagWriter } from '../../../collector/lag-writer.js';
import type { LagSample } from '../../../collector/sources/index.js';
import { migrate, openClickHouse } from '../../../store/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-lag-ingest-'));
const client = openClickHouse({ kind: 'embedded', dataDir: join(dataDir, 'store') });
let storeDown = false;
let ingest: Ingest;

/** Wraps the embedded client so that `exec`, which the batch inserter uses, fails while `storeDown` is set. */
function wrapWithOutage(inner: ClickHouseClient): ClickHouseClient {
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (property !== 'exec') return value.bind(target);
      return (...args: unknown[]) => {
        if (storeDown) return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8123'));
        return (value as (...callArgs: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
}

beforeAll(async () => {
  await migrate(client);
  ingest = await openIngest({
    inserter: createClientBatchInserter(wrapWithOutage(client)),
    dataDir,
    limits: { flushIntervalMs: 10, retryInitialMs: 20, retryMaxMs: 50 },
  });
});

afterAll(async () => {
  await ingest?.close();
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function buildSample(entity: string): LagSample {
  return {
    observedAt: new Date(),
    integration: 'odoo-wms',
    workflow: 'shipment_execution',
    source: 'ingest-lag-test',
    sourceKind: 'rabbitmq',
    entity,
    status: 'ok',
    lagSeconds: 3,
    depth: 12,
  };
}

describe('lag writer through the ingest', () => {
  it('stores samples written during an outage', async () => {
    const writer = createLagWriter(client, { flushIntervalMs: 0, rowWriter: ingest });
    storeDown = true;
    await writer.write({ samples: [buildSample('wms.picks'), buildSample('wms.moves')], failures: [] });
    expect(ingest.spoolBytes).toBeGreaterThan(0);

    storeDown = false;
    await ingest.drain();
    const result = await client.query({
      query: `SELECT entity FROM integration_lag WHERE source = 'ingest-lag-test' ORDER BY entity`,
      format: 'JSONEachRow',
    });
    expect(await result.json()).toEqual([{ entity: 'wms.moves' }, { entity: 'wms.picks' }]);
  });
});
