/**
 * Ingest benchmark: OTLP/HTTP protobuf requests from a separate load process
 * through the collector (the real service: receiver, batched ingest, spool)
 * into an embedded chDB store in a temporary directory. It reports spans per
 * second end to end, the collector's peak RSS, and the ratio to a bare
 * `client.insert` of the same rows measured afterwards in the same process.
 * A bare insert of the same rows encoded once as RowBinaryWithNamesAndTypes,
 * the collector's trace format, follows for comparison.
 *
 * The load process builds the requests before the run with the
 * OpenTelemetry SDK and encodes them with the `ProtobufTraceSerializer` of
 * @opentelemetry/otlp-transformer, the serializer of the proto exporter, so
 * none of the SDK's objects sit in the collector's process. It sends them
 * round robin over keep-alive connections, many in flight at once, because
 * the collector responds to a request only once its batch is durable. The
 * bare inserts read the same requests from the file the load process wrote.
 *
 * Run with `npm run bench:ingest`; `--duration-s`, `--connections`,
 * `--spans-per-request` and `--bare-duration-s` change the defaults below.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { MAX_BATCH_ROWS } from '../collector/ingest/batcher.js';
import { createClientBatchInserter } from '../collector/ingest/insert-batch.js';
import { decodeProtobufTraceRequest } from '../collector/otlp/decode-protobuf.js';
import { selectStorableSpans, toTraceRows, type OtelTraceRow } from '../collector/otlp/to-trace-rows.js';
import { encodeTraceRowBinary } from '../collector/otlp/trace-row-binary.js';
import { parseConfigObject } from '../config/index.js';
import { startService, type RunningService } from '../server/service.js';

const DEFAULT_DURATION_S = 60;
const DEFAULT_BARE_DURATION_S = 20;
/**
 * Requests in flight. The collector responds to a request once its batch is
 * stored, so the load keeps the insert lanes busy only with more spans in
 * flight than two lanes and a waiting batch hold: 3 x 30,000.
 */
const DEFAULT_CONNECTIONS = 96;
const DEFAULT_SPANS_PER_REQUEST = 1_000;

/** Distinct requests built before the run and sent round robin. */
const DISTINCT_REQUESTS = 32;

/** Rows per bare insert, as many as in a full batch of the collector. */
const BARE_BATCH_ROWS = MAX_BATCH_ROWS;

const PROGRESS_INTERVAL_MS = 5_000;
const RSS_SAMPLE_INTERVAL_MS = 200;

/** Maximum pause the load process takes for a `Retry-After`. */
const MAX_RETRY_PAUSE_MS = 1_000;

const GOAL_SPANS_PER_SECOND = 80_000;
const GOAL_RATIO = 0.5;
const GOAL_RSS_BYTES = 1024 * 1024 * 1024;

const MEBIBYTE = 1024 * 1024;

interface BenchOptions {
  durationMs: number;
  bareDurationMs: number;
  connections: number;
  spansPerRequest: number;
}

/** Messages from the load process. */
type LoadMessage =
  | { type: 'ready' }
  | { type: 'progress'; acknowledgedRequests: number; statusCounts: Record<string, number> }
  | { type: 'done'; acknowledgedRequests: number; statusCounts: Record<string, number>; elapsedMs: number };

interface LoadArguments {
  url: string;
  /** File the load process writes its requests to, for the bare inserts. */
  requestsFile: string;
  spansPerRequest: number;
  durationMs: number;
  connections: number;
}

function parseOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
      'duration-s': { type: 'string', default: String(DEFAULT_DURATION_S) },
      'bare-duration-s': { type: 'string', default: String(DEFAULT_BARE_DURATION_S) },
      connections: { type: 'string', default: String(DEFAULT_CONNECTIONS) },
      'spans-per-request': { type: 'string', default: String(DEFAULT_SPANS_PER_REQUEST) },
    },
  });
  return {
    durationMs: parsePositive(values['duration-s'], '--duration-s') * 1000,
    bareDurationMs: parsePositive(values['bare-duration-s'], '--bare-duration-s') * 1000,
    connections: parsePositive(values.connections, '--connections'),
    spansPerRequest: parsePositive(values['spans-per-request'], '--spans-per-request'),
  };
}

