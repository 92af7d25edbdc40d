import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import {
  context,
  createTraceState,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter as OtlpJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTraceWriter } from '../../collector/trace-writer.js';
import { registerOtlpReceiver } from '../../collector/otlp/index.js';
import { ERROR_INFO_TYPE_URL, loadOtlpProtoTypes } from '../../collector/otlp/proto-schema.js';
import { migrate, openClickHouse } from '../../store/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-otlp-'));
const client = openClickHouse({ kind: 'embedded', dataDir });
let app: FastifyInstance;
let tracesUrl: string;
/** `Content-Encoding` of every request to the receiver, '' when absent. */
const contentEncodings: string[] = [];

beforeAll(async () => {
  await migrate(client);
  app = Fastify();
  app.addHook('onRequest', async (request) => {
    contentEncodings.push(request.headers['content-encoding'] ?? '');
  });
  registerOtlpReceiver(app, { writer: createTraceWriter(client) });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  tracesUrl = `${address}/v1/traces`;
});

afterAll(async () => {
  await app?.close();
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** One `otel_traces` row read back with 64-bit values as strings. */
interface StoredSpan {
  timestampNanos: string;
  TraceId: string;
  SpanId: string;
  ParentSpanId: string;
  TraceState: string;
  SpanName: string;
  SpanKind: string;
  ServiceName: string;
  ResourceAttributes: Record<string, string>;
  ScopeName: string;
  ScopeVersion: string;
  SpanAttributes: Record<string, string>;
  duration: string;
  StatusCode: string;
  StatusMessage: string;
  eventTimestampsNanos: string[];
  'Events.Name': string[];
  'Events.Attributes': Record<string, string>[];
  'Links.TraceId': string[];
  'Links.SpanId': string[];
  'Links.TraceState': string[];
  'Links.Attributes': Record<string, string>[];
}

async function readSpans(traceId: string): Promise<StoredSpan[]> {
  const result = await client.query({
    query: `
      SELECT
        toString(toUnixTimestamp64Nano(Timestamp)) AS timestampNanos,
        TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
        ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes,
        toString(Duration) AS duration, StatusCode, StatusMessage,
        arrayMap(t -> toString(toUnixTimestamp64Nano(t)), Events.Timestamp) AS eventTimestampsNanos,
        Events.Name, Events.Attributes,
        Links.TraceId, Links.SpanId, Links.TraceState, Links.Attributes
      FROM otel_traces
      WHERE TraceId = {traceId: String}
      ORDER BY SpanName`,
    query_params: { traceId },
    format: 'JSONEachRow',
  });
  return result.json<StoredSpan>();
}

async function countSpans(traceId: string): Promise<number> {
  const result = await client.query({
    query: 'SELECT count() AS spans FROM otel_traces WHERE TraceId = {traceId: String}',
    query_params: { traceId },
    format: 'JSONEachRow',
  });
  const [row] = await result.json<{ spans: string | number }>();
  return Number(row?.spans ?? 0);
}

const START: [number, number] = [1_700_000_000, 123_456_789];
const EVENT_TIME: [number, number] = [1_700_000_000, 500_000_001];
const END: [number, number] = [1_700_000_001, 987_654_321];
const START_NANOS = '1700000000123456789';
const EVENT_NANOS = '1700000000500000001';
const DURATION_NANOS = '1864197532';

interface SentTrace {
  traceId: string;
  remoteParentSpanId: string;
  linkTraceId: string;
  linkSpanId: string;
  serverSpanId: string;
}

/**
 * Sends one trace through a real SDK pipeline: a server span under a remote
 * parent, with attributes of every type, an event, a link and an error
 * status, plus one child span of each other kind.
 */
async function sendTrace(exporter: SpanExporter): Promise<SentTrace> {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'odoo-mes-bridge',
      'deployment.environment': 'plant-a',
      'host.cpu.count': 8,
      'plant.load_factor': 0.75,
      'plant.online': true,
      'plant.lines': ['line-1', 'line-2'],
    }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('syncwatch.test.scope', '1.2.3');
  const sent: SentTrace = {
    traceId: randomBytes(16).toString('hex'),
    remoteParentSpanId: randomBytes(8).toString('hex'),
    linkTraceId: randomBytes(16).toString('hex'),
    linkSpanId: randomBytes(8).toString('hex'),
    serverSpanId: '',
  };

  const parentContext = trace.setSpanContext(context.active(), {
    traceId: sent.traceId,
    spanId: sent.remoteParentSpanId,
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: createTraceState('plant=a,odoo=7'),
  });
  const server = startServerSpan(tracer, parentContext, sent);
  sent.serverSpanId = server.spanContext().spanId;

  const childContext = trace.setSpan(parentContext, server);
  const childKinds: [string, SpanKind][] = [
    ['child client', SpanKind.CLIENT],
    ['child consumer', SpanKind.CONSUMER],
    ['child internal', SpanKind.INTERNAL],
    ['child producer', SpanKind.PRODUCER],
  ];
  for (const [name, kind] of childKinds) {
    const child = tracer.startSpan(name, { kind, startTime: START }, childContext);
    child.setStatus({ code: SpanStatusCode.OK });
    child.end(END);
  }
  server.end(END);

  await provider.forceFlush();
  await provider.shutdown();
  return sent;
}

function startServerSpan(tracer: Tracer, parentContext: ReturnType<typeof context.active>, sent: SentTrace) {
  const span = tracer.startSpan(
    'POST /production-orders',
    {
      kind: SpanKind.SERVER,
      startTime: START,
      attributes: {
        'http.request.method': 'POST',
        'odoo.order.id': 4711,
        'odoo.order.weight_kg': 12.5,
        'odoo.order.urgent': true,
        'odoo.order.lines': ['WO-1', 'WO-2'],
        'odoo.order.quantities': [3, 4.5],
        'odoo.order.checks': [true, false],
      },
      links: [
        {
          context: {
            traceId: sent.linkTraceId,
            spanId: sent.linkSpanId,
            traceFlags: TraceFlags.SAMPLED,
            traceState: createTraceState('wms=1'),
          },
          attributes: { 'link.reason': 'replay', 'link.attempt': 2 },
        },
      ],
    },
    parentContext,
  );
  span.addEvent('stock checked', { 'stock.available': 17, 'stock.bin': 'B-07', 'stock.ok': false }, EVENT_TIME);
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'stock check failed' });
  return span;
}

