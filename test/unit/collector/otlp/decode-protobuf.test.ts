import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { CollectorError } from '../../../../collector/errors.js';
import { decodeProtobufTraceRequest } from '../../../../collector/otlp/decode-protobuf.js';
import { loadOtlpProtoTypes } from '../../../../collector/otlp/proto-schema.js';

function encodeRequest(request: object): Uint8Array {
  const { exportTraceServiceRequest } = loadOtlpProtoTypes();
  return exportTraceServiceRequest.encode(exportTraceServiceRequest.fromObject(request)).finish();
}

const TRACE_ID = Buffer.from('5b8efff798038103d269b633813fc60c', 'hex');
const SPAN_ID = Buffer.from('eee19b7ec3c1b174', 'hex');

function captureError(body: Uint8Array): CollectorError {
  try {
    decodeProtobufTraceRequest(body);
  } catch (error) {
    if (error instanceof CollectorError) return error;
    throw error;
  }
  throw new Error('expected decodeProtobufTraceRequest to throw');
}

describe('decodeProtobufTraceRequest', () => {
  const body = encodeRequest({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'mes' } }] },
        scopeSpans: [
          {
            scope: { name: 'scope', version: '2.0' },
            spans: [
              {
                traceId: TRACE_ID,
                spanId: SPAN_ID,
                traceState: 'a=1',
                name: 'release order',
                kind: 3,
                startTimeUnixNano: '18446744073709551615',
                endTimeUnixNano: '1700000000123456789',
                attributes: [
                  { key: 'i', value: { intValue: '-9223372036854775808' } },
                  { key: 'd', value: { doubleValue: 0.1 } },
                  { key: 'b', value: { boolValue: false } },
                  { key: 'y', value: { bytesValue: Buffer.from([1, 2]) } },
                  { key: 'a', value: { arrayValue: { values: [{ stringValue: 'x' }, {}] } } },
                  { key: 'k', value: { kvlistValue: { values: [{ key: 'n', value: { intValue: 1 } }] } } },
                  { key: 'e' },
                ],
                events: [{ timeUnixNano: '1700000000000000001', name: 'ev', attributes: [] }],
                links: [{ traceId: TRACE_ID, spanId: SPAN_ID, traceState: 'b=2' }],
                status: { code: 2, message: 'failed' },
              },
            ],
          },
        ],
      },
    ],
  });
  const request = decodeProtobufTraceRequest(body);
  const resourceSpans = request.resourceSpans[0]!;
  const span = resourceSpans.scopeSpans[0]!.spans[0]!;

  it('decodes resource and scope', () => {
    expect(resourceSpans.resource.attributes).toEqual([{ key: 'service.name', value: { type: 'string', value: 'mes' } }]);
    expect(resourceSpans.scopeSpans[0]!.scope).toEqual({ name: 'scope', version: '2.0', attributes: [] });
  });

  it('decodes ids and names', () => {
    expect(Buffer.from(span.traceId)).toEqual(TRACE_ID);
    expect(Buffer.from(span.spanId)).toEqual(SPAN_ID);
    expect(span.parentSpanId.length).toBe(0);
    expect(span.traceState).toBe('a=1');
    expect(span.name).toBe('release order');
    expect(span.kind).toBe(3);
    expect(span.status).toEqual({ code: 2, message: 'failed' });
  });

  it('keeps 64-bit timestamps exact', () => {
    expect(span.startTimeUnixNano).toBe(18446744073709551615n);
    expect(span.endTimeUnixNano).toBe(1700000000123456789n);
    expect(span.events[0]!.timeUnixNano).toBe(1700000000000000001n);
  });

  it('decodes every AnyValue member', () => {
    expect(span.attributes.map((attribute) => attribute.value)).toEqual([
      { type: 'int', value: -9223372036854775808n },
      { type: 'double', value: 0.1 },
      { type: 'bool', value: false },
      { type: 'bytes', value: Buffer.from([1, 2]) },
      { type: 'array', values: [{ type: 'string', value: 'x' }, { type: 'empty' }] },
      { type: 'kvlist', values: [{ key: 'n', value: { type: 'int', value: 1n } }] },
      { type: 'empty' },
    ]);
  });

  it('decodes links', () => {
    expect(span.links).toEqual([{ traceId: TRACE_ID, spanId: SPAN_ID, traceState: 'b=2', attributes: [] }]);
  });

  it('skips unknown fields', () => {
    const writer = protobuf.Writer.create();
    writer.uint32((99 << 3) | 2).string('a field from a newer proto');
    // resource_spans (field 1) holding an empty ResourceSpans.
    writer.uint32((1 << 3) | 2).bytes(new Uint8Array(0));
    const decoded = decodeProtobufTraceRequest(writer.finish());
    expect(decoded.resourceSpans).toHaveLength(1);
  });

  it('decodes an empty body', () => {
    expect(decodeProtobufTraceRequest(new Uint8Array(0))).toEqual({ resourceSpans: [] });
  });

  it('rejects a truncated body', () => {
    const error = captureError(body.subarray(0, body.length - 7));
    expect(error.code).toBe('COLLECTOR_ERR_INVALID_PROTOBUF');
    expect(error.httpStatus).toBe(400);
  });

  it('rejects an invalid wire type', () => {
    // Field 1 with wire type 7, which does not exist.
    const error = captureError(Uint8Array.from([0x0f, 0x00]));
    expect(error.code).toBe('COLLECTOR_ERR_INVALID_PROTOBUF');
  });
});
