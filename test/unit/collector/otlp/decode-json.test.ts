import { describe, expect, it } from 'vitest';
import { CollectorError } from '../../../../collector/errors.js';
import { decodeJsonTraceRequest } from '../../../../collector/otlp/decode-json.js';

const TRACE_ID = '5B8EFFF798038103D269B633813FC60C';
const SPAN_ID = 'EEE19B7EC3C1B174';

function decodeSpan(span: object) {
  const request = decodeJsonTraceRequest(
    JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }),
  );
  return request.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
}

function captureError(body: string): CollectorError {
  try {
    decodeJsonTraceRequest(body);
  } catch (error) {
    if (error instanceof CollectorError) return error;
    throw error;
  }
  throw new Error('expected decodeJsonTraceRequest to throw');
}

describe('decodeJsonTraceRequest', () => {
  it('decodes hex ids case-insensitively', () => {
    const span = decodeSpan({ traceId: TRACE_ID, spanId: SPAN_ID.toLowerCase(), parentSpanId: '' });
    expect(Buffer.from(span.traceId).toString('hex')).toBe(TRACE_ID.toLowerCase());
    expect(Buffer.from(span.spanId).toString('hex')).toBe(SPAN_ID.toLowerCase());
    expect(span.parentSpanId.length).toBe(0);
  });

  it('reads int64 strings and numbers', () => {
    const span = decodeSpan({
      startTimeUnixNano: '1700000000123456789',
      endTimeUnixNano: 1700000000,
      attributes: [
        { key: 'big', value: { intValue: '-9223372036854775808' } },
        { key: 'small', value: { intValue: 42 } },
      ],
    });
    expect(span.startTimeUnixNano).toBe(1700000000123456789n);
    expect(span.endTimeUnixNano).toBe(1700000000n);
    expect(span.attributes).toEqual([
      { key: 'big', value: { type: 'int', value: -9223372036854775808n } },
      { key: 'small', value: { type: 'int', value: 42n } },
    ]);
  });

  it('keeps 64-bit JSON numbers exact', () => {
    const text = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",
      "spanId":"eee19b7ec3c1b174","name":"n","startTimeUnixNano":1796402000123456789,"endTimeUnixNano" : 1796402000123456999,
      "attributes":[{"key":"big","value":{"intValue":9007199254740993}},{"key":"note","value":{"stringValue":"\\"intValue\\":9007199254740993"}}],
      "events":[{"timeUnixNano":1796402000123456790,"name":"e"}]}]}]}]}`;
    const span = decodeJsonTraceRequest(text).resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(span.startTimeUnixNano).toBe(1796402000123456789n);
    expect(span.endTimeUnixNano - span.startTimeUnixNano).toBe(210n);
    expect(span.events[0]!.timeUnixNano).toBe(1796402000123456790n);
    expect(span.attributes).toEqual([
      { key: 'big', value: { type: 'int', value: 9007199254740993n } },
      { key: 'note', value: { type: 'string', value: '"intValue":9007199254740993' } },
    ]);
  });

  it('reads every AnyValue member', () => {
    const span = decodeSpan({
      attributes: [
        { key: 's', value: { stringValue: 'x' } },
        { key: 'b', value: { boolValue: false } },
        { key: 'd', value: { doubleValue: 'NaN' } },
        { key: 'y', value: { bytesValue: '3q2+7w==' } },
        { key: 'a', value: { arrayValue: { values: [{ intValue: '1' }, {}] } } },
        { key: 'k', value: { kvlistValue: { values: [{ key: 'n', value: { doubleValue: 1.5 } }] } } },
        { key: 'e' },
      ],
    });
    expect(span.attributes.map((attribute) => attribute.value)).toEqual([
      { type: 'string', value: 'x' },
      { type: 'bool', value: false },
      { type: 'double', value: Number.NaN },
      { type: 'bytes', value: Buffer.from([0xde, 0xad, 0xbe, 0xef]) },
      { type: 'array', values: [{ type: 'int', value: 1n }, { type: 'empty' }] },
      { type: 'kvlist', values: [{ key: 'n', value: { type: 'double', value: 1.5 } }] },
      { type: 'empty' },
    ]);
  });

  it('ignores unknown fields', () => {
    const span = decodeSpan({ name: 'x', flags: 257, somethingNew: { nested: [1, 2] }, droppedAttributesCount: 3 });
    expect(span.name).toBe('x');
  });

  it('treats null as the default', () => {
    const span = decodeSpan({ name: null, kind: null, status: null, events: null, traceId: null });
    expect(span.name).toBe('');
    expect(span.kind).toBe(0);
    expect(span.status).toEqual({ code: 0, message: '' });
    expect(span.events).toEqual([]);
    expect(span.traceId.length).toBe(0);
  });

  it('accepts an empty object', () => {
    expect(decodeJsonTraceRequest('{}')).toEqual({ resourceSpans: [] });
  });

  it('rejects unparseable JSON', () => {
    const error = captureError('{"resourceSpans": [');
    expect(error.code).toBe('COLLECTOR_ERR_INVALID_JSON');
    expect(error.httpStatus).toBe(400);
  });

  const wrongTypes: [string, string, string][] = [
    ['resourceSpans as number', '{"resourceSpans": 5}', 'resourceSpans'],
    ['root as array', '[]', '(root)'],
    ['span as string', '{"resourceSpans":[{"scopeSpans":[{"spans":["x"]}]}]}', 'resourceSpans[0].scopeSpans[0].spans[0]'],
    [
      'name as number',
      '{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":7}]}]}]}',
      'resourceSpans[0].scopeSpans[0].spans[0].name',
    ],
    [
      'kind as enum name',
      '{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_SERVER"}]}]}]}',
      'resourceSpans[0].scopeSpans[0].spans[0].kind',
    ],
    [
      'base64 trace id',
      '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA=="}]}]}]}',
      'resourceSpans[0].scopeSpans[0].spans[0].traceId',
    ],
    [
      'negative timestamp',
      '{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"-1"}]}]}]}',
      'resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano',
    ],
    [
      'fractional intValue',
      '{"resourceSpans":[{"resource":{"attributes":[{"key":"a","value":{"intValue":1.5}}]}}]}',
      'resourceSpans[0].resource.attributes[0].value.intValue',
    ],
    [
      'two oneof members',
      '{"resourceSpans":[{"resource":{"attributes":[{"key":"a","value":{"intValue":1,"stringValue":"1"}}]}}]}',
      'resourceSpans[0].resource.attributes[0].value',
    ],
  ];

  it.each(wrongTypes)('rejects %s', (_name, body, field) => {
    const error = captureError(body);
    expect(error.code).toBe('COLLECTOR_ERR_INVALID_JSON_FIELD');
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
  });
});