/** The exporters' `CompressionAlgorithm.GZIP`, whose enum this package does not re-export. */
type ExporterCompression = NonNullable<ConstructorParameters<typeof OtlpProtoTraceExporter>[0]>['compression'];
const GZIP = 'gzip' as ExporterCompression;

const exporters: [string, (url: string) => SpanExporter][] = [
  ['protobuf', (url) => new OtlpProtoTraceExporter({ url })],
  ['JSON', (url) => new OtlpJsonTraceExporter({ url })],
  ['gzip protobuf', (url) => new OtlpProtoTraceExporter({ url, compression: GZIP })],
  ['gzip JSON', (url) => new OtlpJsonTraceExporter({ url, compression: GZIP })],
];

describe.each(exporters)('spans from the %s exporter', (_encoding, createExporter) => {
  let sent: SentTrace;
  let spans: StoredSpan[];

  beforeAll(async () => {
    sent = await sendTrace(createExporter(tracesUrl));
    spans = await readSpans(sent.traceId);
  });

  it('stores every span of the trace', () => {
    expect(spans.map((span) => span.SpanName)).toEqual([
      'POST /production-orders',
      'child client',
      'child consumer',
      'child internal',
      'child producer',
    ]);
  });

  it('maps ids, trace state and timing', () => {
    const server = spans[0]!;
    expect(server.TraceId).toBe(sent.traceId);
    expect(server.SpanId).toBe(sent.serverSpanId);
    expect(server.ParentSpanId).toBe(sent.remoteParentSpanId);
    expect(server.TraceState).toBe('plant=a,odoo=7');
    expect(server.timestampNanos).toBe(START_NANOS);
    expect(server.duration).toBe(DURATION_NANOS);
  });

  it('maps kind, status and scope', () => {
    const server = spans[0]!;
    expect(server.SpanKind).toBe('Server');
    expect(server.StatusCode).toBe('Error');
    expect(server.StatusMessage).toBe('stock check failed');
    expect(server.ScopeName).toBe('syncwatch.test.scope');
    expect(server.ScopeVersion).toBe('1.2.3');
    expect(spans.slice(1).map((span) => span.SpanKind)).toEqual(['Client', 'Consumer', 'Internal', 'Producer']);
    expect(spans.slice(1).map((span) => span.StatusCode)).toEqual(['Ok', 'Ok', 'Ok', 'Ok']);
    expect(spans.slice(1).map((span) => span.ParentSpanId)).toEqual(Array(4).fill(sent.serverSpanId));
  });

  it('flattens resource attributes', () => {
    const server = spans[0]!;
    expect(server.ServiceName).toBe('odoo-mes-bridge');
    expect(server.ResourceAttributes).toMatchObject({
      'service.name': 'odoo-mes-bridge',
      'deployment.environment': 'plant-a',
      'host.cpu.count': '8',
      'plant.load_factor': '0.75',
      'plant.online': 'true',
      'plant.lines': '["line-1","line-2"]',
    });
  });

  it('flattens span attributes', () => {
    expect(spans[0]!.SpanAttributes).toEqual({
      'http.request.method': 'POST',
      'odoo.order.id': '4711',
      'odoo.order.weight_kg': '12.5',
      'odoo.order.urgent': 'true',
      'odoo.order.lines': '["WO-1","WO-2"]',
      'odoo.order.quantities': '[3,4.5]',
      'odoo.order.checks': '[true,false]',
    });
  });

  it('maps events', () => {
    const server = spans[0]!;
    expect(server.eventTimestampsNanos).toEqual([EVENT_NANOS]);
    expect(server['Events.Name']).toEqual(['stock checked']);
    expect(server['Events.Attributes']).toEqual([{ 'stock.available': '17', 'stock.bin': 'B-07', 'stock.ok': 'false' }]);
  });

  it('maps links', () => {
    const server = spans[0]!;
    expect(server['Links.TraceId']).toEqual([sent.linkTraceId]);
    expect(server['Links.SpanId']).toEqual([sent.linkSpanId]);
    expect(server['Links.TraceState']).toEqual(['wms=1']);
    expect(server['Links.Attributes']).toEqual([{ 'link.reason': 'replay', 'link.attempt': '2' }]);
  });

  it('fills the trace id lookup', async () => {
    const result = await client.query({
      query: `SELECT TraceId, toUnixTimestamp(min(Start)) AS start
              FROM otel_traces_trace_id_ts WHERE TraceId = {traceId: String} GROUP BY TraceId`,
      query_params: { traceId: sent.traceId },
      format: 'JSONEachRow',
    });
    const rows = await result.json<{ TraceId: string; start: number }>();
    expect(rows).toEqual([{ TraceId: sent.traceId, start: START[0] }]);
  });
});

