import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLagWriter } from '../../collector/lag-writer.js';
import type { FailureRecord, LagSample } from '../../collector/sources/index.js';
import { migrate, openClickHouse } from '../../store/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-lag-writer-'));
const client = openClickHouse({ kind: 'embedded', dataDir });

beforeAll(async () => {
  await migrate(client);
});

afterAll(async () => {
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** 64-bit integers come back as strings from a server and as numbers from chDB. */
function toNumbers(map: unknown): Record<string, number> {
  return Object.fromEntries(Object.entries(map as Record<string, unknown>).map(([key, value]) => [key, Number(value)]));
}

async function selectRows<T>(query: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}

describe('createLagWriter', () => {
  it('stores full samples with every column', async () => {
    const observedAt = new Date('2026-03-01T10:20:30.456Z');
    const sample: LagSample = {
      observedAt,
      integration: 'odoo-mes',
      workflow: 'production_order_release',
      source: 'full-source',
      sourceKind: 'rabbitmq',
      entity: 'mes.orders',
      status: 'ok',
      lagSeconds: 12.5,
      lagEstimated: true,
      depth: 42,
      inFlight: 3,
      consumers: 2,
      inflowPerSecond: 1.25,
      outflowPerSecond: 0.75,
      stuck: 1,
      failed: 4,
      stateCounts: { pending: 40, started: 3 },
      detail: 'estimated from rates',
      attributes: { vhost: '/', no_consumers: 'false' },
    };
    await createLagWriter(client).write({ samples: [sample], failures: [] });

    const [row] = await selectRows<Record<string, unknown>>(
      `SELECT *, toUnixTimestamp64Milli(observed_at) AS observed_ms FROM integration_lag WHERE source = 'full-source'`,
    );
    expect(row).toBeDefined();
    expect(Number(row?.observed_ms)).toBe(observedAt.getTime());
    expect(row?.integration).toBe('odoo-mes');
    expect(row?.workflow).toBe('production_order_release');
    expect(row?.source_kind).toBe('rabbitmq');
    expect(row?.entity).toBe('mes.orders');
    expect(row?.status).toBe('ok');
    expect(row?.lag_seconds).toBe(12.5);
    expect(row?.lag_estimated).toBe(true);
    expect(Number(row?.depth)).toBe(42);
    expect(Number(row?.in_flight)).toBe(3);
    expect(Number(row?.consumers)).toBe(2);
    expect(row?.inflow_per_second).toBe(1.25);
    expect(row?.outflow_per_second).toBe(0.75);
    expect(Number(row?.stuck)).toBe(1);
    expect(Number(row?.failed)).toBe(4);
    expect(toNumbers(row?.state_counts)).toEqual({ pending: 40, started: 3 });
    expect(row?.detail).toBe('estimated from rates');
    expect(row?.attributes).toEqual({ vhost: '/', no_consumers: 'false' });
  });

  it('keeps missing values as NULL', async () => {
    const sample: LagSample = {
      observedAt: new Date('2026-03-01T10:21:00.000Z'),
      integration: 'odoo-mes',
      workflow: '',
      source: 'down-source',
      sourceKind: 'rabbitmq',
      entity: 'mes.orders',
      status: 'source_down',
      detail: 'connect ECONNREFUSED 127.0.0.1:1',
    };
    await createLagWriter(client).write({ samples: [sample], failures: [] });

    const rows = await selectRows<Record<string, unknown>>(
      `SELECT status, lag_seconds, lag_estimated, depth, in_flight, consumers, inflow_per_second,
              outflow_per_second, stuck, failed, state_counts, detail, attributes
         FROM integration_lag WHERE source = 'down-source'`,
    );
    expect(rows).toEqual([
      {
        status: 'source_down',
        lag_seconds: null,
        lag_estimated: false,
        depth: null,
        in_flight: null,
        consumers: null,
        inflow_per_second: null,
        outflow_per_second: null,
        stuck: null,
        failed: null,
        state_counts: {},
        detail: 'connect ECONNREFUSED 127.0.0.1:1',
        attributes: {},
      },
    ]);
  });

  it('stores zero as zero, not NULL', async () => {
    const sample: LagSample = {
      observedAt: new Date('2026-03-01T10:22:00.000Z'),
      integration: 'odoo-wms',
      workflow: '',
      source: 'idle-source',
      sourceKind: 'rabbitmq',
      entity: 'wms.moves',
      status: 'ok',
      lagSeconds: 0,
      depth: 0,
      consumers: 0,
    };
    await createLagWriter(client).write({ samples: [sample], failures: [] });

    const [row] = await selectRows<Record<string, unknown>>(
      `SELECT lag_seconds, depth, consumers, in_flight FROM integration_lag WHERE source = 'idle-source'`,
    );
    expect(row?.lag_seconds).toBe(0);
    expect(Number(row?.depth)).toBe(0);
    expect(row?.consumers).toBe(0);
    expect(row?.in_flight).toBeNull();
  });

  it('stores failures with snake_case columns', async () => {
    const failure: FailureRecord = {
      observedAt: new Date('2026-03-01T10:23:00.000Z'),
      failedAt: new Date('2026-03-01T09:00:00.250Z'),
      integration: 'odoo-mes',
      workflow: 'material_consumption',
      source: 'odoo-jobs',
      sourceKind: 'queue_job',
      entity: 'root.mes/<mrp.production>.post_consumption',
      failureId: '0d6f8a5e-3c1b-4d57-9a55-0f3b9d6b7a10',
      exceptionName: 'odoo.exceptions.UserError',
      exceptionMessage: 'Unknown unit of measure "pcs"',
      retryCount: 5,
      attributes: { channel: 'root.mes' },
    };
    await createLagWriter(client).write({ samples: [], failures: [failure] });

    const rows = await selectRows<Record<string, unknown>>(
      `SELECT toString(toUnixTimestamp64Milli(failed_at)) AS failed_ms, failure_id, exception_name, exception_message,
              retry_count, entity, workflow, source_kind, attributes
         FROM integration_failures FINAL WHERE source = 'odoo-jobs'`,
    );
    expect(rows).toEqual([
      {
        failed_ms: String(failure.failedAt.getTime()),
        failure_id: failure.failureId,
        exception_name: 'odoo.exceptions.UserError',
        exception_message: 'Unknown unit of measure "pcs"',
        retry_count: 5,
        entity: 'root.mes/<mrp.production>.post_consumption',
        workflow: 'material_consumption',
        source_kind: 'queue_job',
        attributes: { channel: 'root.mes' },
      },
    ]);
  });

  it('skips inserts of empty results', async () => {
    await expect(createLagWriter(client).write({ samples: [], failures: [] })).resolves.toBeUndefined();
  });
});
