import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SPOOL_DIRECTORY_NAME } from '../../../collector/ingest/index.js';
import { openClickHouse } from '../../../store/index.js';
import { AcknowledgingExporter } from './acknowledged-spans.js';

const REPO_ROOT = resolve(import.meta.dirname, '../../..');
const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-crash-'));
const configPath = join(dataDir, 'syncwatch.yaml');
const serviceName = `crash-test-${process.pid}`;
/** Export timeout of the test's exporters: retries of requests cut by the kill end before the restart. */
const EXPORT_TIMEOUT_MS = 5_000;
const children: ChildProcess[] = [];

beforeAll(() => {
  // The child runs the compiled service, so it must reflect the sources under test. tsc still
  // writes the output when some other file fails to type-check, which `npm run typecheck` reports.
  try {
    execFileSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
  } catch (error) {
    if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js'))) throw error;
  }
  writeFileSync(
    configPath,
    [
      'store:',
      `  dataDir: ${JSON.stringify(join(dataDir, 'data'))}`,
      'collector:',
      '  otlp:',
      '    host: 127.0.0.1',
      '    port: 0',
      'api:',
      '  host: 127.0.0.1',
      '  port: 0',
      '',
    ].join('\n'),
  );
}, 180_000);

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts `syncwatch serve` and resolves with its OTLP traces URL once it logs that it started. */
async function startCollector(): Promise<{ child: ChildProcess; tracesUrl: string }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/syncwatch.js'), 'serve', '--config', configPath], {
    cwd: dataDir,
    env: { ...process.env, SYNCWATCH_LOG_FORMAT: 'json', SYNCWATCH_LOG_LEVEL: 'info', CLICKHOUSE_URL: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const tracesUrl = await new Promise<string>((resolveUrl, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`collector exited early: code ${code}, signal ${signal}`)));
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; otlpUrl?: string };
      if (entry.msg === 'syncwatch started' && entry.otlpUrl) resolveUrl(entry.otlpUrl);
    });
  });
  child.removeAllListeners('exit');
  return { child, tracesUrl };
}

async function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolveExit) => child.once('exit', resolveExit));
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/**
 * Parallel exporters: an SDK batch processor sends one request at a time and
 * waits for its response, which the collector sends only once the rows are
 * durable, so one processor alone sends at most one batch per flush interval.
 */
const EXPORTER_COUNT = 8;

/** Sends spans through real OTLP proto exporters for `durationMs`, calling `midway` halfway through. */
async function sendSpans(tracesUrl: string, durationMs: number, midway?: () => void): Promise<AcknowledgingExporter[]> {
  const exporters = Array.from(
    { length: EXPORTER_COUNT },
    () => new AcknowledgingExporter(new OTLPTraceExporter({ url: tracesUrl, timeoutMillis: EXPORT_TIMEOUT_MS })),
  );
  const providers = exporters.map(
    (exporter) =>
      new BasicTracerProvider({
        resource: resourceFromAttributes({ 'service.name': serviceName }),
        spanProcessors: [
          new BatchSpanProcessor(exporter, { maxExportBatchSize: 200, scheduledDelayMillis: 20, maxQueueSize: 20_000 }),
        ],
      }),
  );
  const tracers = providers.map((provider) => provider.getTracer('collector-crash-test'));
  const endAt = Date.now() + durationMs;
  let midwayDone = midway === undefined;
  while (Date.now() < endAt) {
    for (const tracer of tracers) {
      for (let index = 0; index < 2; index++) tracer.startSpan('stock.move confirm').end();
    }
    await sleep(10);
    if (!midwayDone && Date.now() > endAt - durationMs / 2) {
      midwayDone = true;
      midway?.();
    }
  }
  await Promise.all(providers.map((provider) => provider.forceFlush().catch(() => undefined)));
  await Promise.all(providers.map((provider) => provider.shutdown().catch(() => undefined)));
  return exporters;
}

/** Collects the span ids the exporters got a 2xx for. */
function collectAcknowledged(exporters: readonly AcknowledgingExporter[]): Set<string> {
  return new Set(exporters.flatMap((exporter) => [...exporter.acknowledgedSpanIds]));
}

/** Waits until the trace spool contains no records, so every acknowledged span is in ClickHouse. */
async function waitForEmptySpool(timeoutMs: number): Promise<void> {
  const spoolDir = join(dataDir, 'data', SPOOL_DIRECTORY_NAME, 'otel_traces');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const segments = existsSync(spoolDir) ? readdirSync(spoolDir).filter((name) => name.endsWith('.spool')) : [];
    if (segments.every((name) => statSync(join(spoolDir, name)).size === 0)) return;
    await sleep(200);
  }
  throw new Error(`spool ${spoolDir} still holds records after ${timeoutMs} ms`);
}

describe('collector killed with SIGKILL', () => {
  it('stores acknowledged spans once after restart', { timeout: 180_000 }, async () => {
    const first = await startCollector();
    const beforeKill = await sendSpans(first.tracesUrl, 5_000, () => first.child.kill('SIGKILL'));
    await waitForExit(first.child);
    expect(first.child.signalCode).toBe('SIGKILL');

    const second = await startCollector();
    const afterRestart = await sendSpans(second.tracesUrl, 2_000);
    await waitForEmptySpool(60_000);
    second.child.kill('SIGTERM');
    await waitForExit(second.child);

    const client = openClickHouse({ kind: 'embedded', dataDir: join(dataDir, 'data') });
    const result = await client.query({
      query: `SELECT SpanId, count() AS copies FROM otel_traces WHERE ServiceName = {service:String} GROUP BY SpanId`,
      query_params: { service: serviceName },
      format: 'JSONEachRow',
    });
    const stored = new Map((await result.json<{ SpanId: string; copies: number }>()).map((row) => [row.SpanId, Number(row.copies)]));
    await client.close();

    const acknowledgedBeforeKill = collectAcknowledged(beforeKill);
    const acknowledgedAfterRestart = collectAcknowledged(afterRestart);
    const acknowledged = new Set([...acknowledgedBeforeKill, ...acknowledgedAfterRestart]);
    expect(acknowledgedBeforeKill.size).toBeGreaterThan(0);
    expect(beforeKill.some((exporter) => exporter.failedExports > 0)).toBe(true);
    expect(acknowledgedAfterRestart.size).toBeGreaterThan(0);

    const missing = [...acknowledged].filter((spanId) => !stored.has(spanId));
    const duplicated = [...stored].filter(([, copies]) => copies > 1);
    expect(missing).toEqual([]);
    expect(duplicated).toEqual([]);
  });
});
