import { beforeAll, describe, expect, it } from 'vitest';
import { CollectorError } from '../../../../collector/errors.js';
import { decodeProtobufTraceRequest } from '../../../../collector/otlp/decode-protobuf.js';
import { loadOtlpProtoTypes } from '../../../../collector/otlp/proto-schema.js';
import { selectStorableSpans } from '../../../../collector/otlp/to-trace-rows.js';
import { encodeTraceRowBinary } from '../../../../collector/otlp/trace-row-binary.js';
import { transcodeProtobufTraces } from '../../../../collector/otlp/transcode-protobuf.js';
import {
  buildSeedFields,
  encodeFields,
  listByteFlipCases,
  listDeepNestingCases,
  listInvalidUtf8Cases,
  listInvalidWireTypeCases,
  listRandomBodyCases,
  listUnknownFieldVariants,
  listWrongIdCases,
  listBadTimestampCases,
  listWrongWireTypeVariants,
  PROTOBUF,
  serializeExporterRequest,
  WIRE,
  type WireField,
} from './fuzz-cases.js';

const TRACE_ID = Buffer.from('5b8efff798038103d269b633813fc60c', 'hex');
const ZERO_TRACE_ID = Buffer.alloc(16);

function encodeRequest(request: object): Buffer {
  const { exportTraceServiceRequest } = loadOtlpProtoTypes();
  return Buffer.from(exportTraceServiceRequest.encode(exportTraceServiceRequest.fromObject(request)).finish());
}

function spanId(index: number): Buffer {
  const id = Buffer.alloc(8);
  id.writeUInt32BE(index + 1, 4);
  return id;
}

/** Returns what `transform` returns, or the code of the catalogue error it throws. */
function captureOutcome(transform: () => unknown): unknown {
  try {
    return transform();
  } catch (error) {
    return error instanceof CollectorError ? error.code : `not a catalogue error: ${String(error)}`;
  }
}

/** Runs a request through the decoder, the span checks and the row encoder, and returns the result or the error code. */
function throughDecoder(body: Buffer): unknown {
  return captureOutcome(() => {
    const spans = selectStorableSpans(decodeProtobufTraceRequest(body));
    const encoded = encodeTraceRowBinary(spans.request, spans.spanCount);
    return { rows: encoded, spanCount: spans.spanCount, rejectedSpans: spans.rejectedSpans, errorMessage: spans.errorMessage };
  });
}

function throughTranscoder(body: Buffer): unknown {
  return captureOutcome(() => transcodeProtobufTraces(body));
}

/** Names of the bodies that the transcoder turns into other rows, counts or errors than the decoder path. */
function listMismatches(cases: readonly { name: string; body: Buffer }[]): string[] {
  return cases.filter(({ body }) => !isDeepEqual(throughTranscoder(body), throughDecoder(body))).map(({ name }) => name);
}

function isDeepEqual(left: unknown, right: unknown): boolean {
  try {
    expect(left).toEqual(right);
    return true;
  } catch {
    return false;
  }
}