function parsePositive(value: string | undefined, option: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new Error(`invalid ${option} "${value}": expected a positive number`);
  return number;
}

/**
 * Builds requests of `spansPerRequest` spans shaped like an Odoo integration's
 * server spans: eight attributes each, and an event on every fourth span.
 */
function buildRequests(spansPerRequest: number): Uint8Array[] {
  const requests: Uint8Array[] = [];
  for (let requestIndex = 0; requestIndex < DISTINCT_REQUESTS; requestIndex++) {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({
        'service.name': `odoo-plant-${requestIndex % 4}`,
        'host.name': `odoo-${requestIndex % 4}.plant.local`,
        'deployment.environment': 'production',
      }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer('bench-ingest', '1.0.0');
    for (let spanIndex = 0; spanIndex < spansPerRequest; spanIndex++) {
      const span = tracer.startSpan('POST /api/mrp.production/release', {
        kind: 1,
        attributes: {
          'http.request.method': 'POST',
          'http.route': '/api/mrp.production/release',
          'http.response.status_code': 200,
          'odoo.model': 'mrp.production',
          'syncwatch.workflow': 'production_order_release',
          'syncwatch.plant': `plant-${requestIndex % 4}`,
          'syncwatch.integration': 'odoo-mes',
          'syncwatch.correlation_id': `wo-${requestIndex}-${spanIndex}`,
        },
      });
      if (spanIndex % 4 === 0) span.addEvent('mes.ack', { 'mes.station': 'line-2' });
      span.end();
    }
    const encoded = ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans());
    if (!encoded) throw new Error('the protobuf serializer returned no bytes');
    requests.push(encoded);
  }
  return requests;
}

/** Writes requests as 4-byte little-endian lengths, each followed by its bytes. */
function writeRequestsFile(path: string, requests: readonly Uint8Array[]): void {
  const parts = requests.flatMap((request) => {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(request.length);
    return [length, Buffer.from(request)];
  });
  writeFileSync(path, Buffer.concat(parts));
}