describe('exporter compression', () => {
  it('sends gzip bodies', () => {
    expect(contentEncodings.filter((coding) => coding === 'gzip').length).toBeGreaterThanOrEqual(2);
  });
});

/** Builds an OTLP JSON body with one span per given trace and span id. */
function buildJsonBody(spans: { traceId: string; spanId: string }[]): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'wms-sync' } }] },
        scopeSpans: [
          {
            scope: { name: 'manual' },
            spans: spans.map(({ traceId, spanId }) => ({
              traceId,
              spanId,
              name: 'pick confirmed',
              kind: 1,
              startTimeUnixNano: '1700000000000000000',
              endTimeUnixNano: '1700000000000001000',
            })),
          },
        ],
      },
    ],
  });
}

describe('bad input', () => {
  const acceptedTraceId = randomBytes(16).toString('hex');

  beforeAll(async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/json' },
      payload: buildJsonBody([{ traceId: acceptedTraceId, spanId: randomBytes(8).toString('hex') }]),
    });
    expect(response.statusCode).toBe(200);
  });

  const validProtobuf = (): Buffer => {
    const { exportTraceServiceRequest } = loadOtlpProtoTypes();
    const message = exportTraceServiceRequest.create({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId: randomBytes(16),
                  spanId: randomBytes(8),
                  name: 'truncated',
                  startTimeUnixNano: 1,
                  endTimeUnixNano: 2,
                },
              ],
            },
          ],
        },
      ],
    });
    return Buffer.from(exportTraceServiceRequest.encode(message).finish());
  };

  const cases: {
    name: string;
    contentType: string;
    contentEncoding?: string;
    payload: () => Buffer | string;
    status: number;
    errorCode: string;
  }[] = [
    {
      name: 'malformed protobuf',
      contentType: 'application/x-protobuf',
      // Field 1, length-delimited, claiming 1000 bytes that are not there.
      payload: () => Buffer.from([0x0a, 0xe8, 0x07, 0x01, 0x02]),
      status: 400,
      errorCode: 'COLLECTOR_ERR_INVALID_PROTOBUF',
    },
    {
      name: 'truncated protobuf',
      contentType: 'application/x-protobuf',
      payload: () => validProtobuf().subarray(0, 20),
      status: 400,
      errorCode: 'COLLECTOR_ERR_INVALID_PROTOBUF',
    },
    {
      name: 'malformed JSON',
      contentType: 'application/json',
      payload: () => '{"resourceSpans": [',
      status: 400,
      errorCode: 'COLLECTOR_ERR_INVALID_JSON',
    },
    {
      name: 'wrongly typed JSON',
      contentType: 'application/json',
      payload: () => '{"resourceSpans": 5}',
      status: 400,
      errorCode: 'COLLECTOR_ERR_INVALID_JSON_FIELD',
    },
    {
      name: 'unsupported content type',
      contentType: 'text/plain',
      payload: () => 'hello',
      status: 415,
      errorCode: 'COLLECTOR_ERR_UNSUPPORTED_CONTENT_TYPE',
    },
    {
      name: 'unsupported content encoding',
      contentType: 'application/json',
      contentEncoding: 'br',
      payload: () => buildJsonBody([]),
      status: 415,
      errorCode: 'COLLECTOR_ERR_UNSUPPORTED_CONTENT_ENCODING',
    },
    {
      name: 'oversized body',
      contentType: 'application/json',
      payload: () => Buffer.alloc(8 * 1024 * 1024 + 1, 0x20),
      status: 413,
      errorCode: 'COLLECTOR_ERR_BODY_TOO_LARGE',
    },
    {
      name: 'oversized body after gunzip',
      contentType: 'application/json',
      contentEncoding: 'gzip',
      payload: () => gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)),
      status: 413,
      errorCode: 'COLLECTOR_ERR_DECOMPRESSED_BODY_TOO_LARGE',
    },
    {
      name: 'bad gzip stream',
      contentType: 'application/json',
      contentEncoding: 'gzip',
      payload: () => Buffer.from('this is not gzip'),
      status: 400,
      errorCode: 'COLLECTOR_ERR_INVALID_GZIP',
    },
  ];

  it.each(cases)('rejects $name', async ({ contentType, contentEncoding, payload, status, errorCode }) => {
    const headers: Record<string, string> = { 'content-type': contentType };
    if (contentEncoding) headers['content-encoding'] = contentEncoding;
    const response = await app.inject({ method: 'POST', url: '/v1/traces', headers, payload: payload() });

    expect(response.statusCode).toBe(status);
    // The Status comes in the request's encoding, or JSON when that is unknown.
    const expectedType = contentType === 'application/x-protobuf' ? contentType : 'application/json';
    expect(response.headers['content-type']).toBe(expectedType);
    const body = decodeStatusBody(response.headers['content-type'], response.rawPayload);
    expect(body.message.length).toBeGreaterThan(0);
    expect(body.errorCode).toBe(errorCode);
  });

  it('rejects oversized body over HTTP', async () => {
    const response = await fetch(tracesUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: Buffer.alloc(9 * 1024 * 1024),
    });

    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toBe('application/x-protobuf');
    const body = decodeStatusBody('application/x-protobuf', Buffer.from(await response.arrayBuffer()));
    expect(body.errorCode).toBe('COLLECTOR_ERR_BODY_TOO_LARGE');
  });

  it('reports spans with bad ids', async () => {
    const goodTraceId = randomBytes(16).toString('hex');
    const response = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/json' },
      payload: buildJsonBody([
        { traceId: goodTraceId, spanId: randomBytes(8).toString('hex') },
        { traceId: randomBytes(15).toString('hex'), spanId: randomBytes(8).toString('hex') },
        { traceId: goodTraceId, spanId: '0000000000000000' },
        { traceId: goodTraceId, spanId: randomBytes(4).toString('hex') },
      ]),
    });

    expect(response.statusCode).toBe(200);
    const body = response.json<{ partialSuccess: { rejectedSpans: string; errorMessage: string } }>();
    expect(body.partialSuccess.rejectedSpans).toBe('3');
    expect(body.partialSuccess.errorMessage).toContain('trace id must be 16 bytes');
    expect(body.partialSuccess.errorMessage).toContain('span id must be 8 bytes');
    expect(await countSpans(goodTraceId)).toBe(1);
  });

  it('keeps spans accepted before', async () => {
    expect(await countSpans(acceptedTraceId)).toBe(1);
  });
});

/** Decodes a `google.rpc.Status` body in either encoding, with the ErrorInfo reason. */
function decodeStatusBody(
  contentType: string | string[] | number | undefined,
  payload: Buffer,
): { code: number; message: string; errorCode: string | undefined } {
  if (String(contentType).startsWith('application/json')) {
    const status = JSON.parse(payload.toString('utf8')) as {
      code: number;
      message: string;
      details: { '@type': string; reason?: string }[];
    };
    const info = status.details.find((detail) => detail['@type'] === ERROR_INFO_TYPE_URL);
    return { code: status.code, message: status.message, errorCode: info?.reason };
  }
  const { rpcStatus, errorInfo } = loadOtlpProtoTypes();
  const status = rpcStatus.toObject(rpcStatus.decode(payload)) as {
    code: number;
    message: string;
    details: { typeUrl: string; value: Uint8Array }[];
  };
  const info = status.details.find((detail) => detail.typeUrl === ERROR_INFO_TYPE_URL);
  const reason = info ? (errorInfo.toObject(errorInfo.decode(info.value)) as { reason: string }).reason : undefined;
  return { code: status.code, message: status.message, errorCode: reason };
}
