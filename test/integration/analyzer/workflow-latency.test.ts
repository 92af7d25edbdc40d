import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWorkflowSloStatus, type WorkflowSloStatus } from '../../../analyzer/workflows/index.js';
import { runSqlCommand } from '../../../cli/sql-command.js';
import { parseConfigObject } from '../../../config/index.js';
import { startService, type RunningService } from '../../../server/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-workflow-latency-'));
let service: RunningService;
const providers = new Map<string, BasicTracerProvider>();

/** Start of the test traffic: inside the last-hour window of `workflow_slo_status`. */
const BASE_MS = Date.now() - 10 * 60_000;
const HOUR_MS = 3_600_000;

/** One span of a transaction: which system emits it, when it starts relative to the transaction, how long it takes. */
interface Hop {
  system: string;
  offsetMs: number;
  durationMs: number;
  kind?: SpanKind;
  error?: boolean;
}

interface TransactionSpec {
  workflow: string;
  plant?: string;
  integration?: string;
  startMs: number;
  hops: Hop[];
  correlationId?: string;
}

/** Returns the system's tracer provider, which exports each span as it ends through the OTLP/protobuf exporter. */
function getProvider(system: string): BasicTracerProvider {
  let provider = providers.get(system);
  if (!provider) {
    provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': system }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${service.otlpUrl}/v1/traces` }))],
    });
    providers.set(system, provider);
  }
  return provider;
}

async function flushAll(): Promise<void> {
  await Promise.all([...providers.values()].map((provider) => provider.forceFlush()));
}

/**
 * Emits the hops of one transaction as spans with explicit start and end
 * times, all carrying the transaction's attributes. Later hops are children
 * of the first. Returns the correlation id.
 */
async function sendTransaction(spec: TransactionSpec, parent: Context = ROOT_CONTEXT): Promise<string> {
  const correlationId = spec.correlationId ?? randomUUID();
  const attributes = {
    'syncwatch.correlation_id': correlationId,
    'syncwatch.workflow': spec.workflow,
    'syncwatch.plant': spec.plant ?? 'plant-a',
    'syncwatch.integration': spec.integration ?? 'odoo-mes',
    'syncwatch.idempotency_key': `${spec.workflow}:${correlationId.slice(0, 8)}`,
  };
  let context = parent;
  for (const [index, hop] of spec.hops.entries()) {
    const tracer = getProvider(hop.system).getTracer('workflow-latency-test');
    const startMs = spec.startMs + hop.offsetMs;
    const span = tracer.startSpan(
      `${hop.system} step ${index}`,
      { kind: hop.kind ?? SpanKind.INTERNAL, startTime: new Date(startMs), attributes },
      context,
    );
    if (hop.error) span.setStatus({ code: SpanStatusCode.ERROR, message: 'step failed' });
    span.end(new Date(startMs + hop.durationMs));
    if (index === 0) context = trace.setSpan(ROOT_CONTEXT, span);
  }
  await flushAll();
  return correlationId;
}

async function queryRows<T>(query: string): Promise<T[]> {
  const result = await service.client.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}

interface LatencyRow {
  correlation_id: string;
  workflow: string;
  plant: string;
  integrations: string[];
  services: string[];
  hops: number;
  span_count: number | string;
  error_span_count: number | string;
  latency_ms: number | null;
  in_flight: boolean;
}

async function readTransaction(correlationId: string): Promise<LatencyRow | undefined> {
  const rows = await queryRows<LatencyRow>(
    `SELECT * FROM workflow_transaction_latency WHERE correlation_id = '${correlationId}'`,
  );
  return rows[0];
}

async function countStoredRows(correlationId: string): Promise<number> {
  const rows = await queryRows<{ stored: number | string }>(
    `SELECT count() AS stored FROM workflow_transactions WHERE correlation_id = '${correlationId}'`,
  );
  return Number(rows[0]?.stored);
}

interface StatusRow {
  workflow: string;
  transactions: number | string;
  transactions_with_errors: number | string;
  in_flight: number | string;
  in_flight_over_objective: number | string;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  objective_ms: number | string | null;
  share_within_objective: number | null;
  status: string;
}