function readRequestsFile(path: string): Buffer[] {
  const data = readFileSync(path);
  const requests: Buffer[] = [];
  for (let offset = 0; offset < data.length; ) {
    const length = data.readUInt32LE(offset);
    requests.push(data.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return requests;
}

async function runBench(options: BenchOptions): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-bench-ingest-'));
  let service: RunningService | undefined;
  try {
    const requestsFile = join(dataDir, 'requests.bin');
    const config = parseConfigObject({
      store: { dataDir: join(dataDir, 'data') },
      collector: { otlp: { host: '127.0.0.1', port: 0 } },
      api: { host: '127.0.0.1', port: 0 },
    });
    service = await startService({ config, logger: pino({ level: 'warn' }) });
    const endToEnd = await measureEndToEnd(service, requestsFile, options);
    const requests = readRequestsFile(requestsFile);
    const bare = await measureBareInsert(service, requests, options.bareDurationMs);
    const bareRowBinary = await measureBareRowBinaryInsert(service, requests, options.bareDurationMs);
    printSummary(options, endToEnd, bare, bareRowBinary);
  } finally {
    await service?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface EndToEndResult {
  acknowledgedSpans: number;
  storedSpans: number;
  loadMs: number;
  drainMs: number;
  /** RSS when the load starts, with the service started and idle. */
  startRssBytes: number;
  peakRssBytes: number;
  /** Largest values sampled with the RSS. Each peak may come from a different sample. */
  peakMemory: { heapUsed: number; external: number; arrayBuffers: number };
  statusCounts: Record<string, number>;
}

/** Runs the load process against the service and waits until the spool is replayed. */
async function measureEndToEnd(
  service: RunningService,
  requestsFile: string,
  options: BenchOptions,
): Promise<EndToEndResult> {
  const loadArguments: LoadArguments = {
    url: `${service.otlpUrl}/v1/traces`,
    requestsFile,
    spansPerRequest: options.spansPerRequest,
    durationMs: options.durationMs,
    connections: options.connections,
  };
  const child = fork(fileURLToPath(import.meta.url), ['--load-process', JSON.stringify(loadArguments)], {
    stdio: 'inherit',
  });
  const exited = new Promise<never>((_resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`load process exited with code ${code} before reporting`)));
  });
  await Promise.race([new Promise((resolve) => child.once('message', resolve)), exited]);

  const startRssBytes = process.memoryUsage.rss();
  let peakRssBytes = startRssBytes;
  const peakMemory = { heapUsed: 0, external: 0, arrayBuffers: 0 };
  const rssTimer = setInterval(() => {
    const usage = process.memoryUsage();
    peakRssBytes = Math.max(peakRssBytes, usage.rss);
    peakMemory.heapUsed = Math.max(peakMemory.heapUsed, usage.heapUsed);
    peakMemory.external = Math.max(peakMemory.external, usage.external);
    peakMemory.arrayBuffers = Math.max(peakMemory.arrayBuffers, usage.arrayBuffers);
  }, RSS_SAMPLE_INTERVAL_MS);

  const startedAt = performance.now();
  let lastReport = { at: startedAt, spans: 0 };
  const done = await new Promise<Extract<LoadMessage, { type: 'done' }>>((resolve, reject) => {
    exited.catch(reject);
    child.on('message', (message: LoadMessage) => {
      if (message.type === 'done') {
        resolve(message);
        return;
      }
      if (message.type !== 'progress') return;
      const now = performance.now();
      if (now - lastReport.at < PROGRESS_INTERVAL_MS) return;
      const spans = message.acknowledgedRequests * options.spansPerRequest;
      const rate = ((spans - lastReport.spans) / (now - lastReport.at)) * 1000;
      process.stdout.write(
        `${formatSeconds(now - startedAt)} s: ${formatCount(spans)} spans acknowledged, ${formatCount(rate)} spans/s, ` +
          `spool ${formatMebibytes(service.ingest.spoolBytes)} MiB, ${describeMemory(process.memoryUsage())}, ` +
          `responses ${JSON.stringify(message.statusCounts)}\n`,
      );
      lastReport = { at: now, spans };
    });
  });
  const loadMs = done.elapsedMs;

  const drainStartedAt = performance.now();
  await service.ingest.drain();
  const drainMs = performance.now() - drainStartedAt;
  clearInterval(rssTimer);
  peakRssBytes = Math.max(peakRssBytes, process.memoryUsage.rss());

  const result = await service.client.query({ query: 'SELECT count() AS spans FROM otel_traces', format: 'JSONEachRow' });
  const [row] = await result.json<{ spans: string | number }>();
  return {
    acknowledgedSpans: done.acknowledgedRequests * options.spansPerRequest,
    storedSpans: Number(row?.spans ?? 0),
    loadMs,
    drainMs,
    startRssBytes,
    peakRssBytes,
    peakMemory,
    statusCounts: done.statusCounts,
  };
}

/** Describes where the memory sits: the JavaScript heap, Buffers and other memory outside it, and the whole process. */
function describeMemory(usage: NodeJS.MemoryUsage): string {
  return (
    `rss ${formatMebibytes(usage.rss)} MiB (heap used ${formatMebibytes(usage.heapUsed)}, ` +
    `external ${formatMebibytes(usage.external)}, of which buffers ${formatMebibytes(usage.arrayBuffers)})`
  );
}

interface BareResult {
  spans: number;
  elapsedMs: number;
}

/**
 * Inserts the rows of the same requests with `client.insert` in batches of
 * `BARE_BATCH_ROWS`. Each batch gets fresh span ids first, because the table's
 * deduplication window would otherwise drop a repeated batch unwritten.
 */
