import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLagWriter } from '../../../collector/lag-writer.js';
import type { OtelTraceRow } from '../../../collector/otlp/index.js';
import type { FailureRecord, LagSample, PollRecord } from '../../../collector/sources/index.js';
import { DASHBOARDS, NO_PLANT_VALUE, expandMacros, type ClickHouseQuery, type MacroContext } from '../../../dashboards/index.js';
import { migrate, openClickHouse } from '../../../store/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-dashboards-'));
const client = openClickHouse({ kind: 'embedded', dataDir });

const RANGE_FROM = new Date('2026-03-01T10:00:00Z');
const RANGE_TO = new Date('2026-03-01T11:00:00Z');
const SEARCHED_TRACE_ID = 'a1000000000000000000000000000000';

/** Values a user would pick: every seeded plant, integration and workflow, and one trace. */
const CONTEXT: MacroContext = {
  from: RANGE_FROM,
  to: RANGE_TO,
  intervalSeconds: 300,
  variables: {
    plant: ['plant-a', 'plant-b', NO_PLANT_VALUE],
    integration: ['odoo-mes', 'odoo-wms'],
    workflow: ['production_order_release', 'shipment_confirmation'],
    trace_id: [SEARCHED_TRACE_ID],
  },
};

/** Columns each panel's query returns, in order, by panel title. */
const EXPECTED_COLUMNS: Record<string, string[]> = {
  'Breaching workflows': ['breaching_workflows'],
  'Workflow objectives': [
    'workflow',
    'criticality',
    'status',
    'transactions',
    'transactions_with_errors',
    'in_flight',
    'in_flight_over_objective',
    'p50_ms',
    'p95_ms',
    'p99_ms',
    'percentile',
    'objective_ms',
    'share_within_objective',
  ],
  'End-to-end latency percentiles': ['time', 'p50_ms', 'p95_ms', 'p99_ms'],
  'Transaction throughput': ['time', 'workflow', 'transactions_per_second'],
  'Event lag per integration': ['time', 'integration', 'lag_seconds'],
  'Queue depth per integration': ['time', 'integration', 'depth'],
  'Span error rate per integration': ['time', 'integration', 'error_ratio'],
  'Span throughput per integration': ['time', 'integration', 'spans_per_second'],
  'Failures and retries per integration': ['time', 'integration', 'failures', 'retries'],
  'Source health': [
    'source',
    'source_kind',
    'integration',
    'last_outcome',
    'last_poll_at',
    'consecutive_failures',
    'polls',
    'failed_polls',
    'avg_duration_ms',
    'last_error',
  ],
  'Trace search': [
    'traceID',
    'startTime',
    'serviceName',
    'operationName',
    'duration_ms',
    'spans',
    'error_spans',
    'integrations',
    'workflow',
    'correlation_id',
  ],
  'Trace ${trace_id}': [
    'traceID',
    'spanID',
    'parentSpanID',
    'serviceName',
    'operationName',
    'startTime',
    'duration',
    'tags',
    'serviceTags',
    'kind',
    'statusCode',
    'statusMessage',
  ],
  'Event lag per entity': ['time', 'entity', 'lag_seconds'],
  'Failures per exception': ['time', 'exception_name', 'failures'],
  'Entity state': [
    'integration',
    'source',
    'entity',
    'status',
    'last_observed_at',
    'lag_seconds',
    'lag_estimated',
    'depth',
    'in_flight',
    'consumers',
    'stuck',
    'failed',
    'conditions',
  ],
  Failures: [
    'failed_at',
    'integration',
    'workflow',
    'source',
    'entity',
    'exception_name',
    'exception_message',
    'retry_count',
    'failure_id',
    'observed_at',
  ],
};

/** Returns the time `offsetMs` milliseconds after the start of the range. */
function atOffset(offsetMs: number): Date {
  return new Date(RANGE_FROM.getTime() + offsetMs);
}