async function readStatus(workflow: string): Promise<StatusRow | undefined> {
  const rows = await queryRows<StatusRow>(`SELECT * FROM workflow_slo_status WHERE workflow = '${workflow}'`);
  return rows[0];
}

beforeAll(async () => {
  const config = parseConfigObject({
    store: { dataDir },
    collector: { otlp: { port: 0 } },
    api: { port: 0 },
    integrations: [
      { name: 'odoo-mes', systems: ['odoo', 'mes'] },
      { name: 'odoo-qms', systems: ['odoo', 'qms'] },
    ],
    workflows: [
      { name: 'production_order_release', criticality: 'critical', syncMode: 'real_time', integrations: ['odoo-mes'], objective: { percentile: 95, within: '1s' } },
      { name: 'quality_hold', criticality: 'critical', syncMode: 'real_time', integrations: ['odoo-qms'], objective: { percentile: 95, within: '500ms' } },
      { name: 'material_consumption', criticality: 'critical', syncMode: 'real_time', integrations: ['odoo-mes'], objective: { percentile: 95, within: '1s' } },
      { name: 'work_order_completion', criticality: 'high', syncMode: 'real_time', objective: { percentile: 90, within: '5s' } },
      { name: 'stock_move', criticality: 'high', syncMode: 'near_real_time', objective: { percentile: 95, within: '5m' } },
    ],
  });
  service = await startService({ config, logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await Promise.allSettled([...providers.values()].map((provider) => provider.shutdown()));
  await service?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('workflow transaction latency', () => {
  it('spans first start to last end', async () => {
    const correlationId = await sendTransaction({
      workflow: 'production_order_release',
      startMs: BASE_MS,
      hops: [
        { system: 'odoo', offsetMs: 0, durationMs: 120 },
        { system: 'middleware', offsetMs: 15, durationMs: 200 },
        { system: 'mes', offsetMs: 40, durationMs: 301 },
      ],
    });

    const row = await readTransaction(correlationId);
    expect(row?.workflow).toBe('production_order_release');
    expect(row?.plant).toBe('plant-a');
    expect(row?.integrations).toEqual(['odoo-mes']);
    expect(row?.latency_ms).toBe(341);
    expect(row?.hops).toBe(3);
    expect(row?.services).toEqual(['mes', 'middleware', 'odoo']);
    expect(Number(row?.span_count)).toBe(3);
    expect(row?.in_flight).toBe(false);
  });

  it('merges spans from separate inserts', async () => {
    const correlationId = randomUUID();
    const spec = { workflow: 'quality_hold', integration: 'odoo-qms', startMs: BASE_MS + 5_000, correlationId };
    // Each export is its own request and insert; the transaction grows with each one.
    await service.client.command({ query: 'SYSTEM STOP MERGES workflow_transactions' });
    await sendTransaction({ ...spec, hops: [{ system: 'qms', offsetMs: 0, durationMs: 80 }] });
    expect((await readTransaction(correlationId))?.latency_ms).toBe(80);
    await sendTransaction({ ...spec, hops: [{ system: 'odoo', offsetMs: 100, durationMs: 90 }] });
    expect((await readTransaction(correlationId))?.latency_ms).toBe(190);
    // The last hop carries no workflow attribute; the transaction keeps the one its other spans name.
    await sendTransaction({ ...spec, workflow: '', hops: [{ system: 'wms', offsetMs: 250, durationMs: 187, error: true }] });

    const unmerged = await countStoredRows(correlationId);
    const row = await readTransaction(correlationId);
    expect(unmerged).toBe(3);
    expect(row?.workflow).toBe('quality_hold');
    expect(row?.latency_ms).toBe(437);
    expect(row?.services).toEqual(['odoo', 'qms', 'wms']);
    expect(Number(row?.span_count)).toBe(3);
    expect(Number(row?.error_span_count)).toBe(1);

    // Once the engine merges the parts, one row contains the same totals.
    await service.client.command({ query: 'SYSTEM START MERGES workflow_transactions' });
    await service.client.command({ query: 'OPTIMIZE TABLE workflow_transactions FINAL' });
    expect(await countStoredRows(correlationId)).toBe(1);
    expect(await readTransaction(correlationId)).toEqual(row);
  });

  it('keeps spans without correlation id out', async () => {
    const tracer = getProvider('odoo').getTracer('workflow-latency-test');
    tracer.startSpan('cron job', { startTime: new Date(BASE_MS), attributes: { 'syncwatch.workflow': 'stock_move' } }).end(
      new Date(BASE_MS + 10),
    );
    await flushAll();

    const rows = await queryRows<{ empty: number | string }>(
      `SELECT count() AS empty FROM workflow_transactions WHERE correlation_id = ''`,
    );
    expect(Number(rows[0]?.empty)).toBe(0);
  });
});

describe('workflow_slo_status', () => {
  it('reports ok at the percentile', async () => {
    // 19 of 20 within 1 s is exactly 95%.
    const latencies = [...Array.from({ length: 19 }, (_, index) => 100 + index * 10), 1_500];
    for (const [index, latencyMs] of latencies.entries()) {
      await sendTransaction({
        workflow: 'production_order_release',
        startMs: BASE_MS + 60_000 + index * 1_000,
        hops: [
          { system: 'odoo', offsetMs: 0, durationMs: latencyMs },
          { system: 'mes', offsetMs: 5, durationMs: latencyMs - 5 },
        ],
      });
    }

    const status = await readStatus('production_order_release');
    // The first test's transaction (341 ms) is in the window too: 21 transactions, 20 within.
    expect(Number(status?.transactions)).toBe(21);
    expect(status?.p50_ms).toBe(200);
    expect(status?.p95_ms).toBe(341);
    expect(status?.p99_ms).toBe(1_500);
    expect(Number(status?.objective_ms)).toBe(1_000);
    expect(status?.share_within_objective).toBe(0.9524);
    expect(status?.status).toBe('ok');
  });

  it('reports breaching below the percentile', async () => {
    for (const latencyMs of [200, 650, 700]) {
      await sendTransaction({
        workflow: 'quality_hold',
        integration: 'odoo-qms',
        startMs: BASE_MS + 120_000 + latencyMs,
        hops: [
          { system: 'qms', offsetMs: 0, durationMs: 50 },
          { system: 'odoo', offsetMs: 60, durationMs: latencyMs - 60 },
        ],
      });
    }

    const status = await readStatus('quality_hold');
    // With the 437 ms transaction from the merge test: 2 of 4 are within 500 ms.
    expect(Number(status?.transactions)).toBe(4);
    expect(Number(status?.transactions_with_errors)).toBe(1);
    expect(status?.p95_ms).toBe(700);
    expect(status?.share_within_objective).toBe(0.5);
    expect(status?.status).toBe('breaching');
  });

  it('reports no_data without transactions', async () => {
    const status = await readStatus('stock_move');
    expect(status).toBeDefined();
    expect(Number(status?.transactions)).toBe(0);
    expect(status?.p95_ms).toBeNull();
    expect(status?.share_within_objective).toBeNull();
    expect(status?.status).toBe('no_data');
  });

  it('counts overdue in-flight transactions against objective', async () => {
    // A message sent and processed within the objective.
    await sendTransaction({
      workflow: 'material_consumption',
      startMs: BASE_MS + 180_000,
      hops: [
        { system: 'mes', offsetMs: 0, durationMs: 30, kind: SpanKind.PRODUCER },
        { system: 'odoo', offsetMs: 200, durationMs: 300, kind: SpanKind.CONSUMER },
      ],
    });
    // A message sent minutes ago that no consumer has processed yet.
    const stuckId = await sendTransaction({
      workflow: 'material_consumption',
      startMs: BASE_MS + 181_000,
      hops: [{ system: 'mes', offsetMs: 0, durationMs: 25, kind: SpanKind.PRODUCER }],
    });

    const stuck = await readTransaction(stuckId);
    expect(stuck?.in_flight).toBe(true);
    expect(stuck?.latency_ms).toBeNull();
    const waiting = await readStatus('material_consumption');
    expect(Number(waiting?.transactions)).toBe(1);
    expect(Number(waiting?.in_flight)).toBe(1);
    expect(Number(waiting?.in_flight_over_objective)).toBe(1);
    expect(waiting?.p95_ms).toBe(500);
    expect(waiting?.share_within_objective).toBe(0.5);
    expect(waiting?.status).toBe('breaching');

    // The consumer catches up 90 s later; the transaction completes with that latency.
    await sendTransaction({
      workflow: 'material_consumption',
      startMs: BASE_MS + 181_000,
      correlationId: stuckId,
      hops: [{ system: 'odoo', offsetMs: 90_000, durationMs: 400, kind: SpanKind.CONSUMER }],
    });
    const done = await readTransaction(stuckId);
    expect(done?.in_flight).toBe(false);
    expect(done?.latency_ms).toBe(90_400);
    const completed = await readStatus('material_consumption');
    expect(Number(completed?.transactions)).toBe(2);
    expect(Number(completed?.in_flight)).toBe(0);
    expect(completed?.p99_ms).toBe(90_400);
    expect(completed?.status).toBe('breaching');
  });

  it('reports no_objective for unconfigured workflows', async () => {
    await sendTransaction({
      workflow: 'master_data_sync',
      integration: 'odoo-plm',
      startMs: BASE_MS + 240_000,
      hops: [{ system: 'plm', offsetMs: 0, durationMs: 1_000 }],
    });

    const status = await readStatus('master_data_sync');
    expect(Number(status?.transactions)).toBe(1);
    expect(status?.objective_ms).toBeNull();
    expect(status?.share_within_objective).toBeNull();
    expect(status?.status).toBe('no_objective');
  });

  it('reads other windows by parameter', async () => {
    // Two hours ago: outside the last hour, inside a three-hour window.
    const startMs = Date.now() - 2 * HOUR_MS;
    for (const latencyMs of [1_000, 2_000, 3_000]) {
      await sendTransaction({
        workflow: 'work_order_completion',
        startMs: startMs + latencyMs,
        hops: [
          { system: 'mes', offsetMs: 0, durationMs: 100 },
          { system: 'odoo', offsetMs: 100, durationMs: latencyMs - 100 },
        ],
      });
    }

    expect((await readStatus('work_order_completion'))?.status).toBe('no_data');

    const statuses = await readWorkflowSloStatus(service.client, {
      start: new Date(Date.now() - 3 * HOUR_MS),
      end: new Date(),
    });
    const byWorkflow = new Map<string, WorkflowSloStatus>(statuses.map((status) => [status.workflow, status]));
    const workOrders = byWorkflow.get('work_order_completion');
    expect(workOrders?.transactions).toBe(3);
    expect(workOrders?.p50Ms).toBe(2_000);
    expect(workOrders?.objectiveMs).toBe(5_000);
    expect(workOrders?.status).toBe('ok');
    expect(byWorkflow.get('stock_move')?.status).toBe('no_data');
    expect(byWorkflow.get('production_order_release')?.transactions).toBe(21);
  });

  it('rejects an empty window', async () => {
    const now = new Date();
    await expect(readWorkflowSloStatus(service.client, { start: now, end: now })).rejects.toThrow(
      /expected a start before the end/,
    );
  });

  it('answers syncwatch sql', async () => {
    const output = await runSqlCommand({
      query: 'SELECT workflow, status FROM workflow_slo_status ORDER BY workflow',
      format: 'json',
      store: { dataDir },
    });
    expect(output.split('\n').map((line) => JSON.parse(line))).toEqual([
      { workflow: 'master_data_sync', status: 'no_objective' },
      { workflow: 'material_consumption', status: 'breaching' },
      { workflow: 'production_order_release', status: 'ok' },
      { workflow: 'quality_hold', status: 'breaching' },
      { workflow: 'stock_move', status: 'no_data' },
      { workflow: 'work_order_completion', status: 'no_data' },
    ]);
  });
});