async function measureBareInsert(service: RunningService, requests: readonly Uint8Array[], durationMs: number): Promise<BareResult> {
  const rows: OtelTraceRow[] = requests.flatMap((request) => toTraceRows(decodeProtobufTraceRequest(request)).rows);
  const batch = Array.from({ length: BARE_BATCH_ROWS }, (_, index) => ({ ...rows[index % rows.length]! }));
  process.stdout.write(`bare client.insert of ${BARE_BATCH_ROWS}-row batches for ${formatSeconds(durationMs)} s\n`);

  let spans = 0;
  let sequence = 0;
  const startedAt = performance.now();
  while (performance.now() - startedAt < durationMs) {
    for (const row of batch) row.SpanId = (++sequence).toString(16).padStart(16, '0');
    await service.client.insert({ table: 'otel_traces', values: batch, format: 'JSONEachRow' });
    spans += batch.length;
  }
  return { spans, elapsedMs: performance.now() - startedAt };
}

/**
 * Inserts `BARE_BATCH_ROWS` spans of the same requests, encoded once as
 * RowBinaryWithNamesAndTypes, through the collector's batch inserter. Each
 * insert has its own deduplication token, so the same body is stored each time.
 */
async function measureBareRowBinaryInsert(
  service: RunningService,
  requests: readonly Uint8Array[],
  durationMs: number,
): Promise<BareResult> {
  const spansPerRequest = selectStorableSpans(decodeProtobufTraceRequest(requests[0]!)).spanCount;
  const chunks = requests.slice(0, Math.ceil(BARE_BATCH_ROWS / spansPerRequest)).map((request) => {
    const spans = selectStorableSpans(decodeProtobufTraceRequest(request));
    return encodeTraceRowBinary(spans.request, spans.spanCount);
  });
  const header = chunks[0]!.format === 'RowBinaryWithNamesAndTypes' ? chunks[0]!.header : Buffer.alloc(0);
  const body = Buffer.concat([header, ...chunks.map((chunk) => chunk.body)]);
  const rowCount = chunks.reduce((total, chunk) => total + chunk.rowCount, 0);
  const inserter = createClientBatchInserter(service.client);
  process.stdout.write(`bare RowBinary insert of ${rowCount}-row batches for ${formatSeconds(durationMs)} s\n`);

  let spans = 0;
  let sequence = 0;
  const startedAt = performance.now();
  while (performance.now() - startedAt < durationMs) {
    const batchId = `bench-rowbinary-${++sequence}`;
    await inserter.insert('otel_traces', { batchId, rowCount, body, format: 'RowBinaryWithNamesAndTypes' });
    spans += rowCount;
  }
  return { spans, elapsedMs: performance.now() - startedAt };
}

