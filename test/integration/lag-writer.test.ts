import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLagWriter, type LagWriterOptions } from '../../collector/lag-writer.js';
import type { FailureRecord, LagSample, PollRecord } from '../../collector/sources/index.js';
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

/** Creates a writer that inserts on the next turn of the event loop, so each test reads its rows at once. */
function createPromptWriter(options: LagWriterOptions = {}) {
  return createLagWriter(client, { flushIntervalMs: 0, ...options });
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
      conditions: ['no_consumers', 'clock_skew'],
    };
    await createPromptWriter().write({ samples: [sample], failures: [] });

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
    expect(row?.conditions).toEqual(['no_consumers', 'clock_skew']);
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
    await createPromptWriter().write({ samples: [sample], failures: [] });

    const rows = await selectRows<Record<string, unknown>>(
      `SELECT status, lag_seconds, lag_estimated, depth, in_flight, consumers, inflow_per_second,
              outflow_per_second, stuck, failed, state_counts, detail, attributes, conditions
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
        conditions: [],
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
    await createPromptWriter().write({ samples: [sample], failures: [] });

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
    await createPromptWriter().write({ samples: [], failures: [failure] });

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
    await expect(createPromptWriter().write({ samples: [], failures: [] })).resolves.toBeUndefined();
  });

  it('stores poll records in source_polls', async () => {
    const record: PollRecord = {
      source: 'polls-source',
      sourceKind: 'queue_job',
      integration: 'odoo-mes',
      startedAt: new Date('2026-03-01T10:24:00.125Z'),
      durationMs: 37.6,
      outcome: 'timeout',
      samples: 3,
      downSamples: 3,
      failures: 0,
      consecutiveFailures: 2,
      error: 'poll timed out after 30000 ms',
    };
    await createPromptWriter().write({ samples: [], failures: [], polls: [record] });

    const rows = await selectRows<Record<string, unknown>>(
      `SELECT toString(toUnixTimestamp64Milli(started_at)) AS started_ms, source_kind, integration, duration_ms,
              outcome, samples, down_samples, failures, consecutive_failures, error
         FROM source_polls WHERE source = 'polls-source'`,
    );
    expect(rows).toEqual([
      {
        started_ms: String(record.startedAt.getTime()),
        source_kind: 'queue_job',
        integration: 'odoo-mes',
        duration_ms: 38,
        outcome: 'timeout',
        samples: 3,
        down_samples: 3,
        failures: 0,
        consecutive_failures: 2,
        error: 'poll timed out after 30000 ms',
      },
    ]);
  });

  it('batches writes into one insert per table', async () => {
    const insert = vi.spyOn(client, 'insert');
    try {
      const writer = createLagWriter(client, { flushIntervalMs: 60_000 });
      const writes = Array.from({ length: 5 }, (_, index) =>
        writer.write({
          samples: [buildIdleSample('batched-source', `queue-${index}`)],
          failures: [],
          polls: [buildPollRecord('batched-source')],
        }),
      );
      expect(writer.pendingRows).toBe(10);
      expect(insert).not.toHaveBeenCalled();

      await writer.flush();
      await Promise.all(writes);

      expect(insert.mock.calls.map(([params]) => params.table)).toEqual(['integration_lag', 'source_polls']);
      expect(writer.pendingRows).toBe(0);
    } finally {
      insert.mockRestore();
    }
    const [row] = await selectRows<{ rows: string }>(
      `SELECT toString(count()) AS rows FROM integration_lag WHERE source = 'batched-source'`,
    );
    expect(row?.rows).toBe('5');
  });

  it('inserts once the batch is full', async () => {
    const writer = createLagWriter(client, { flushIntervalMs: 60_000, maxBatchRows: 2 });
    const write = writer.write({ samples: [buildIdleSample('full-batch-source', 'queue')], failures: [], polls: [buildPollRecord('full-batch-source')] });

    await expect(write).resolves.toBeUndefined();
    expect(writer.pendingRows).toBe(0);
  });

  it('rejects batches beyond the buffer limit', async () => {
    const writer = createLagWriter(client, { flushIntervalMs: 60_000, maxPendingRows: 2 });
    const first = writer.write({ samples: [buildIdleSample('limit-source', 'a'), buildIdleSample('limit-source', 'b')], failures: [] });

    await expect(writer.write({ samples: [buildIdleSample('limit-source', 'c')], failures: [] })).rejects.toThrow(
      'COLLECTOR_ERR_LAG_BUFFER_FULL: buffer holds 2 rows and cannot take 1 more within its limit of 2',
    );
    await writer.flush();
    await expect(first).resolves.toBeUndefined();
  });

  it('rejects every batch of a failed insert', async () => {
    const failing = { insert: vi.fn().mockRejectedValue(new Error('Code: 242. Table is in readonly mode')) };
    const writer = createLagWriter(failing as unknown as ClickHouseClient, { flushIntervalMs: 60_000 });
    const first = writer.write({ samples: [buildIdleSample('readonly-source', 'a')], failures: [] });
    const second = writer.write({ samples: [buildIdleSample('readonly-source', 'b')], failures: [] });

    await writer.flush();

    const expected =
      'COLLECTOR_ERR_LAG_INSERT_FAILED: insert of 2 samples, 0 failures and 0 poll records failed: Code: 242. Table is in readonly mode';
    await expect(first).rejects.toThrow(expected);
    await expect(second).rejects.toThrow(expected);
    expect(failing.insert).toHaveBeenCalledTimes(1);
  });
});

function buildIdleSample(source: string, entity: string): LagSample {
  return {
    observedAt: new Date('2026-03-01T10:25:00.000Z'),
    integration: 'odoo-wms',
    workflow: '',
    source,
    sourceKind: 'rabbitmq',
    entity,
    status: 'ok',
    lagSeconds: 0,
    depth: 0,
  };
}

function buildPollRecord(source: string): PollRecord {
  return {
    source,
    sourceKind: 'rabbitmq',
    integration: 'odoo-wms',
    startedAt: new Date('2026-03-01T10:25:00.000Z'),
    durationMs: 4,
    outcome: 'ok',
    samples: 1,
    downSamples: 0,
    failures: 0,
    consecutiveFailures: 0,
    error: '',
  };
}
