import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySeries } from '../../../analyzer/anomaly/series-query.js';
import { parseConfigObject } from '../../../config/index.js';
import { startService, type RunningService } from '../../../server/index.js';
import { createRecordingSink } from '../../support/alert-events.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-service-analyzer-'));
let service: RunningService;
const recorder = createRecordingSink();
const received = recorder.events;
const MINUTE = 60_000;
const now = Math.floor(Date.now() / MINUTE) * MINUTE;

beforeAll(async () => {
  const config = parseConfigObject({
    store: { dataDir },
    collector: { otlp: { port: 0 } },
    api: { port: 0 },
    analyzer: { interval: '1h' },
  });
  service = await startService({ config, logger: pino({ level: 'silent' }), alertSinks: [recorder] });
  const spans = [];
  for (let k = 0; k < 4; k++) {
    const start = (now - 3 * MINUTE + k * 1_000) * 1e6;
    for (const [service, kind] of [['odoo', 'Producer'], ['mes-plant-1', 'Consumer']] as const) {
      spans.push({
        Timestamp: new Date(start / 1e6 + (kind === 'Consumer' ? 400 : 0)).toISOString().replace('T', ' ').replace('Z', ''),
        TraceId: `trace-${k}`,
        SpanId: `${service}-${k}`,
        SpanName: 'release order',
        SpanKind: kind,
        ServiceName: service,
        SpanAttributes: {
          'syncwatch.correlation_id': `order-${k}`,
          'syncwatch.integration': 'odoo-mes',
          'syncwatch.workflow': 'production_order_release',
          'syncwatch.plant': 'plant-1',
        },
        Duration: 200_000_000,
        StatusCode: k === 0 ? 'Error' : 'Ok',
      });
    }
  }
  await service.client.insert({ table: 'otel_traces', format: 'JSONEachRow', values: spans });
  await service.client.insert({
    table: 'integration_failures',
    format: 'JSONEachRow',
    values: [
      {
        observed_at: now - 2 * MINUTE,
        failed_at: now - 2 * MINUTE,
        integration: 'odoo-mes',
        workflow: 'production_order_release',
        source: 'odoo-jobs',
        source_kind: 'queue_job',
        entity: 'mrp.production',
        failure_id: 'job-1',
        exception_name: 'TimeoutError',
        exception_message: 'MES did not answer',
        retry_count: 2,
        attributes: { plant: 'plant-1' },
      },
    ],
  });
}, 60_000);

afterAll(async () => {
  await service?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('analyzer in the service', () => {
  it('aggregates every series kind per minute', async () => {
    const points = await querySeries(service.client, now - 10 * MINUTE, now);
    const metrics = new Set(points.map((p) => p.metric));
    expect([...metrics].sort()).toEqual([
      'error_rate',
      'failures_per_minute',
      'latency_p50_seconds',
      'latency_p95_seconds',
      'retries_per_minute',
      'spans_per_minute',
    ]);
    const spans = points.find((p) => p.metric === 'spans_per_minute')!;
    expect(spans.integration).toBe('odoo-mes');
    expect(spans.plant).toBe('plant-1');
    expect(spans.value).toBe(8);
    expect(points.find((p) => p.metric === 'error_rate')!.value).toBe(25);
    expect(points.find((p) => p.metric === 'retries_per_minute')!.value).toBe(2);
    expect(points.find((p) => p.metric === 'latency_p95_seconds')!.value).toBeCloseTo(0.6, 3);
  });

  it('runs a cycle without failures', async () => {
    const cycle = await service.runAnalyzerCycle(new Date(now + 1_000));
    expect(cycle.failures.map((f) => f.stage)).not.toContain('anomaly');
    expect(received.map((e) => e.incidentId)).toEqual(cycle.events.map((e) => e.incidentId));
  });
});