/** Formats a time as the `seconds.nanoseconds` string DateTime64(9) accepts. */
function formatNanos(time: Date): string {
  const milliseconds = time.getTime();
  const seconds = Math.floor(milliseconds / 1000);
  return `${seconds}.${String((milliseconds - seconds * 1000) * 1_000_000).padStart(9, '0')}`;
}

interface SpanSeed {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  service: string;
  name: string;
  kind: 'Producer' | 'Consumer' | 'Internal';
  start: Date;
  durationMs: number;
  error?: boolean;
  attributes: Record<string, string>;
}

function toTraceRow(span: SpanSeed): OtelTraceRow {
  return {
    Timestamp: formatNanos(span.start),
    TraceId: span.traceId,
    SpanId: span.spanId,
    ParentSpanId: span.parentSpanId ?? '',
    TraceState: '',
    SpanName: span.name,
    SpanKind: span.kind,
    ServiceName: span.service,
    ResourceAttributes: { 'service.name': span.service },
    ScopeName: 'syncwatch-test',
    ScopeVersion: '',
    SpanAttributes: span.attributes,
    Duration: String(span.durationMs * 1_000_000),
    StatusCode: span.error ? 'Error' : 'Unset',
    StatusMessage: span.error ? 'MES rejected the order' : '',
    'Events.Timestamp': [],
    'Events.Name': [],
    'Events.Attributes': [],
    'Links.TraceId': [],
    'Links.SpanId': [],
    'Links.TraceState': [],
    'Links.Attributes': [],
  };
}

/**
 * Five order releases from Odoo to the MES at plant-a (one with an error
 * span), and one shipment confirmation from the WMS at plant-b that takes
 * longer than its objective.
 */
function buildSpanSeeds(): SpanSeed[] {
  const spans: SpanSeed[] = [];
  for (let index = 0; index < 5; index += 1) {
    const traceId = `a${index}`.padEnd(32, '0');
    const start = atOffset((5 + index * 10) * 60_000);
    const attributes = {
      'syncwatch.correlation_id': `order-${index}`,
      'syncwatch.workflow': 'production_order_release',
      'syncwatch.integration': 'odoo-mes',
      'syncwatch.plant': 'plant-a',
    };
    spans.push({
      traceId,
      spanId: `${index}1`.padEnd(16, '0'),
      service: 'odoo',
      name: 'publish mes.orders',
      kind: 'Producer',
      start,
      durationMs: 40,
      attributes,
    });
    spans.push({
      traceId,
      spanId: `${index}2`.padEnd(16, '0'),
      parentSpanId: `${index}1`.padEnd(16, '0'),
      service: 'mes',
      name: 'process mes.orders',
      kind: 'Consumer',
      start: new Date(start.getTime() + 2_000),
      durationMs: 500 + index * 100,
      error: index === 3,
      attributes,
    });
  }

  const shipmentAttributes = {
    'syncwatch.correlation_id': 'shipment-1',
    'syncwatch.workflow': 'shipment_confirmation',
    'syncwatch.integration': 'odoo-wms',
    'syncwatch.plant': 'plant-b',
  };
  spans.push({
    traceId: 'b1'.padEnd(32, '0'),
    spanId: 'b1'.padEnd(16, '0'),
    service: 'wms',
    name: 'publish wms.shipments',
    kind: 'Producer',
    start: atOffset(20 * 60_000),
    durationMs: 30,
    attributes: shipmentAttributes,
  });
  spans.push({
    traceId: 'b1'.padEnd(32, '0'),
    spanId: 'b2'.padEnd(16, '0'),
    parentSpanId: 'b1'.padEnd(16, '0'),
    service: 'odoo',
    name: 'process wms.shipments',
    kind: 'Consumer',
    start: atOffset(20 * 60_000 + 4_000),
    durationMs: 1_000,
    attributes: shipmentAttributes,
  });
  return spans;
}

