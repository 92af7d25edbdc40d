import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exceptionsConfigSchema } from '../../../analyzer/exceptions/config.js';
import { createExceptionStage, EXCEPTION_QUIET_RESOLVE_MS, type ExceptionStage } from '../../../analyzer/exceptions/stage.js';
import { migrate, openClickHouse } from '../../../store/index.js';
import { plainAnswer, startOpenAiCompatibleServer, type OpenAiCompatibleServer } from '../../support/openai-compatible-server.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-exception-stage-'));
const client = openClickHouse({ kind: 'embedded', dataDir });
let server: OpenAiCompatibleServer;
let stage: ExceptionStage;

const DISTINCT_ERRORS = 50;
const OCCURRENCES = 10_000;
const START = Date.now() - 10 * 60_000;

/** Builds a word of letters only, so normalization keeps it and each index gets its own template. */
function wordFor(index: number): string {
  return `q${String.fromCharCode(97 + (index % 26))}${String.fromCharCode(97 + Math.floor(index / 26))}`;
}

/** Builds an exception text that no rule matches, with ids, numbers and an e-mail address that change per occurrence. */
function messageFor(errorIndex: number, occurrence: number): string {
  return `Widget ${wordFor(errorIndex)} handshake drifted on bridge ${occurrence} after ${occurrence % 17} cycles, owner ops${occurrence}@plant-2.example.com`;
}

function epochNanos(epochMs: number): string {
  const seconds = Math.floor(epochMs / 1000);
  return `${seconds}.${String((epochMs - seconds * 1000) * 1_000_000).padStart(9, '0')}`;
}

function spanRow(integration: string, atMs: number, message: string, type = 'BridgeError'): Record<string, unknown> {
  const time = epochNanos(atMs);
  return {
    Timestamp: time,
    TraceId: randomBytes(16).toString('hex'),
    SpanId: randomBytes(8).toString('hex'),
    ParentSpanId: '',
    TraceState: '',
    SpanName: 'mes.bridge sync',
    SpanKind: 'Client',
    ServiceName: 'mes-plant-2',
    ResourceAttributes: { 'service.name': 'mes-plant-2' },
    ScopeName: 'exception-stage-test',
    ScopeVersion: '1.0.0',
    SpanAttributes: { 'syncwatch.integration': integration },
    Duration: '1000000',
    StatusCode: 'Error',
    StatusMessage: '',
    'Events.Timestamp': [time],
    'Events.Name': ['exception'],
    'Events.Attributes': [{ 'exception.type': type, 'exception.message': message }],
    'Links.TraceId': [],
    'Links.SpanId': [],
    'Links.TraceState': [],
    'Links.Attributes': [],
  };
}

interface SummaryRow {
  integration: string;
  fingerprint: string;
  template: string;
  occurrences: string | number;
  samples: string[];
  category: string;
  retryable: boolean;
  classified_by: string;
}

async function readSummary(): Promise<SummaryRow[]> {
  const result = await client.query({ query: 'SELECT * FROM exception_fingerprint_summary ORDER BY integration, fingerprint', format: 'JSONEachRow' });
  return result.json<SummaryRow>();
}

beforeAll(async () => {
  await migrate(client);
  server = await startOpenAiCompatibleServer();
  const config = exceptionsConfigSchema.parse({
    llm: { baseUrl: server.baseUrl, model: 'test-model', apiKey: 'test-key', timeout: '2s', backoff: '5ms' },
    samplesPerFingerprint: 3,
    surge: { factor: 3, minCount: 20 },
  });
  stage = createExceptionStage(client, config);

  const rows = Array.from({ length: OCCURRENCES }, (_, occurrence) =>
    spanRow('odoo-mes', START + Math.floor((occurrence / OCCURRENCES) * 9 * 60_000), messageFor(occurrence % DISTINCT_ERRORS, occurrence)),
  );
  await client.insert({ table: 'otel_traces', values: rows, format: 'JSONEachRow' });
}, 120_000);

