import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigObject } from '../../config/index.js';
import { startService, type RunningService } from '../../server/index.js';
import {
  findOutcomeMismatch,
  JSON_TYPE,
  jsonRequest,
  jsonSpan,
  listBadTimestampCases,
  listByteFlipCases,
  listDeepNestingCases,
  listHugeValueCases,
  listInvalidUtf8Cases,
  listInvalidWireTypeCases,
  listNullCases,
  listRandomBodyCases,
  listTruncationCases,
  listUnknownFieldVariants,
  listWrongIdCases,
  listWrongWireTypeVariants,
  PROTOBUF,
  readOutcome,
  serializeExporterRequest,
  type FuzzCase,
} from '../unit/collector/otlp/fuzz-cases.js';

/**
 * The OTLP bad-input suite against a listening service with an embedded
 * store: every case gets the status and catalogue code it must get, the
 * service stays up, and valid spans sent between the bad ones are stored.
 */

const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** Requests in flight at once. Accepted requests wait for the batcher's flush, so they are sent in parallel. */
const CONCURRENT_REQUESTS = 32;
/** Bad cases sent between two valid sentinel requests. */
const CASES_PER_SENTINEL = 100;
/** Step between the wrong-wire-type and unknown-field variants sent here. The unit suite sends them all. */
const VARIANT_SAMPLE_STEP = 5;
const MAX_RETRIES = 5;
const SPANS_PER_SENTINEL = 2;
const DRAIN_TIMEOUT_MS = 10_000;

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-otlp-fuzz-'));
const sentinelTraceId = randomBytes(16).toString('hex');
const duplicateTraceId = randomBytes(16).toString('hex');
const hugeTraceId = randomBytes(16).toString('hex');
let service: RunningService;

