import { connect, createServer } from 'node:net';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createTraceWriter, type TraceWriter } from '../../../../collector/trace-writer.js';
import { registerOtlpReceiver } from '../../../../collector/otlp/receiver.js';
import {
  BAD_REQUEST_TYPE_URL,
  ERROR_INFO_TYPE_URL,
  loadOtlpProtoTypes,
  RETRY_INFO_TYPE_URL,
} from '../../../../collector/otlp/proto-schema.js';
import { mapSpansToRows, type OtelTraceRow } from '../../../../collector/otlp/to-trace-rows.js';
import type { EncodedRows } from '../../../../collector/ingest/insert-batch.js';

const TRACE_ID = '5b8efff798038103d269b633813fc60c';

function buildJsonBody(spanIds: string[]): string {
  return JSON.stringify({
    resourceSpans: [
      {
        scopeSpans: [
          {
            spans: spanIds.map((spanId) => ({
              traceId: TRACE_ID,
              spanId,
              name: 'reserve stock',
              startTimeUnixNano: '1700000000000000000',
              endTimeUnixNano: '1700000000000000010',
            })),
          },
        ],
      },
    ],
  });
}

function buildProtobufBody(spanIds: string[]): Buffer {
  const { exportTraceServiceRequest } = loadOtlpProtoTypes();
  const message = exportTraceServiceRequest.fromObject({
    resourceSpans: [
      {
        scopeSpans: [
          {
            spans: spanIds.map((spanId) => ({
              traceId: Buffer.from(TRACE_ID, 'hex'),
              spanId: Buffer.from(spanId, 'hex'),
              startTimeUnixNano: '1700000000000000000',
              endTimeUnixNano: '1700000000000000010',
            })),
          },
        ],
      },
    ],
  });
  return Buffer.from(exportTraceServiceRequest.encode(message).finish());
}

/** Creates a writer that records rows, for tests that need no store. */
function createRecordingWriter(): TraceWriter & { batches: OtelTraceRow[][] } {
  const batches: OtelTraceRow[][] = [];
  return {
    batches,
    async write(spans) {
      batches.push(mapSpansToRows(spans.request));
    },
  };
}

/** Creates a writer that takes encoded rows too, as the service's batched writer does, and records both calls. */
function createRowsWriter(): TraceWriter & { batches: OtelTraceRow[][]; encoded: EncodedRows[] } {
  const recording = createRecordingWriter();
  const encoded: EncodedRows[] = [];
  return {
    ...recording,
    encoded,
    async writeRows(rows) {
      encoded.push(rows);
    },
  };
}

let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function startApp(writer: TraceWriter, maxBodyBytes?: number): Promise<FastifyInstance> {
  app = Fastify();
  await registerOtlpReceiver(app, { writer, maxBodyBytes });
  return app;
}

function decodeExportResponse(payload: Buffer) {
  const { exportTraceServiceResponse } = loadOtlpProtoTypes();
  return exportTraceServiceResponse.toObject(exportTraceServiceResponse.decode(payload), {
    longs: Number,
  }) as { partialSuccess: { rejectedSpans: number; errorMessage: string } };
}

function decodeProtobufStatus(payload: Buffer) {
  const { rpcStatus } = loadOtlpProtoTypes();
  return rpcStatus.toObject(rpcStatus.decode(payload), { longs: Number }) as {
    code: number;
    message: string;
    details: { typeUrl: string; value: Uint8Array }[];
  };
}

