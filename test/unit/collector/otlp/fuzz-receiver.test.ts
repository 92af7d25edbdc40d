import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerOtlpReceiver } from '../../../../collector/otlp/receiver.js';
import { mapSpansToRows, type OtelTraceRow } from '../../../../collector/otlp/to-trace-rows.js';
import {
  buildSeedFields,
  encodeFields,
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
  listWrongIdCases,
  PROTOBUF,
  readOutcome,
  serializeExporterRequest,
  type FuzzCase,
} from './fuzz-cases.js';

const MAX_BODY_BYTES = 8 * 1024 * 1024;

let app: FastifyInstance;
const stored: OtelTraceRow[] = [];
let exporterRequest: { protobuf: Buffer; json: Buffer };

beforeAll(async () => {
  exporterRequest = await serializeExporterRequest(2);
  app = Fastify();
  await registerOtlpReceiver(app, {
    maxBodyBytes: MAX_BODY_BYTES,
    writer: {
      async write(spans) {
        stored.push(...mapSpansToRows(spans.request));
      },
    },
  });
});

afterAll(async () => {
  await app.close();
});

/** Sends every case and returns the mismatches, one line per case. */
async function runCases(cases: readonly FuzzCase[]): Promise<string[]> {
  const mismatches: string[] = [];
  for (const fuzzCase of cases) {
    const storedBefore = stored.length;
    const response = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': fuzzCase.contentType, 'content-encoding': fuzzCase.contentEncoding ?? 'identity' },
      payload: fuzzCase.body,
    });
    const outcome = readOutcome(response.statusCode, response.headers['content-type'] as string | undefined, response.rawPayload);
    const mismatch = findOutcomeMismatch(fuzzCase, outcome, stored.length - storedBefore);
    if (mismatch) mismatches.push(`${fuzzCase.name}: ${mismatch}`);
  }
  return mismatches;
}

describe('OTLP receiver bad input', () => {
  it('rejects truncated exporter requests', async () => {
    expect(await runCases(listTruncationCases(exporterRequest.protobuf, exporterRequest.json))).toEqual([]);
  });

  it('rejects invalid wire types', async () => {
    expect(await runCases(listInvalidWireTypeCases())).toEqual([]);
  });

  it('rejects invalid UTF-8', async () => {
    expect(await runCases(listInvalidUtf8Cases())).toEqual([]);
  });

  it('rejects deep nesting without overflow', async () => {
    expect(await runCases(listDeepNestingCases())).toEqual([]);
  });

  it('limits huge attribute values', async () => {
    expect(await runCases(listHugeValueCases(MAX_BODY_BYTES))).toEqual([]);
  });

  it('handles ids of the wrong length', async () => {
    expect(await runCases(listWrongIdCases())).toEqual([]);
  });

  it('rejects non-numeric timestamps', async () => {
    expect(await runCases(listBadTimestampCases())).toEqual([]);
  });

  it('reads nulls and unknown keys', async () => {
    expect(await runCases(listNullCases())).toEqual([]);
  });

  it('survives byte flips and random bodies', async () => {
    const cases = [
      ...listByteFlipCases(exporterRequest.protobuf, PROTOBUF, 300, 7_001),
      ...listByteFlipCases(exporterRequest.json, JSON_TYPE, 300, 7_002),
      ...listRandomBodyCases(200, 7_003),
    ];

    expect(await runCases(cases)).toEqual([]);
  });

  it('stores duplicate spans as sent', async () => {
    const span = jsonSpan('0a0b0c0d0e0f0102');
    const twice = jsonRequest(span).replace(JSON.stringify(span), `${JSON.stringify(span)},${JSON.stringify(span)}`);
    const cases: FuzzCase[] = [
      { name: 'same span twice in one request', contentType: JSON_TYPE, body: Buffer.from(twice), expected: { kind: 'accepted', storedSpans: 2, rejectedSpans: 0 } },
      { name: 'same span again in a protobuf request', contentType: PROTOBUF, body: encodeFields(buildSeedFields(Buffer.from('0a0b0c0d0e0f0102', 'hex'))), expected: { kind: 'accepted', storedSpans: 1, rejectedSpans: 0 } },
    ];

    expect(await runCases(cases)).toEqual([]);
    expect(stored.filter((row) => row.SpanId === '0a0b0c0d0e0f0102')).toHaveLength(3);
  });
});
