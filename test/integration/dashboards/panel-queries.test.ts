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
  'Open incidents': ['open_incidents'],
  'Incidents open now': [
    'incident_id',
    'severity',
    'kind',
    'integration',
    'workflow',
    'plant',
    'metric',
    'title',
    'opened_at',
    'updated_at',
    'anomaly_count',
    'peak_score',
    'explanation',
  ],
  'Anomaly score per series': ['time', 'series', 'score'],
  'Breach probability': ['time', 'series', 'probability'],
  'Anomalous points and expected bands': [
    'ts',
    'integration',
    'workflow',
    'plant',
    'metric',
    'kind',
    'value',
    'expected',
    'lower',
    'upper',
    'score',
    'explanation',
    'incident_id',
  ],
  'Latest predictions': [
    'workflow',
    'integration',
    'plant',
    'predicted_at',
    'probability',
    'alerted',
    'predicted_breach_at',
    'lag_seconds',
    'objective_seconds',
    'indicators',
    'model_version',
  ],
  'Prediction outcomes': ['workflow', 'alerts', 'alerts_followed_by_breach', 'alerts_without_breach', 'breaches_without_alert'],
  'Incident history': ['incident_id', 'state', 'severity', 'title', 'opened_at', 'resolved_at', 'duration_minutes'],
  'Unclassified fingerprints': ['unclassified_fingerprints'],
  'Retryable share of occurrences': ['retryable_share'],
  'Exceptions by category': ['category', 'retryable', 'fingerprints', 'occurrences', 'last_seen_at'],
  'Span exceptions per type': ['time', 'exception_type', 'exceptions'],
  Fingerprints: [
    'integration',
    'category',
    'retryable',
    'confidence',
    'classified_by',
    'occurrences',
    'first_seen',
    'last_seen',
    'template',
    'sample',
    'fingerprint',
  ],
  'Proposals by status': ['status', 'proposals'],
  'Decisions and executions': ['time', 'event', 'events'],
  Proposals: ['proposal_id', 'status', 'proposed_at', 'last_change_at'],
  'Refused decisions': ['at', 'actor', 'channel', 'code', 'proposal_id', 'detail'],
  'Audit log': ['seq', 'at', 'actor', 'channel', 'event', 'proposal_id', 'code', 'detail'],
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