describe('registerOtlpReceiver', () => {
  it('answers protobuf with protobuf', async () => {
    const writer = createRecordingWriter();
    const server = await startApp(writer);
    const response = await server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/x-protobuf' },
      payload: buildProtobufBody(['0102030405060708']),
    });

    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/x-protobuf');
    // A full success leaves partial_success unset, so the message is empty.
    expect(response.rawPayload.length).toBe(0);
    expect(writer.batches).toHaveLength(1);
    expect(writer.batches[0]![0]!.SpanId).toBe('0102030405060708');
  });

  it.each([
    ['/v1/metrics', 404, 'COLLECTOR_ERR_SIGNAL_NOT_SUPPORTED', /syncwatch receives traces only/],
    ['/v1/logs', 404, 'COLLECTOR_ERR_SIGNAL_NOT_SUPPORTED', /syncwatch receives traces only/],
    ['/nothing', 404, 'COLLECTOR_ERR_ROUTE_NOT_FOUND', /no route POST \/nothing/],
  ])('answers %s with a Status', async (url, status, code, message) => {
    const server = await startApp(createRecordingWriter());
    const response = await server.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      payload: '{}',
    });
    expect(response.statusCode).toBe(status);
    expect(response.json().message).toMatch(message);
    expect(JSON.stringify(response.json().details)).toContain(code);
  });

  it('times out a body that stops arriving', async () => {
    const app = Fastify();
    registerOtlpReceiver(app, { writer: createRecordingWriter(), bodyTimeoutMs: 300 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    try {
      const response = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write('POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"res');
        });
        let received = '';
        socket.on('data', (chunk) => (received += chunk.toString()));
        socket.on('close', () => resolve(received));
        socket.on('error', reject);
      });
      expect(response).toMatch(/^HTTP\/1\.1 408/);
      expect(response).toMatch(/COLLECTOR_ERR_BODY_TIMEOUT/);
    } finally {
      await app.close();
    }
  });

  it('sends protobuf rows to writeRows', async () => {
    const writer = createRowsWriter();
    const server = await startApp(writer);
    const response = await server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/x-protobuf' },
      payload: buildProtobufBody(['0102030405060708', '0000000000000000', '0a0b0c0d0e0f1011']),
    });

    expect(response.statusCode).toBe(200);
    expect(writer.batches).toEqual([]);
    expect(writer.encoded).toHaveLength(1);
    expect(writer.encoded[0]!.format).toBe('RowBinaryWithNamesAndTypes');
    expect(writer.encoded[0]!.rowCount).toBe(2);
    expect(writer.encoded[0]!.body.includes(Buffer.from('0a0b0c0d0e0f1011'))).toBe(true);
    const decoded = decodeExportResponse(response.rawPayload);
    expect(decoded.partialSuccess.rejectedSpans).toBe(1);
    expect(decoded.partialSuccess.errorMessage).toContain('span id must be 8 bytes');
  });

  it('decodes JSON for a rows writer', async () => {
    const writer = createRowsWriter();
    const server = await startApp(writer);
    const response = await server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/json' },
      payload: buildJsonBody(['0102030405060708']),
    });

    expect(response.statusCode).toBe(200);
    expect(writer.encoded).toEqual([]);
    expect(writer.batches[0]![0]!.SpanId).toBe('0102030405060708');
  });

  it('skips writeRows without storable spans', async () => {
    const writer = createRowsWriter();
    const server = await startApp(writer);
    const response = await server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/x-protobuf' },
      payload: buildProtobufBody(['0000000000000000']),
    });

    expect(response.statusCode).toBe(200);
    expect(writer.encoded).toEqual([]);
  });

  it('reports partial success in protobuf', async () => {
    const server = await startApp(createRecordingWriter());
    const response = await server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/x-protobuf' },
      payload: buildProtobufBody(['0102030405060708', '0000000000000000']),
    });

    expect(response.statusCode).toBe(200);
    const decoded = decodeExportResponse(response.rawPayload);
    expect(decoded.partialSuccess.rejectedSpans).toBe(1);
    expect(decoded.partialSuccess.errorMessage).toContain('span id must be 8 bytes');
  });

  it('accepts an empty request', async () => {
    const writer = createRecordingWriter();
    const server = await startApp(writer);
    const response = await server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      payload: '{}',
    });

    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.json()).toEqual({});
    expect(writer.batches).toHaveLength(0);
  });

  it('explains an unsupported content type', async () => {
    const server = await startApp(createRecordingWriter());
    const response = await server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/xml' },
      payload: '<spans/>',
    });

    expect(response.statusCode).toBe(415);
    const body = response.json<{ code: number; message: string; details: { '@type': string; reason?: string }[] }>();
    expect(body.message).toBe(
      'unsupported Content-Type "application/xml": expected application/x-protobuf or application/json',
    );
    expect(body.details).toContainEqual({
      '@type': ERROR_INFO_TYPE_URL,
      reason: 'COLLECTOR_ERR_UNSUPPORTED_CONTENT_TYPE',
      domain: 'syncwatch.collector',
    });
  });

  it('wraps fastify media type errors', async () => {
    const server = await startApp(createRecordingWriter());
    const response = await server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'not a media type;;' },
      payload: 'x',
    });

    expect(response.statusCode).toBe(415);
    expect(response.headers['content-type']).toBe('application/json');
    const body = response.json<{ code: number; message: string }>();
    expect(body.code).toBe(3);
    expect(body.message).toContain('"not a media type;;"');
  });

  it('accepts an empty JSON body', async () => {
    const writer = createRecordingWriter();
    const server = await startApp(writer);
    const response = await server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/json' },
    });

    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({});
    expect(writer.batches).toHaveLength(0);
  });

  it('lists codings on 415', async () => {
    const server = await startApp(createRecordingWriter());
    const response = await server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'zstd' },
      payload: buildProtobufBody([]),
    });

    expect(response.statusCode).toBe(415);
    expect(response.headers['accept-encoding']).toBe('gzip, identity');
    expect(response.headers['content-type']).toBe('application/x-protobuf');
    expect(decodeProtobufStatus(response.rawPayload).message).toContain('"zstd"');
  });

  it('describes bad protobuf in protobuf', async () => {
    const server = await startApp(createRecordingWriter());
    const response = await server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/x-protobuf' },
      payload: buildProtobufBody(['0102030405060708']).subarray(0, 10),
    });

    expect(response.statusCode).toBe(400);
    const status = decodeProtobufStatus(response.rawPayload);
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/^request body is not a valid protobuf ExportTraceServiceRequest: /);
    expect(status.details.map((detail) => detail.typeUrl)).toEqual([ERROR_INFO_TYPE_URL, BAD_REQUEST_TYPE_URL]);
  });

  it('names the bad JSON field', async () => {
    const server = await startApp(createRecordingWriter());
    const response = await server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/json' },
      payload: '{"resourceSpans":[{"scopeSpans":{}}]}',
    });

    expect(response.statusCode).toBe(400);
    const body = response.json<{ details: { '@type': string; fieldViolations?: { field: string }[] }[] }>();
    const badRequest = body.details.find((detail) => detail['@type'] === BAD_REQUEST_TYPE_URL);
    expect(badRequest?.fieldViolations?.[0]?.field).toBe('resourceSpans[0].scopeSpans');
  });

  it('applies a custom body limit', async () => {
    const server = await startApp(createRecordingWriter(), 64);
    const response = await server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/json' },
      payload: buildJsonBody(['0102030405060708']),
    });

    expect(response.statusCode).toBe(413);
    expect(response.json<{ message: string }>().message).toBe('request body is larger than the limit of 64 bytes');
  });

  it('rejects an invalid body limit', () => {
    app = Fastify();
    expect(() => registerOtlpReceiver(app!, { writer: createRecordingWriter(), maxBodyBytes: 0 })).toThrow(RangeError);
  });

  it('leaves other routes parsing JSON', async () => {
    app = Fastify();
    app.post('/echo', async (request) => request.body);
    await registerOtlpReceiver(app, { writer: createRecordingWriter() });
    const response = await app.inject({ method: 'POST', url: '/echo', payload: { plant: 'a' } });
    expect(response.json()).toEqual({ plant: 'a' });
  });
});

