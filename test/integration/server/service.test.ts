import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSqlCommand } from '../../../cli/sql-command.js';
import { parseConfigObject } from '../../../config/index.js';
import { readLiveServiceRecord, startService, type RunningService } from '../../../server/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-service-'));
const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const queueName = `syncwatch.test.service.${process.pid}.${Date.now()}`;
let service: RunningService;

beforeAll(async () => {
  const config = parseConfigObject({
    store: { dataDir },
    collector: { otlp: { port: 0 } },
    api: { port: 0 },
    integrations: [{ name: 'odoo-mes', systems: ['odoo', 'mes'] }],
    sources: [
      { kind: 'rabbitmq', name: 'broker', integration: 'odoo-mes', url: AMQP_URL, queues: [queueName], interval: '1h' },
    ],
  });
  service = await startService({ config, logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await service?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('startService', () => {
  it('stores spans sent by the OTLP exporter', async () => {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'odoo' }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${service.otlpUrl}/v1/traces` }))],
    });
    const tracer = provider.getTracer('service-test');
    tracer.startSpan('mrp.production release').end();
    await provider.forceFlush();
    await provider.shutdown();

    const output = await runSqlCommand({
      query: "SELECT ServiceName, SpanName FROM otel_traces WHERE ServiceName = 'odoo'",
      format: 'json',
      store: { dataDir },
    });
    expect(output).toBe('{"ServiceName":"odoo","SpanName":"mrp.production release"}');
  });

  it('polls configured sources into the lag table', async () => {
    await service.pollNow();
    const output = await runSqlCommand({
      query: `SELECT source, entity, status FROM integration_lag WHERE source = 'broker'`,
      format: 'json',
      store: { dataDir },
    });
    // The queue does not exist, so the sample is marked source_down instead of reporting zero lag.
    expect(JSON.parse(output.split('\n')[0]!)).toEqual({ source: 'broker', entity: queueName, status: 'source_down' });
  });

  it('records itself for local commands', () => {
    const record = readLiveServiceRecord(dataDir);
    expect(record?.pid).toBe(process.pid);
    expect(record?.apiUrl).toBe(service.apiUrl);
  });

  it('prints a table through the API', async () => {
    const output = await runSqlCommand({ query: 'SELECT 1 AS one', format: 'table', store: { dataDir } });
    expect(output.split('\n')).toEqual(['one', '---', '1', expect.stringMatching(/^\(1 row, \d+ ms\)$/)]);
  });

  it('escapes tsv output', async () => {
    const output = await runSqlCommand({
      query: `SELECT concat('a', char(9), 'b', char(10), 'c') AS text, map('k', 1) AS tags, NULL AS missing`,
      format: 'tsv',
      store: { dataDir },
    });
    expect(output.split('\n')).toEqual(['text\ttags\tmissing', 'a\\tb\\nc\t{"k":1}\t\\N']);
  });

  it('rejects a missing store directory', async () => {
    await expect(runSqlCommand({ query: 'SELECT 1', format: 'table', store: { dataDir: join(dataDir, 'absent') } })).rejects.toThrow(
      /no syncwatch service runs for .*absent and there is no store there/,
    );
  });

  it('reports a rejected query by code', async () => {
    await expect(runSqlCommand({ query: 'DROP TABLE otel_traces', format: 'table', store: { dataDir } })).rejects.toThrow(
      /^API_ERR_QUERY_REJECTED: query rejected: statement DropQuery is not allowed/,
    );
  });
});