function buildLagSamples(): LagSample[] {
  const samples: LagSample[] = [];
  for (let minute = 0; minute < 60; minute += 10) {
    samples.push({
      observedAt: atOffset(minute * 60_000),
      integration: 'odoo-mes',
      workflow: 'production_order_release',
      source: 'mes-rabbitmq',
      sourceKind: 'rabbitmq',
      entity: 'mes.orders',
      status: 'ok',
      lagSeconds: 2 + minute / 10,
      depth: 10 + minute,
      consumers: 2,
    });
    samples.push({
      observedAt: atOffset(minute * 60_000),
      integration: 'odoo-wms',
      workflow: '',
      source: 'odoo-jobs',
      sourceKind: 'queue_job',
      entity: 'root.wms',
      status: 'ok',
      lagSeconds: 30,
      lagEstimated: true,
      depth: 4,
      stuck: 1,
      failed: 1,
      conditions: minute === 50 ? ['no_consumers'] : [],
    });
  }
  return samples;
}

function buildFailures(): FailureRecord[] {
  return [
    {
      observedAt: atOffset(30 * 60_000),
      failedAt: atOffset(25 * 60_000),
      integration: 'odoo-wms',
      workflow: 'shipment_confirmation',
      source: 'odoo-jobs',
      sourceKind: 'queue_job',
      entity: 'root.wms',
      failureId: 'job-1',
      exceptionName: 'psycopg2.OperationalError',
      exceptionMessage: 'could not serialize access',
      retryCount: 3,
    },
    {
      observedAt: atOffset(40 * 60_000),
      failedAt: atOffset(35 * 60_000),
      integration: 'odoo-mes',
      workflow: 'production_order_release',
      source: 'mes-rabbitmq',
      sourceKind: 'rabbitmq',
      entity: 'mes.orders.dead',
      failureId: 'message-7',
      exceptionName: 'rejected',
      exceptionMessage: 'order 7 has no routing',
      retryCount: 0,
    },
  ];
}

function buildPolls(): PollRecord[] {
  return [
    {
      source: 'mes-rabbitmq',
      sourceKind: 'rabbitmq',
      integration: 'odoo-mes',
      startedAt: atOffset(50 * 60_000),
      durationMs: 35,
      outcome: 'ok',
      samples: 1,
      downSamples: 0,
      failures: 1,
      consecutiveFailures: 0,
      error: '',
    },
    {
      source: 'odoo-jobs',
      sourceKind: 'queue_job',
      integration: 'odoo-wms',
      startedAt: atOffset(50 * 60_000),
      durationMs: 30_000,
      outcome: 'timeout',
      samples: 1,
      downSamples: 1,
      failures: 0,
      consecutiveFailures: 2,
      error: 'poll timed out after 30000 ms',
    },
  ];
}

async function seedStore(): Promise<void> {
  await client.insert({ table: 'otel_traces', values: buildSpanSeeds().map(toTraceRow), format: 'JSONEachRow' });
  await client.insert({
    table: 'workflow_objectives',
    format: 'JSONEachRow',
    values: [
      {
        workflow: 'production_order_release',
        criticality: 'critical',
        sync_mode: 'async',
        percentile: 95,
        objective_ms: 60_000,
        integrations: ['odoo-mes'],
        active: true,
        updated_at: '1772359200.000',
      },
      {
        workflow: 'shipment_confirmation',
        criticality: 'standard',
        sync_mode: 'async',
        percentile: 95,
        objective_ms: 1_000,
        integrations: ['odoo-wms'],
        active: true,
        updated_at: '1772359200.000',
      },
    ],
  });

  const lagWriter = createLagWriter(client, { flushIntervalMs: 0 });
  await lagWriter.write({ samples: buildLagSamples(), failures: buildFailures(), polls: buildPolls() });
}

interface PanelTarget {
  dashboard: string;
  panel: Panel;
  query: ClickHouseQuery;
}