afterAll(async () => {
  await server.close();
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('exception stage', () => {
  let firstEvents: Awaited<ReturnType<ExceptionStage['run']>> = [];

  it('groups 10,000 occurrences into 50 fingerprints', async () => {
    firstEvents = await stage.run(new Date());
    const summary = await readSummary();

    expect(summary).toHaveLength(DISTINCT_ERRORS);
    expect(summary.reduce((sum, row) => sum + Number(row.occurrences), 0)).toBe(OCCURRENCES);
  });

  it('makes at most one model call per fingerprint', () => {
    expect(server.requests.length).toBeGreaterThan(0);
    expect(server.requests.length).toBeLessThanOrEqual(DISTINCT_ERRORS);
  });

  it('stores labels from the model', async () => {
    const summary = await readSummary();
    for (const row of summary) {
      expect(row.classified_by).toBe('llm');
      expect(row.category).toBe('unknown');
    }
  });

  it('keeps a few redacted samples', async () => {
    const summary = await readSummary();
    for (const row of summary) {
      expect(row.samples.length).toBeLessThanOrEqual(3);
      for (const sample of row.samples) expect(sample).not.toMatch(/@plant-2\.example\.com/);
    }
  });

  it('opens an alert per new fingerprint', () => {
    expect(firstEvents).toHaveLength(DISTINCT_ERRORS);
    for (const event of firstEvents) {
      expect(event.state).toBe('opened');
      expect(event.kind).toBe('exception');
      expect(event.integration).toBe('odoo-mes');
      expect(event.exception?.sample).toContain('<email>');
    }
  });

  it('counts later occurrences without new calls', async () => {
    const callsBefore = server.requests.length;
    const now = Date.now();
    const rows = Array.from({ length: 5 }, (_, index) => spanRow('odoo-mes', now + index, messageFor(0, 90_000 + index)));
    await client.insert({ table: 'otel_traces', values: rows, format: 'JSONEachRow' });

    const events = await stage.run(new Date(now + 1_000));
    const summary = await readSummary();

    expect(server.requests.length).toBe(callsBefore);
    expect(events).toHaveLength(0);
    expect(summary).toHaveLength(DISTINCT_ERRORS);
    expect(summary.reduce((sum, row) => sum + Number(row.occurrences), 0)).toBe(OCCURRENCES + 5);
  });

  it('reports a surge', async () => {
    const now = Date.now() + 2_000;
    const rows = Array.from({ length: 400 }, (_, index) => spanRow('odoo-mes', now - 500 + (index % 400), messageFor(1, 100_000 + index)));
    await client.insert({ table: 'otel_traces', values: rows, format: 'JSONEachRow' });

    const events = await stage.run(new Date(now + 1_000));

    expect(events).toHaveLength(1);
    expect(events[0]?.state).toBe('updated');
    expect(events[0]?.metric?.name).toBe('exceptions_per_hour');
  });

  it('labels failed jobs by rules once per failure', async () => {
    const now = Date.now() + 5_000;
    const failure = (failureId: string, observedMs: number, message: string) => ({
      observed_at: epochNanos(observedMs).slice(0, 14),
      failed_at: epochNanos(now - 60_000).slice(0, 14),
      integration: 'odoo-wms',
      workflow: '',
      source: 'odoo-jobs',
      source_kind: 'queue_job',
      entity: 'stock.picking',
      failure_id: failureId,
      exception_name: 'psycopg2.errors.SerializationFailure',
      exception_message: message,
      retry_count: 1,
      attributes: {},
    });
    await client.insert({
      table: 'integration_failures',
      values: [
        failure('job-1', now - 900, 'could not serialize access due to concurrent update'),
        failure('job-1', now - 800, 'could not serialize access due to concurrent update'),
        failure('job-2', now - 700, 'could not serialize access due to concurrent update'),
      ],
      format: 'JSONEachRow',
    });
    const callsBefore = server.requests.length;

    const events = await stage.run(new Date(now));
    const summary = (await readSummary()).filter((row) => row.integration === 'odoo-wms');

    expect(summary).toHaveLength(1);
    expect(Number(summary[0]?.occurrences)).toBe(2);
    expect(summary[0]?.category).toBe('concurrency_conflict');
    expect(summary[0]?.retryable).toBe(true);
    expect(summary[0]?.classified_by).toBe('rules');
    expect(server.requests.length).toBe(callsBefore);
    expect(events.map((event) => event.integration)).toEqual(['odoo-wms']);
  });
});

describe('exception stage labels', () => {
  it('shares one model call between integrations', async () => {
    const callsBefore = server.requests.length;
    const now = Date.now() + 10_000;
    await client.insert({
      table: 'otel_traces',
      values: [spanRow('odoo-qms', now - 500, 'Gadget zz spun out on rail 4'), spanRow('odoo-wms', now - 400, 'Gadget zz spun out on rail 9')],
      format: 'JSONEachRow',
    });

    await stage.run(new Date(now));
    const labelled = (await readSummary()).filter((row) => row.template.includes('Gadget zz'));

    expect(labelled.map((row) => row.integration)).toEqual(['odoo-qms', 'odoo-wms']);
    expect(labelled.map((row) => row.classified_by)).toEqual(['llm', 'llm']);
    expect(server.requests.length - callsBefore).toBe(1);
  });

  it('tries again when the model failed', async () => {
    const now = Date.now() + 20_000;
    server.defaultReply = () => ({ kind: 'status', status: 500 });
    await client.insert({ table: 'otel_traces', values: [spanRow('odoo-qms', now - 500, 'Sprocket yy lost its phase 1')], format: 'JSONEachRow' });

    const events = await stage.run(new Date(now));
    const unlabelled = (await readSummary()).find((row) => row.template.includes('Sprocket yy'));

    expect(events[0]?.exception?.category).toBe('unknown');
    expect(unlabelled?.classified_by).toBe('');

    server.defaultReply = () => plainAnswer();
    await client.insert({ table: 'otel_traces', values: [spanRow('odoo-qms', now + 500, 'Sprocket yy lost its phase 2')], format: 'JSONEachRow' });
    await stage.run(new Date(now + 1_000));
    const labelled = (await readSummary()).find((row) => row.template.includes('Sprocket yy'));

    expect(labelled?.classified_by).toBe('llm');
    expect(Number(labelled?.occurrences)).toBe(2);
  });

  it('resolves incidents after a quiet period', async () => {
    const later = new Date(Date.now() + 20_000 + EXCEPTION_QUIET_RESOLVE_MS + 60_000);
    const events = await stage.run(later);
    const again = await stage.run(new Date(later.getTime() + 60_000));

    expect(events.length).toBeGreaterThan(0);
    expect(new Set(events.map((event) => event.state))).toEqual(new Set(['resolved']));
    expect(events.some((event) => event.title.includes('Sprocket yy') || event.exception?.sample.includes('Sprocket yy'))).toBe(true);
    expect(again).toEqual([]);
  });
});
