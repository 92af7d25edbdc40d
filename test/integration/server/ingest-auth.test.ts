import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigObject } from '../../../config/index.js';
import { startService, type RunningService } from '../../../server/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-ingest-auth-'));
const INGEST_TOKEN = `ingest-${process.pid}-0123456789abcdef`;
const SQL_TOKEN = `sql-${process.pid}-0123456789abcdef`;
let service: RunningService;

beforeAll(async () => {
  const config = parseConfigObject({
    store: { dataDir },
    collector: { otlp: { port: 0, tokens: [{ name: 'mes-plant-a', token: INGEST_TOKEN }] } },
    api: { port: 0, tokens: [{ name: 'analysts', token: SQL_TOKEN }] },
  });
  service = await startService({ config, logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await service?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Exports one span named `spanName` with the real OTLP exporter and returns the export result code. */
async function exportSpan(spanName: string, token: string | undefined): Promise<number> {
  const recorded = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'mes' }),
    spanProcessors: [new SimpleSpanProcessor(recorded)],
  });
  provider.getTracer('ingest-auth-test').startSpan(spanName).end();
  await provider.forceFlush();

  const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  const exporter = new OTLPTraceExporter({ url: `${service.otlpUrl}/v1/traces`, headers });
  const result = await new Promise<{ code: number }>((resolve) => exporter.export(recorded.getFinishedSpans(), resolve));
  await exporter.shutdown();
  await provider.shutdown();
  return result.code;
}

async function querySql(token: string, query: string) {
  return fetch(`${service.apiUrl}/api/sql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
}

describe('ingest tokens', () => {
  it('let the exporter store spans', async () => {
    expect(await exportSpan('release with ingest token', INGEST_TOKEN)).toBe(0);

    const response = await querySql(SQL_TOKEN, "SELECT count() AS spans FROM otel_traces WHERE SpanName = 'release with ingest token'");
    expect(response.status).toBe(200);
    expect(((await response.json()) as { rows: { spans: string }[] }).rows[0]?.spans).toBe('1');
  });

  it('reject a missing token', async () => {
    const response = await fetch(`${service.otlpUrl}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });

    expect(response.status).toBe(401);
    const status = (await response.json()) as { details: { reason?: string }[] };
    expect(status.details[0]?.reason).toBe('COLLECTOR_ERR_UNAUTHENTICATED');
  });

  it('reject an sql token', async () => {
    expect(await exportSpan('release with sql token', SQL_TOKEN)).not.toBe(0);
    expect(await exportSpan('release without token', undefined)).not.toBe(0);

    const response = await querySql(SQL_TOKEN, "SELECT count() AS spans FROM otel_traces WHERE SpanName LIKE 'release with%token' AND SpanName != 'release with ingest token'");
    expect(((await response.json()) as { rows: { spans: string }[] }).rows[0]?.spans).toBe('0');
  });

  it('cannot query the API', async () => {
    const response = await querySql(INGEST_TOKEN, 'SELECT 1');

    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('API_ERR_UNAUTHORIZED');
  });
});

describe('GET /metrics', () => {
  it('serves Prometheus text without a token', async () => {
    const response = await fetch(`${service.apiUrl}/metrics`);
    const text = await response.text();

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toContain('syncwatch_otlp_requests_total{status_code="401",error_code="COLLECTOR_ERR_UNAUTHENTICATED"}');
    expect(text).toMatch(/syncwatch_rows_accepted_total\{table="otel_traces"\} [1-9]/);
    expect(text).toContain('syncwatch_process_resident_memory_bytes');
  });
});