describe('transcodeProtobufTraces', () => {
  let exporterRequest: Buffer;

  beforeAll(async () => {
    exporterRequest = (await serializeExporterRequest(3)).protobuf;
  });

  it('matches the exporter request and seed', () => {
    const seed = encodeFields(buildSeedFields());

    expect(throughTranscoder(exporterRequest)).toEqual(throughDecoder(exporterRequest));
    expect(throughTranscoder(seed)).toEqual(throughDecoder(seed));
    expect(transcodeProtobufTraces(seed).spanCount).toBe(1);
  });

  it('matches every attribute kind and link', () => {
    const attributes = [
      { key: 'text', value: { stringValue: 'Grüße, 東京 🚚' } },
      { key: 'long', value: { stringValue: 'ü'.repeat(200) } },
      { key: 'count', value: { intValue: '-42' } },
      { key: 'ratio', value: { doubleValue: 0.1 } },
      { key: 'ok', value: { boolValue: true } },
      { key: 'raw', value: { bytesValue: Buffer.from([0, 255, 16]) } },
      { key: 'list', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: 1 }] } } },
      { key: 'nested', value: { kvlistValue: { values: [{ key: 'z', value: { boolValue: false } }] } } },
      { key: 'none' },
      { key: '', value: { stringValue: '' } },
    ];
    const manyKeys = Array.from({ length: 20 }, (_, index) => ({ key: `k${index % 19}`, value: { stringValue: `v${index}` } }));
    const body = encodeRequest({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'mes' } }, { key: 'plant', value: { intValue: 7 } }] },
          scopeSpans: [
            {
              scope: { name: 'scope', version: '2.0' },
              spans: [
                {
                  traceId: TRACE_ID,
                  spanId: spanId(0),
                  traceState: 'a=1',
                  name: 'release order',
                  kind: 3,
                  startTimeUnixNano: '1700000000000000001',
                  endTimeUnixNano: '1700000004123456789',
                  attributes: [...attributes, { key: 'text', value: { stringValue: 'last value wins' } }],
                  events: [
                    { timeUnixNano: '1700000000000000002', name: 'ev', attributes },
                    { name: 'no time', attributes: manyKeys },
                  ],
                  links: [
                    { traceId: TRACE_ID, spanId: spanId(9), traceState: 'b=2', attributes: manyKeys },
                    { traceId: ZERO_TRACE_ID, spanId: Buffer.alloc(8) },
                  ],
                  status: { code: 2, message: 'failed' },
                },
                { traceId: TRACE_ID, spanId: spanId(1), name: 'bare', kind: 9, status: { code: 7 } },
              ],
            },
            { spans: [{ traceId: TRACE_ID, spanId: spanId(2), parentSpanId: spanId(0), name: 'no scope' }] },
          ],
        },
        { scopeSpans: [{ spans: [{ traceId: TRACE_ID, spanId: spanId(3), name: 'no resource' }] }] },
      ],
    });

    const transcoded = transcodeProtobufTraces(body);

    expect(transcoded).toEqual(throughDecoder(body));
    expect(transcoded.spanCount).toBe(4);
  });

  it('rejects the spans the decoder rejects', () => {
    const body = encodeRequest({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                { traceId: TRACE_ID, spanId: spanId(0), name: 'kept' },
                { traceId: ZERO_TRACE_ID, spanId: spanId(1) },
                { traceId: TRACE_ID.subarray(0, 8), spanId: spanId(2) },
                { traceId: TRACE_ID, spanId: Buffer.alloc(8) },
                { traceId: TRACE_ID, spanId: spanId(3), parentSpanId: Buffer.alloc(3) },
                { traceId: TRACE_ID, spanId: spanId(4), links: [{ traceId: TRACE_ID.subarray(0, 4) }] },
                { traceId: TRACE_ID, spanId: spanId(5), startTimeUnixNano: '20', endTimeUnixNano: '10' },
                { traceId: TRACE_ID, spanId: spanId(6), startTimeUnixNano: '4294967296', endTimeUnixNano: '4294967295' },
                { traceId: TRACE_ID, spanId: spanId(7), endTimeUnixNano: '9223372036854775808' },
                { traceId: TRACE_ID, spanId: spanId(8), events: [{ timeUnixNano: '18446744073709551615' }] },
                { traceId: TRACE_ID, spanId: spanId(9), startTimeUnixNano: '4294967295', endTimeUnixNano: '4294967296', name: 'borrow' },
              ],
            },
          ],
        },
      ],
    });

    const transcoded = transcodeProtobufTraces(body);

    expect(transcoded).toEqual(throughDecoder(body));
    expect(transcoded.spanCount).toBe(2);
    expect(transcoded.rejectedSpans).toBe(9);
  });

  it('reads a late or repeated resource', () => {
    const [request] = buildSeedFields() as [WireField & { value: WireField[] }];
    const [resource, scopeSpans, schemaUrl] = request.value as [WireField, WireField & { value: WireField[] }, WireField];
    const [scope, ...spansAndSchemaUrl] = scopeSpans.value;
    const otherResource: WireField = {
      number: 1,
      wireType: WIRE.lengthDelimited,
      value: [{ number: 1, wireType: WIRE.lengthDelimited, value: encodeFields([
        { number: 1, wireType: WIRE.lengthDelimited, value: Buffer.from('service.name') },
        { number: 2, wireType: WIRE.lengthDelimited, value: [{ number: 1, wireType: WIRE.lengthDelimited, value: Buffer.from('wms') }] },
      ]) }],
    };
    const reordered = encodeFields([
      {
        ...request,
        value: [otherResource, { ...scopeSpans, value: [...spansAndSchemaUrl, scope!] }, schemaUrl, resource],
      },
    ]);

    const transcoded = transcodeProtobufTraces(reordered);

    expect(transcoded).toEqual(throughDecoder(reordered));
    expect(transcoded.spanCount).toBe(1);
    expect(transcoded.rows.body.includes('syncwatch-fuzz')).toBe(true);
    expect(transcoded.rows.body.includes('wms')).toBe(false);
  });

  it('matches the decoder on fuzz cases', () => {
    const cases = [
      ...listByteFlipCases(exporterRequest, PROTOBUF, 1500, 20_240_601),
      ...listByteFlipCases(encodeFields(buildSeedFields()), PROTOBUF, 1500, 20_240_602),
      ...listRandomBodyCases(1000, 20_240_603),
      ...listUnknownFieldVariants(),
      ...listWrongWireTypeVariants().flatMap(({ name, wrong, omitted }) => [
        { name: `${name} wrong`, body: wrong },
        { name: `${name} omitted`, body: omitted },
      ]),
      ...[
        ...listInvalidWireTypeCases(),
        ...listInvalidUtf8Cases(),
        ...listDeepNestingCases(),
        ...listWrongIdCases(),
        ...listBadTimestampCases(),
      ].filter((fuzzCase) => fuzzCase.contentType === PROTOBUF),
    ];

    expect(cases.length).toBeGreaterThan(4000);
    expect(listMismatches(cases)).toEqual([]);
  });
});