function listPanelTargets(): PanelTarget[] {
  return DASHBOARDS.flatMap((definition) =>
    (definition.build().panels ?? []).flatMap((panel) =>
      ((panel as Panel).targets ?? []).map((target) => ({
        dashboard: definition.fileName,
        panel: panel as Panel,
        query: target as unknown as ClickHouseQuery,
      })),
    ),
  );
}

interface JsonResult {
  meta: { name: string; type: string }[];
  data: Record<string, unknown>[];
}

async function runPanelQuery(rawSql: string): Promise<JsonResult> {
  const result = await client.query({ query: expandMacros(rawSql, CONTEXT), format: 'JSON' });
  return result.json<Record<string, unknown>>() as unknown as Promise<JsonResult>;
}

beforeAll(async () => {
  await migrate(client);
  await seedStore();
});

afterAll(async () => {
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('dashboard panel queries', () => {
  const targets = listPanelTargets();

  it('cover every expected panel', () => {
    const titles = targets.map((target) => target.panel.title ?? '');
    expect(titles.sort()).toEqual(Object.keys(EXPECTED_COLUMNS).sort());
  });

  it.each(targets.map((target) => [target.panel.title ?? '', target] as const))(
    '%s returns its columns and rows',
    async (title, target) => {
      const result = await runPanelQuery(target.query.rawSql);

      expect(result.meta.map((column) => column.name)).toEqual(EXPECTED_COLUMNS[title]);
      expect(result.data.length).toBeGreaterThan(0);
    },
  );

  it('report one breaching workflow', async () => {
    const result = await runPanelQuery(targets.find((target) => target.panel.title === 'Breaching workflows')!.query.rawSql);

    expect(Number(result.data[0]?.breaching_workflows)).toBe(1);
  });

  it('rate the shipment workflow breaching', async () => {
    const result = await runPanelQuery(targets.find((target) => target.panel.title === 'Workflow objectives')!.query.rawSql);
    const byWorkflow = new Map(result.data.map((row) => [row.workflow, row]));

    expect(byWorkflow.get('shipment_confirmation')?.status).toBe('breaching');
    expect(byWorkflow.get('production_order_release')?.status).toBe('ok');
    expect(Number(byWorkflow.get('production_order_release')?.transactions)).toBe(5);
    expect(Number(byWorkflow.get('production_order_release')?.transactions_with_errors)).toBe(1);
  });

  it('find the spans of one trace', async () => {
    const result = await runPanelQuery(targets.find((target) => target.panel.title === 'Trace ${trace_id}')!.query.rawSql);

    expect(result.data.map((row) => row.spanID)).toEqual(['1100000000000000', '1200000000000000']);
    expect(result.data[1]?.parentSpanID).toBe('1100000000000000');
  });

  it('narrow lag to the chosen integration', async () => {
    const target = targets.find((candidate) => candidate.panel.title === 'Event lag per integration')!;
    const query = expandMacros(target.query.rawSql, { ...CONTEXT, variables: { ...CONTEXT.variables, integration: ['odoo-wms'] } });
    const rows = await (await client.query({ query, format: 'JSONEachRow' })).json<{ integration: string }>();

    expect(rows.length).toBe(6);
    expect(new Set(rows.map((row) => row.integration))).toEqual(new Set(['odoo-wms']));
  });

  it('narrow trace search to the chosen plant', async () => {
    const target = targets.find((candidate) => candidate.panel.title === 'Trace search')!;
    const query = expandMacros(target.query.rawSql, { ...CONTEXT, variables: { ...CONTEXT.variables, plant: ['plant-b'] } });
    const rows = await (await client.query({ query, format: 'JSONEachRow' })).json<{ traceID: string; duration_ms: number }>();

    expect(rows.map((row) => row.traceID)).toEqual(['b1'.padEnd(32, '0')]);
    expect(Number(rows[0]?.duration_ms)).toBe(5_000);
  });
});
