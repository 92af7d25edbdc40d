import { beforeAll, describe, expect, it } from 'vitest';
import { CollectorError } from '../../../../collector/errors.js';
import { decodeJsonTraceRequest } from '../../../../collector/otlp/decode-json.js';
import { decodeProtobufTraceRequest } from '../../../../collector/otlp/decode-protobuf.js';
import { toTraceRows } from '../../../../collector/otlp/to-trace-rows.js';
import type { OtlpTraceRequest } from '../../../../collector/otlp/types.js';
import {
  buildSeedFields,
  encodeFields,
  listByteFlipCases,
  listRandomBodyCases,
  listUnknownFieldVariants,
  listWrongWireTypeVariants,
  PROTOBUF,
  serializeExporterRequest,
  type FuzzCase,
} from './fuzz-cases.js';

/** Matches a JSON escape of an unpaired surrogate, which `JSON.stringify` writes for lone surrogates only. */
const ESCAPED_LONE_SURROGATE = /\\u[dD][89a-fA-F][0-9a-fA-F]{2}/;

let exporterRequest: { protobuf: Buffer; json: Buffer };

beforeAll(async () => {
  exporterRequest = await serializeExporterRequest(3);
});

function decode(fuzzCase: Pick<FuzzCase, 'contentType' | 'body'>): OtlpTraceRequest {
  return fuzzCase.contentType === PROTOBUF ? decodeProtobufTraceRequest(fuzzCase.body) : decodeJsonTraceRequest(fuzzCase.body);
}

/**
 * Decodes and maps one input. Returns undefined when it decodes to rows with
 * well-formed strings or fails with a 4xx catalogue error, and a description
 * of anything else.
 */
function findDecodeProblem(fuzzCase: FuzzCase): string | undefined {
  let request: OtlpTraceRequest;
  try {
    request = decode(fuzzCase);
  } catch (error) {
    if (error instanceof CollectorError && error.httpStatus >= 400 && error.httpStatus < 500) return undefined;
    return `${fuzzCase.name}: threw ${String(error)}`;
  }
  try {
    const serialized = JSON.stringify(toTraceRows(request).rows);
    if (ESCAPED_LONE_SURROGATE.test(serialized)) return `${fuzzCase.name}: a row holds a lone surrogate`;
  } catch (error) {
    return `${fuzzCase.name}: mapping threw ${String(error)}`;
  }
  return undefined;
}

function captureCode(body: Buffer, decoder: (body: Buffer) => unknown): string {
  try {
    decoder(body);
  } catch (error) {
    return error instanceof CollectorError ? error.code : `not a catalogue error: ${String(error)}`;
  }
  return 'decoded';
}

describe('protobuf decoder fuzz', () => {
  it('decodes the exporter request', () => {
    const request = decodeProtobufTraceRequest(exporterRequest.protobuf);

    expect(toTraceRows(request).rows.map((row) => row.SpanName)).toEqual([
      'release production order 0',
      'release production order 1',
      'release production order 2',
    ]);
  });

  it('rejects every truncated exporter request', () => {
    const { protobuf } = exporterRequest;
    const codes = new Map<string, number[]>();
    for (let length = 1; length < protobuf.length; length++) {
      const code = captureCode(protobuf.subarray(0, length), decodeProtobufTraceRequest);
      codes.set(code, [...(codes.get(code) ?? []), length]);
    }

    expect([...codes.keys()]).toEqual(['COLLECTOR_ERR_INVALID_PROTOBUF']);
    expect(decodeProtobufTraceRequest(protobuf.subarray(0, 0))).toEqual({ resourceSpans: [] });
  });

  it('skips fields with wrong wire types', () => {
    const variants = listWrongWireTypeVariants();
    const mismatches = variants
      .filter(({ wrong, omitted }) => {
        const wrongCode = captureCode(wrong, decodeProtobufTraceRequest);
        if (wrongCode !== 'decoded') return true;
        return JSON.stringify(decodeProtobufTraceRequest(wrong), bigintReplacer) !==
          JSON.stringify(decodeProtobufTraceRequest(omitted), bigintReplacer);
      })
      .map(({ name }) => name);

    expect(variants.length).toBeGreaterThan(200);
    expect(mismatches).toEqual([]);
  });

  it('skips unknown fields everywhere', () => {
    const seed = JSON.stringify(decodeProtobufTraceRequest(encodeFields(buildSeedFields())), bigintReplacer);
    const variants = listUnknownFieldVariants();
    const mismatches = variants
      .filter(({ body }) => captureCode(body, decodeProtobufTraceRequest) !== 'decoded' ||
        JSON.stringify(decodeProtobufTraceRequest(body), bigintReplacer) !== seed)
      .map(({ name }) => name);

    expect(variants.length).toBeGreaterThan(100);
    expect(mismatches).toEqual([]);
  });

  it('survives random byte flips', () => {
    const cases = [
      ...listByteFlipCases(exporterRequest.protobuf, PROTOBUF, 1500, 20_240_601),
      ...listByteFlipCases(encodeFields(buildSeedFields()), PROTOBUF, 1500, 20_240_602),
    ];

    expect(cases.map(findDecodeProblem).filter(Boolean)).toEqual([]);
  });

  it('survives random bodies', () => {
    const cases = listRandomBodyCases(1000, 20_240_603).map((fuzzCase) => ({ ...fuzzCase, contentType: PROTOBUF }) as const);

    expect(cases.map(findDecodeProblem).filter(Boolean)).toEqual([]);
  });
});

describe('json decoder fuzz', () => {
  it('decodes the exporter request', () => {
    const request = decodeJsonTraceRequest(exporterRequest.json);

    expect(toTraceRows(request).rows.map((row) => row.SpanId)).toEqual(['0000000000000001', '0000000000000002', '0000000000000003']);
  });

  it('rejects every truncated exporter request', () => {
    const { json } = exporterRequest;
    const codes = new Set<string>();
    for (let length = 1; length < json.length; length++) {
      codes.add(captureCode(json.subarray(0, length), decodeJsonTraceRequest));
    }

    expect([...codes]).toEqual(['COLLECTOR_ERR_INVALID_JSON']);
  });

  it('survives random byte flips', () => {
    const cases = listByteFlipCases(exporterRequest.json, 'application/json', 3000, 20_240_604);

    expect(cases.map(findDecodeProblem).filter(Boolean)).toEqual([]);
  });

  it('survives random bodies', () => {
    const cases = listRandomBodyCases(1000, 20_240_605).map((fuzzCase) => ({ ...fuzzCase, contentType: 'application/json' }) as const);

    expect(cases.map(findDecodeProblem).filter(Boolean)).toEqual([]);
  });
});

function bigintReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}