/** Formats a time as the `seconds.milliseconds` string DateTime64(3) accepts, whatever the column's time zone. */
function formatMillis(time: Date): string {
  return (time.getTime() / 1000).toFixed(3);
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
  exception?: { type: string; message: string };
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
    'Events.Timestamp': span.exception ? [formatNanos(span.start)] : [],
    'Events.Name': span.exception ? ['exception'] : [],
    'Events.Attributes': span.exception
      ? [{ 'exception.type': span.exception.type, 'exception.message': span.exception.message }]
      : [],
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
      exception: index === 3 ? { type: 'MesRejectedError', message: 'MES rejected the order' } : undefined,
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

/** Two incidents on the MES link (one resolved) and their anomalous points. */
async function seedAnomalies(): Promise<void> {
  const incident = {
    cause_key: 'lag_seconds|odoo-mes',
    kind: 'anomaly',
    severity: 'critical',
    integration: 'odoo-mes',
    workflow: 'production_order_release',
    plant: 'plant-a',
    metric: 'lag_seconds',
    explanation: 'lag 40 s against an expected 3 s (band 1 to 6 s)',
    anomaly_count: 3,
    series_count: 1,
    peak_score: 0.93,
  };
  await client.insert({
    table: 'incidents',
    format: 'JSONEachRow',
    values: [
      {
        ...incident,
        incident_id: 'inc-open',
        state: 'opened',
        title: 'Order releases to the MES lag 40 s in plant-a',
        opened_at: formatMillis(atOffset(30 * 60_000)),
        updated_at: formatMillis(atOffset(32 * 60_000)),
        resolved_at: null,
        version: 1,
      },
      {
        ...incident,
        incident_id: 'inc-resolved',
        state: 'resolved',
        title: 'Order releases to the MES lag 25 s in plant-a',
        opened_at: formatMillis(atOffset(5 * 60_000)),
        updated_at: formatMillis(atOffset(15 * 60_000)),
        resolved_at: formatMillis(atOffset(15 * 60_000)),
        version: 2,
      },
    ],
  });
  await client.insert({
    table: 'anomalies',
    format: 'JSONEachRow',
    values: [30, 31, 32].map((minute) => ({
      ts: formatMillis(atOffset(minute * 60_000)),
      detected_at: formatMillis(atOffset((minute + 1) * 60_000)),
      series_key: 'lag_seconds|odoo-mes|production_order_release|plant-a',
      integration: 'odoo-mes',
      workflow: 'production_order_release',
      plant: 'plant-a',
      metric: 'lag_seconds',
      kind: 'level_shift',
      value: 40,
      expected: 3,
      lower: 1,
      upper: 6,
      score: 0.9,
      explanation: 'lag 40 s against an expected 3 s (band 1 to 6 s)',
      incident_id: 'inc-open',
    })),
  });
}

/** Predictions for the MES link before and during the lag, one of them alerted. */
async function seedPredictions(): Promise<void> {
  await client.insert({
    table: 'predictions',
    format: 'JSONEachRow',
    values: [20, 25].map((minute) => ({
      ts: formatMillis(atOffset(minute * 60_000)),
      workflow: 'production_order_release',
      integration: 'odoo-mes',
      plant: 'plant-a',
      horizon_seconds: 900,
      probability: minute === 25 ? 0.85 : 0.2,
      threshold: 0.5,
      alerted: minute === 25,
      predicted_breach_at: minute === 25 ? formatMillis(atOffset(35 * 60_000)) : null,
      objective_seconds: 60,
      lag_seconds: 4,
      'indicators.name': ['lag_slope'],
      'indicators.value': [0.1],
      'indicators.description': ['lag grows 0.1 s per second'],
      model_version: 'test',
    })),
  });
}

/** Two fingerprints: a classified deadlock on the WMS link and an unclassified MES error. */
async function seedExceptionFingerprints(): Promise<void> {
  const label = (category: string, retryable: boolean) => ({
    classified_at: formatMillis(atOffset(40 * 60_000)),
    category,
    retryable,
    confidence: 0.9,
    classified_by: 'rules',
    rule: 'sqlstate',
    rationale: 'SQLSTATE 40001',
  });
  await client.insert({
    table: 'exception_fingerprints',
    format: 'JSONEachRow',
    values: [
      {
        integration: 'odoo-wms',
        fingerprint: 'fp-serialize',
        template: 'could not serialize access',
        exception_type: 'psycopg2.OperationalError',
        system: 'postgres',
        occurrences: 12,
        first_seen: formatMillis(atOffset(25 * 60_000)),
        last_seen: formatMillis(atOffset(45 * 60_000)),
        samples: ['could not serialize access'],
        label: label('concurrency_conflict', true),
      },
      {
        integration: 'odoo-mes',
        fingerprint: 'fp-rejected',
        template: 'order <num> has no routing',
        exception_type: 'rejected',
        system: 'rabbitmq',
        occurrences: 3,
        first_seen: formatMillis(atOffset(35 * 60_000)),
        last_seen: formatMillis(atOffset(36 * 60_000)),
        samples: ['order 7 has no routing'],
        label: label('unknown', false),
      },
    ],
  });
}

/** One proposal approved and executed, one refused self-approval. */
async function seedRemediationAudit(): Promise<void> {
  const events = [
    { event: 'proposal.created', actor: 'syncwatch', channel: 'system', code: '', detail: 'requeue 3 failed jobs' },
    { event: 'decision.refused', actor: 'alice', channel: 'api', code: 'REMEDIATION_SELF_APPROVAL', detail: 'requester cannot approve' },
    { event: 'decision.approved', actor: 'bob', channel: 'console', code: '', detail: 'approved' },
    { event: 'execution.started', actor: 'syncwatch', channel: 'system', code: '', detail: '3 targets' },
    { event: 'execution.finished', actor: 'syncwatch', channel: 'system', code: '', detail: 'executed: 3 jobs requeued' },
  ];
  await client.insert({
    table: 'remediation_audit',
    format: 'JSONEachRow',
    values: events.map((entry, index) => ({
      ...entry,
      seq: index + 1,
      at: formatMillis(atOffset((40 + index) * 60_000)),
      proposal_id: 'proposal-1',
    })),
  });
}

async function seedStore(): Promise<void> {
  await Promise.all([seedAnomalies(), seedPredictions(), seedExceptionFingerprints(), seedRemediationAudit()]);
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

  it('list only the open incident', async () => {
    const result = await runPanelQuery(targets.find((target) => target.panel.title === 'Incidents open now')!.query.rawSql);

    expect(result.data.map((row) => row.incident_id)).toEqual(['inc-open']);
  });

  it('count the alert followed by a breach', async () => {
    const result = await runPanelQuery(targets.find((target) => target.panel.title === 'Prediction outcomes')!.query.rawSql);

    expect(Number(result.data[0]?.alerts)).toBe(1);
    expect(Number(result.data[0]?.alerts_followed_by_breach)).toBe(0);
  });

  it('count unknown fingerprints as unclassified', async () => {
    const result = await runPanelQuery(targets.find((target) => target.panel.title === 'Unclassified fingerprints')!.query.rawSql);

    expect(Number(result.data[0]?.unclassified_fingerprints)).toBe(1);
  });

  it('derive an executed proposal from the audit', async () => {
    const result = await runPanelQuery(targets.find((target) => target.panel.title === 'Proposals')!.query.rawSql);

    expect(result.data.map((row) => [row.proposal_id, row.status])).toEqual([['proposal-1', 'executed']]);
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