describe('receiver under pressure', () => {
  it('answers 429 at writer capacity', async () => {
    let releaseInsert: () => void = () => {};
    const insertStarted = new Promise<void>((started) => {
      const client = {
        insert: () => {
          started();
          return new Promise<void>((release) => {
            releaseInsert = release;
          });
        },
      } as unknown as ClickHouseClient;
      void startApp(createTraceWriter(client, { maxInFlightInserts: 1 }));
    });
    await app!.ready();

    const request = {
      method: 'POST' as const,
      url: '/v1/traces',
      headers: { 'content-type': 'application/json' },
    };
    const first = app!.inject({ ...request, payload: buildJsonBody(['0102030405060708']) });
    await insertStarted;
    const second = await app!.inject({ ...request, payload: buildJsonBody(['0807060504030201']) });

    expect(second.statusCode).toBe(429);
    expect(second.headers['retry-after']).toBe('1');
    const body = second.json<{ message: string; details: { '@type': string; retryDelay?: string }[] }>();
    expect(body.message).toContain('limit of 1 inserts in flight');
    expect(body.details).toContainEqual({ '@type': RETRY_INFO_TYPE_URL, retryDelay: '1s' });

    releaseInsert();
    expect((await first).statusCode).toBe(200);
  });

  it('answers 503 when the store is down', async () => {
    const port = await findClosedPort();
    const client = createClient({
      url: `http://127.0.0.1:${port}`,
      request_timeout: 2_000,
      // The refused connection is the point of this test, so the client's own error log is noise.
      log: { level: ClickHouseLogLevel.OFF },
    });
    const server = await startApp(createTraceWriter(client));
    const response = await server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/x-protobuf' },
      payload: buildProtobufBody(['0102030405060708']),
    });
    await client.close();

    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    const status = decodeProtobufStatus(response.rawPayload);
    expect(status.code).toBe(14);
    expect(status.message).toMatch(/^insert into otel_traces failed: .+: retry after 5 s$/);
    expect(status.details.map((detail) => detail.typeUrl)).toEqual([ERROR_INFO_TYPE_URL, RETRY_INFO_TYPE_URL]);
  });

  it('answers 503 for other writer failures', async () => {
    const server = await startApp({
      write: async () => {
        throw new Error('disk full');
      },
    });
    const response = await server.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/json' },
      payload: buildJsonBody(['0102030405060708']),
    });

    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.json<{ message: string }>().message).toContain('disk full');
  });
});

/** Returns a loopback port that nothing listens on. */
async function findClosedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const address = server.address();
  await new Promise<void>((closed) => server.close(() => closed()));
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  return address.port;
}
