import { describe, expect, it } from 'vitest';
import { formatDateTime64, toTraceRows } from '../../../../collector/otlp/to-trace-rows.js';
import type { OtlpSpan, OtlpTraceRequest } from '../../../../collector/otlp/types.js';

const TRACE_ID = Buffer.from('5b8efff798038103d269b633813fc60c', 'hex');
const SPAN_ID = Buffer.from('eee19b7ec3c1b174', 'hex');
const PARENT_ID = Buffer.from('0102030405060708', 'hex');

function buildSpan(overrides: Partial<OtlpSpan> = {}): OtlpSpan {
  return {
    traceId: TRACE_ID,
    spanId: SPAN_ID,
    traceState: '',
    parentSpanId: new Uint8Array(0),
    name: 'ship order',
    kind: 2,
    startTimeUnixNano: 1_700_000_000_000_000_005n,
    endTimeUnixNano: 1_700_000_001_000_000_000n,
    attributes: [],
    events: [],
    links: [],
    status: { code: 0, message: '' },
    ...overrides,
  };
}

function buildRequest(spans: OtlpSpan[], serviceName?: string): OtlpTraceRequest {
  return {
    resourceSpans: [
      {
        resource: {
          attributes: serviceName === undefined ? [] : [{ key: 'service.name', value: { type: 'string', value: serviceName } }],
        },
        scopeSpans: [{ scope: { name: 'scope', version: '1', attributes: [] }, spans, schemaUrl: '' }],
        schemaUrl: '',
      },
    ],
  };
}

describe('toTraceRows', () => {
  it('maps a span to exporter columns', () => {
    const { rows, rejectedSpans, errorMessage } = toTraceRows(
      buildRequest(
        [
          buildSpan({
            parentSpanId: PARENT_ID,
            traceState: 'k=v',
            status: { code: 2, message: 'late' },
            attributes: [{ key: 'qty', value: { type: 'int', value: 3n } }],
            events: [{ timeUnixNano: 1_700_000_000_500_000_000n, name: 'picked', attributes: [] }],
            links: [{ traceId: TRACE_ID, spanId: PARENT_ID, traceState: 'l=1', attributes: [] }],
          }),
        ],
        'wms',
      ),
    );
    expect(rejectedSpans).toBe(0);
    expect(errorMessage).toBe('');
    expect(rows).toEqual([
      {
        Timestamp: '1700000000.000000005',
        TraceId: '5b8efff798038103d269b633813fc60c',
        SpanId: 'eee19b7ec3c1b174',
        ParentSpanId: '0102030405060708',
        TraceState: 'k=v',
        SpanName: 'ship order',
        SpanKind: 'Server',
        ServiceName: 'wms',
        ResourceAttributes: { 'service.name': 'wms' },
        ScopeName: 'scope',
        ScopeVersion: '1',
        SpanAttributes: { qty: '3' },
        Duration: '999999995',
        StatusCode: 'Error',
        StatusMessage: 'late',
        'Events.Timestamp': ['1700000000.500000000'],
        'Events.Name': ['picked'],
        'Events.Attributes': [{}],
        'Links.TraceId': ['5b8efff798038103d269b633813fc60c'],
        'Links.SpanId': ['0102030405060708'],
        'Links.TraceState': ['l=1'],
        'Links.Attributes': [{}],
      },
    ]);
  });

  it('names every kind and status', () => {
    const spans = [0, 1, 2, 3, 4, 5, 9].map((kind) => buildSpan({ kind, status: { code: kind % 3, message: '' } }));
    const { rows } = toTraceRows(buildRequest(spans));
    expect(rows.map((row) => row.SpanKind)).toEqual(['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer', '']);
    expect(rows.map((row) => row.StatusCode)).toEqual(['Unset', 'Ok', 'Error', 'Unset', 'Ok', 'Error', 'Unset']);
  });

  it('writes empty ids and service name', () => {
    const { rows } = toTraceRows(buildRequest([buildSpan({ parentSpanId: new Uint8Array(8) })]));
    expect(rows[0]!.ParentSpanId).toBe('');
    expect(rows[0]!.ServiceName).toBe('');
  });

  const rejected: [string, Partial<OtlpSpan>, string][] = [
    ['short trace id', { traceId: TRACE_ID.subarray(1) }, 'trace id must be 16 bytes'],
    ['zero trace id', { traceId: new Uint8Array(16) }, '16 zero bytes'],
    ['missing span id', { spanId: new Uint8Array(0) }, 'span id must be 8 bytes'],
    ['zero span id', { spanId: new Uint8Array(8) }, '8 zero bytes'],
    ['long parent id', { parentSpanId: new Uint8Array(9).fill(1) }, 'parent span id'],
    [
      'bad link id',
      { links: [{ traceId: TRACE_ID.subarray(2), spanId: SPAN_ID, traceState: '', attributes: [] }] },
      'link ids',
    ],
    ['end before start', { endTimeUnixNano: 1n }, 'end time is before start time'],
    ['end past 2262', { endTimeUnixNano: 1n << 63n }, 'DateTime64(9)'],
  ];

  it.each(rejected)('rejects %s', (_name, overrides, reason) => {
    const { rows, rejectedSpans, errorMessage } = toTraceRows(buildRequest([buildSpan(), buildSpan(overrides)]));
    expect(rows).toHaveLength(1);
    expect(rejectedSpans).toBe(1);
    expect(errorMessage).toContain('rejected 1 of 2 spans');
    expect(errorMessage).toContain(reason);
  });

  it('groups equal rejection reasons', () => {
    const bad = buildSpan({ spanId: new Uint8Array(3).fill(1) });
    const { rejectedSpans, errorMessage } = toTraceRows(buildRequest([bad, bad, bad]));
    expect(rejectedSpans).toBe(3);
    expect(errorMessage).toBe('rejected 3 of 3 spans: 3 x span id must be 8 bytes and not all zero, received 3 bytes');
  });
});

describe('formatDateTime64', () => {
  it('pads nanoseconds', () => {
    expect(formatDateTime64(1_700_000_000_000_000_001n)).toBe('1700000000.000000001');
  });

  it('pads seconds to ten digits', () => {
    expect(formatDateTime64(0n)).toBe('0000000000.000000000');
    expect(formatDateTime64(5_000_000_007n)).toBe('0000000005.000000007');
    expect(formatDateTime64((1n << 63n) - 1n)).toBe('9223372036.854775807');
  });
});