function printSummary(options: BenchOptions, endToEnd: EndToEndResult, bare: BareResult, bareRowBinary: BareResult): void {
  const endToEndRate = (endToEnd.storedSpans / (endToEnd.loadMs + endToEnd.drainMs)) * 1000;
  const acknowledgedRate = (endToEnd.acknowledgedSpans / endToEnd.loadMs) * 1000;
  const bareRate = (bare.spans / bare.elapsedMs) * 1000;
  const bareRowBinaryRate = (bareRowBinary.spans / bareRowBinary.elapsedMs) * 1000;
  const ratio = endToEndRate / bareRate;
  const lines = [
    '',
    `load: ${formatSeconds(endToEnd.loadMs)} s, ${options.connections} connections, ${options.spansPerRequest} spans per request`,
    `responses: ${JSON.stringify(endToEnd.statusCounts)}`,
    `acknowledged: ${formatCount(endToEnd.acknowledgedSpans)} spans (${formatCount(acknowledgedRate)} spans/s during the load)`,
    `stored: ${formatCount(endToEnd.storedSpans)} spans, spool drained ${formatSeconds(endToEnd.drainMs)} s after the load`,
    `end to end: ${formatCount(endToEndRate)} spans/s (goal ${formatCount(GOAL_SPANS_PER_SECOND)}: ${describeGoal(endToEndRate >= GOAL_SPANS_PER_SECOND)})`,
    `bare client.insert: ${formatCount(bareRate)} spans/s over ${formatSeconds(bare.elapsedMs)} s`,
    `bare RowBinary insert: ${formatCount(bareRowBinaryRate)} spans/s over ${formatSeconds(bareRowBinary.elapsedMs)} s (end to end / this: ${(endToEndRate / bareRowBinaryRate).toFixed(2)})`,
    `ratio: ${ratio.toFixed(2)} (goal ${GOAL_RATIO}: ${describeGoal(ratio >= GOAL_RATIO)})`,
    `collector peak RSS: ${formatMebibytes(endToEnd.peakRssBytes)} MiB (goal under ${formatMebibytes(GOAL_RSS_BYTES)} MiB: ${describeGoal(endToEnd.peakRssBytes < GOAL_RSS_BYTES)}), ${formatMebibytes(endToEnd.startRssBytes)} MiB when the load started`,
    `collector peaks: heap used ${formatMebibytes(endToEnd.peakMemory.heapUsed)} MiB, external ${formatMebibytes(endToEnd.peakMemory.external)} MiB, of which buffers ${formatMebibytes(endToEnd.peakMemory.arrayBuffers)} MiB`,
  ];
  if (endToEnd.storedSpans < endToEnd.acknowledgedSpans) {
    lines.push(`ERROR: ${endToEnd.acknowledgedSpans - endToEnd.storedSpans} acknowledged spans are missing from the store`);
    process.exitCode = 1;
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function describeGoal(met: boolean): string {
  return met ? 'met' : 'not met';
}

function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function formatSeconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function formatMebibytes(bytes: number): string {
  return Math.round(bytes / MEBIBYTE).toLocaleString('en-US');
}

/**
 * Runs the load process: builds the requests, writes them for the bare
 * inserts and reports that it is ready, then keeps `connections` requests in
 * flight until the duration ends, and reports acknowledged requests to the
 * parent once a second. A 429 or 503 pauses that connection for its
 * `Retry-After`, capped at `MAX_RETRY_PAUSE_MS`.
 */
async function runLoadProcess(loadArguments: LoadArguments): Promise<void> {
  process.stdout.write(`building ${DISTINCT_REQUESTS} requests of ${loadArguments.spansPerRequest} spans\n`);
  const requests = buildRequests(loadArguments.spansPerRequest).map((request) => Buffer.from(request));
  writeRequestsFile(loadArguments.requestsFile, requests);
  process.send?.({ type: 'ready' } satisfies LoadMessage);
  const agent = new http.Agent({ keepAlive: true, maxSockets: loadArguments.connections });
  const statusCounts: Record<string, number> = {};
  let acknowledgedRequests = 0;
  let nextRequest = 0;
  const startedAt = performance.now();
  const endAt = startedAt + loadArguments.durationMs;

  const report = setInterval(() => {
    process.send?.({ type: 'progress', acknowledgedRequests, statusCounts } satisfies LoadMessage);
  }, 1_000);

  const runConnection = async (): Promise<void> => {
    while (performance.now() < endAt) {
      const body = requests[nextRequest++ % requests.length]!;
      const { status, retryAfterSeconds } = await postRequest(loadArguments.url, body, agent);
      statusCounts[status] = (statusCounts[status] ?? 0) + 1;
      if (status === 200) {
        acknowledgedRequests++;
      } else {
        const pauseMs = Math.min(MAX_RETRY_PAUSE_MS, (retryAfterSeconds ?? 1) * 1000);
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    }
  };
  await Promise.all(Array.from({ length: loadArguments.connections }, runConnection));
  clearInterval(report);
  agent.destroy();
  const elapsedMs = performance.now() - startedAt;
  process.send?.({ type: 'done', acknowledgedRequests, statusCounts, elapsedMs } satisfies LoadMessage, () => process.exit(0));
}

function postRequest(url: string, body: Buffer, agent: http.Agent): Promise<{ status: number; retryAfterSeconds?: number }> {
  return new Promise((resolve) => {
    const request = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } },
      (response) => {
        response.resume();
        response.once('end', () => {
          const retryAfter = Number(response.headers['retry-after']);
          resolve({ status: response.statusCode ?? 0, retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : undefined });
        });
      },
    );
    request.once('error', () => resolve({ status: 0 }));
    request.end(body);
  });
}

const loadFlagIndex = process.argv.indexOf('--load-process');
if (loadFlagIndex >= 0) {
  await runLoadProcess(JSON.parse(process.argv[loadFlagIndex + 1] ?? '{}') as LoadArguments);
} else {
  await runBench(parseOptions());
}
