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

  it('decodes non-ASCII strings', () => {
    const decoded = decodeProtobufTraceRequest(encodeRequest(requestWithSpanNames(['Prüfauftrag 検査 ✓'])));
    expect(spanNames(decoded)).toEqual(['Prüfauftrag 検査 ✓']);
  });

  it('rejects invalid UTF-8 in a string', () => {
    const writer = protobuf.Writer.create();
    // resource_spans > scope_spans > spans > name, the name a lone continuation byte.
    const span = protobuf.Writer.create().uint32((5 << 3) | 2).bytes(Uint8Array.from([0x41, 0x80])).finish();
    const scopeSpans = protobuf.Writer.create().uint32((2 << 3) | 2).bytes(span).finish();
    const resourceSpans = protobuf.Writer.create().uint32((2 << 3) | 2).bytes(scopeSpans).finish();
    writer.uint32((1 << 3) | 2).bytes(resourceSpans);
    const error = captureError(writer.finish());
    expect(error.code).toBe('COLLECTOR_ERR_INVALID_PROTOBUF');
    expect(error.message).toMatch(/invalid UTF-8/);
  });

  it('keeps strings with equal hashes apart', () => {
    // "Aa" and "BB" have the same 31-based hash, so they share a cache slot.
    const names = ['Aa', 'BB', 'Aa', 'BB', 'AaBB', 'BBAa'];
    expect(spanNames(decodeProtobufTraceRequest(encodeRequest(requestWithSpanNames(names))))).toEqual(names);
  });

  it('skips unknown groups', () => {
    const writer = protobuf.Writer.create();
    // Field 20 as a group holding a varint and a nested group, then an empty ResourceSpans.
    writer.uint32((20 << 3) | 3).uint32((1 << 3) | 0).uint32(5).uint32((2 << 3) | 3).uint32((2 << 3) | 4).uint32((20 << 3) | 4);
    writer.uint32((1 << 3) | 2).bytes(new Uint8Array(0));
    expect(decodeProtobufTraceRequest(writer.finish()).resourceSpans).toHaveLength(1);
  });

  it('rejects a group ended by another field', () => {
    const writer = protobuf.Writer.create();
    writer.uint32((20 << 3) | 3).uint32((21 << 3) | 4);
    expect(captureError(writer.finish()).code).toBe('COLLECTOR_ERR_INVALID_PROTOBUF');
  });

  it('keeps the last of a repeated singular message', () => {
    const first = encodeRequest({ resourceSpans: [{ resource: { attributes: [{ key: 'n', value: { stringValue: 'first' } }] } }] });
    const second = encodeRequest({ resourceSpans: [{ resource: { attributes: [{ key: 'n', value: { stringValue: 'second' } }] } }] });
    // Both bodies open with the tag and length of one ResourceSpans. Joining their contents repeats its `resource` field.
    const inner = (body: Uint8Array) => body.subarray(2);
    const joined = Buffer.concat([inner(first), inner(second)]);
    const body = Buffer.concat([Uint8Array.from([(1 << 3) | 2, joined.length]), joined]);
    const decoded = decodeProtobufTraceRequest(body);
    expect(decoded.resourceSpans[0]!.resource.attributes).toEqual([{ key: 'n', value: { type: 'string', value: 'second' } }]);
  });

  it('decodes 64-bit int values', () => {
    const decoded = decodeProtobufTraceRequest(
      encodeRequest({
        resourceSpans: [{ resource: { attributes: [{ key: 'i', value: { intValue: '-1' } }, { key: 'j', value: { intValue: '281474976710656' } }] } }],
      }),
    );
    expect(decoded.resourceSpans[0]!.resource.attributes.map((attribute) => attribute.value)).toEqual([
      { type: 'int', value: -1n },
      { type: 'int', value: 281474976710656n },
    ]);
  });
});

function requestWithSpanNames(names: readonly string[]): object {
  return { resourceSpans: [{ scopeSpans: [{ spans: names.map((name) => ({ traceId: TRACE_ID, spanId: SPAN_ID, name })) }] }] };
}

function spanNames(request: ReturnType<typeof decodeProtobufTraceRequest>): string[] {
  return request.resourceSpans.flatMap((resourceSpans) => resourceSpans.scopeSpans.flatMap((scopeSpans) => scopeSpans.spans.map((span) => span.name)));
}