beforeAll(async () => {
  const config = parseConfigObject({
    store: { dataDir },
    collector: { otlp: { port: 0, maxBodyBytes: MAX_BODY_BYTES } },
    api: { port: 0 },
  });
  service = await startService({ config, logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await service?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

interface SentRequest {
  fuzzCase: FuzzCase;
  mismatch?: string;
}

/** Posts one case, retrying while the service pushes back with 429 or 503 as OTLP clients do. */
async function send(fuzzCase: FuzzCase): Promise<SentRequest> {
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = { 'content-type': fuzzCase.contentType };
    if (fuzzCase.contentEncoding) headers['content-encoding'] = fuzzCase.contentEncoding;
    const response = await fetch(`${service.otlpUrl}/v1/traces`, { method: 'POST', headers, body: fuzzCase.body });
    const body = Buffer.from(await response.arrayBuffer());
    if ((response.status === 429 || response.status === 503) && attempt < MAX_RETRIES) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    const outcome = readOutcome(response.status, response.headers.get('content-type') ?? undefined, body);
    return { fuzzCase, mismatch: findOutcomeMismatch(fuzzCase, outcome, undefined) };
  }
}

/** Sends `cases` with `CONCURRENT_REQUESTS` in flight, in order of the list. */
async function sendAll(cases: readonly FuzzCase[]): Promise<SentRequest[]> {
  const results: SentRequest[] = [];
  let next = 0;
  const workers = Array.from({ length: CONCURRENT_REQUESTS }, async () => {
    while (next < cases.length) {
      const fuzzCase = cases[next++] as FuzzCase;
      results.push(await send(fuzzCase));
    }
  });
  await Promise.all(workers);
  return results;
}

function sample<T>(items: readonly T[], step: number): T[] {
  return items.filter((_item, index) => index % step === 0);
}

/**
 * Waits until every acknowledged row is in ClickHouse. A row the store
 * cannot parse blocks its batch, so a drain that does not finish fails with
 * that hint instead of the test timeout.
 */
async function drainIngest(): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    const message = `ingest did not drain within ${DRAIN_TIMEOUT_MS} ms: a batch probably fails to insert`;
    timer = setTimeout(() => reject(new Error(message)), DRAIN_TIMEOUT_MS);
  });
  try {
    await Promise.race([service.ingest.drain(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function countRows(query: string): Promise<number> {
  const result = await service.client.query({ query, format: 'JSONEachRow' });
  const rows = (await result.json()) as { count: string }[];
  return Number(rows[0]?.count ?? 0);
}

async function buildBadCases(): Promise<FuzzCase[]> {
  const exporterRequest = await serializeExporterRequest(3);
  const accepted = { kind: 'accepted', storedSpans: 1, rejectedSpans: 0 } as const;
  const wrongWireTypes = sample(listWrongWireTypeVariants(), VARIANT_SAMPLE_STEP).map(
    ({ name, wrong }): FuzzCase => ({ name, contentType: PROTOBUF, body: wrong, expected: { kind: 'anyValidOutcome' } }),
  );
  const unknownFields = sample(listUnknownFieldVariants(), VARIANT_SAMPLE_STEP).map(
    ({ name, body }): FuzzCase => ({ name, contentType: PROTOBUF, body, expected: accepted }),
  );
  return [
    ...listTruncationCases(exporterRequest.protobuf, exporterRequest.json),
    ...listInvalidWireTypeCases(),
    ...wrongWireTypes,
    ...unknownFields,
    ...listInvalidUtf8Cases(),
    ...listDeepNestingCases(),
    ...listWrongIdCases(),
    ...listBadTimestampCases(),
    ...listNullCases(),
    ...listByteFlipCases(exporterRequest.protobuf, PROTOBUF, 200, 9_001),
    ...listByteFlipCases(exporterRequest.json, JSON_TYPE, 200, 9_002),
    ...listRandomBodyCases(100, 9_003),
  ];
}

/** Puts a valid request of `SPANS_PER_SENTINEL` spans after every `CASES_PER_SENTINEL` cases. */
async function interleaveSentinels(cases: readonly FuzzCase[]): Promise<{ all: FuzzCase[]; sentinels: number }> {
  const all: FuzzCase[] = [];
  let sentinels = 0;
  for (let start = 0; start < cases.length; start += CASES_PER_SENTINEL) {
    all.push(...cases.slice(start, start + CASES_PER_SENTINEL));
    const { protobuf } = await serializeExporterRequest(SPANS_PER_SENTINEL, {
      traceIdHex: sentinelTraceId,
      firstSpanNumber: 1 + sentinels * SPANS_PER_SENTINEL,
      namePrefix: `sentinel ${sentinels}`,
    });
    all.push({
      name: `sentinel ${sentinels}`,
      contentType: PROTOBUF,
      body: protobuf,
      expected: { kind: 'accepted', storedSpans: SPANS_PER_SENTINEL, rejectedSpans: 0 },
    });
    sentinels++;
  }
  return { all, sentinels };
}

describe('OTLP bad-input suite', () => {
  it('answers every case and stores sentinels', async () => {
    const { all, sentinels } = await interleaveSentinels(await buildBadCases());

    const results = await sendAll(all);

    expect(results).toHaveLength(all.length);
    expect(results.filter((result) => result.mismatch).map((result) => `${result.fuzzCase.name}: ${result.mismatch}`)).toEqual([]);
    await drainIngest();
    expect(await countRows(`SELECT count() AS count FROM otel_traces WHERE TraceId = '${sentinelTraceId}'`)).toBe(
      sentinels * SPANS_PER_SENTINEL,
    );
  });

  it('stores huge values whole', async () => {
    const cases = listHugeValueCases(MAX_BODY_BYTES).map((fuzzCase) =>
      fuzzCase.contentType === JSON_TYPE && fuzzCase.expected.kind === 'accepted'
        ? { ...fuzzCase, body: Buffer.from(fuzzCase.body.toString('utf8').replace(/"traceId":"[0-9a-f]{32}"/, `"traceId":"${hugeTraceId}"`)) }
        : fuzzCase,
    );

    const results = await sendAll(cases);

    expect(results.filter((result) => result.mismatch).map((result) => `${result.fuzzCase.name}: ${result.mismatch}`)).toEqual([]);
    await drainIngest();
    const length = await countRows(
      `SELECT max(length(SpanAttributes['huge'])) AS count FROM otel_traces WHERE TraceId = '${hugeTraceId}'`,
    );
    expect(length).toBe(Math.floor(MAX_BODY_BYTES * 0.75));
  });

  it('stores duplicate spans as sent', async () => {
    const span = jsonSpan('0a0b0c0d0e0f0102', { traceId: duplicateTraceId });
    const twice = jsonRequest(span).replace(JSON.stringify(span), `${JSON.stringify(span)},${JSON.stringify(span)}`);
    const again = jsonRequest({ ...span, name: 'same ids, new name' });

    const results = await sendAll([
      { name: 'same span twice in one request', contentType: JSON_TYPE, body: Buffer.from(twice), expected: { kind: 'accepted', storedSpans: 2, rejectedSpans: 0 } },
      { name: 'same ids in a later request', contentType: JSON_TYPE, body: Buffer.from(again), expected: { kind: 'accepted', storedSpans: 1, rejectedSpans: 0 } },
    ]);

    expect(results.filter((result) => result.mismatch)).toEqual([]);
    await drainIngest();
    expect(await countRows(`SELECT count() AS count FROM otel_traces WHERE TraceId = '${duplicateTraceId}'`)).toBe(3);
  });

  it('stores spans from before 1973', async () => {
    const earlyTraceId = randomBytes(16).toString('hex');
    const times: [string, string][] = [['0', '0'], ['5', '1000000007'], ['94694400000000000', '94694400000000001']];
    const cases = times.map(([start, end], index): FuzzCase => ({
      name: `span from ${start} to ${end} ns`,
      contentType: JSON_TYPE,
      body: Buffer.from(jsonRequest(jsonSpan(`00000000000000e${index}`, { traceId: earlyTraceId, startTimeUnixNano: start, endTimeUnixNano: end }))),
      expected: { kind: 'accepted', storedSpans: 1, rejectedSpans: 0 },
    }));

    const results = await sendAll(cases);

    expect(results.filter((result) => result.mismatch)).toEqual([]);
    await drainIngest();
    expect(await countRows(`SELECT count() AS count FROM otel_traces WHERE TraceId = '${earlyTraceId}'`)).toBe(3);
    expect(await countRows(`SELECT toUnixTimestamp64Nano(min(Timestamp)) AS count FROM otel_traces WHERE TraceId = '${earlyTraceId}'`)).toBe(0);
  });

  it('keeps serving after the suite', async () => {
    const health = await fetch(`${service.apiUrl}/healthz`);
    expect(health.status).toBe(200);

    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'mes' }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${service.otlpUrl}/v1/traces` }))],
    });
    provider.getTracer('otlp-fuzz').startSpan('release after fuzzing').end();
    await provider.forceFlush();
    await provider.shutdown();
    await drainIngest();

    expect(await countRows("SELECT count() AS count FROM otel_traces WHERE SpanName = 'release after fuzzing'")).toBe(1);
    const metrics = await (await fetch(`${service.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(/syncwatch_otlp_requests_total\{status_code="400",error_code="COLLECTOR_ERR_INVALID_PROTOBUF"\} [1-9]/);
  });
});
