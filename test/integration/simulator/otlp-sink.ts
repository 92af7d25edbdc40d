import Fastify, { type FastifyInstance } from 'fastify';
import { decodeProtobufTraceRequest, toAttributeMap, type OtlpSpan } from '../../../collector/otlp/index.js';

/** One received span with its service and its attributes as strings. */
export interface ReceivedSpan {
  service: string;
  span: OtlpSpan;
  attributes: Record<string, string>;
}

/** A minimal OTLP/HTTP traces endpoint that keeps every protobuf body it receives. */
export interface OtlpSink {
  endpoint: string;
  bodies: Buffer[];
  /** Returns true when some received body names `serviceName` as its resource's `service.name`. */
  hasService(serviceName: string): boolean;
  /** Decodes every received body with the collector's protobuf decoder. */
  decodeSpans(): ReceivedSpan[];
  close(): Promise<void>;
}

/**
 * Encodes the protobuf of `KeyValue { key: "service.name", value: AnyValue {
 * string_value: name } }`, which the exporter writes into the resource of each
 * export request. Finding these bytes in a body identifies the sending service
 * without decoding the whole request. Valid for names shorter than 126 bytes.
 */
function encodeServiceNameAttribute(serviceName: string): Buffer {
  const key = Buffer.from('service.name');
  const value = Buffer.from(serviceName);
  const anyValue = Buffer.concat([Buffer.from([0x0a, value.length]), value]);
  return Buffer.concat([Buffer.from([0x0a, key.length]), key, Buffer.from([0x12, anyValue.length]), anyValue]);
}

export async function startOtlpSink(): Promise<OtlpSink> {
  const bodies: Buffer[] = [];
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 });
  app.addContentTypeParser('application/x-protobuf', { parseAs: 'buffer' }, (_request, body, done) => {
    done(null, body);
  });
  app.post('/v1/traces', async (request, reply) => {
    bodies.push(request.body as Buffer);
    // An empty ExportTraceServiceResponse: full success.
    return reply.header('content-type', 'application/x-protobuf').send(Buffer.alloc(0));
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    endpoint: `http://127.0.0.1:${port}/v1/traces`,
    bodies,
    hasService: (serviceName) => {
      const pattern = encodeServiceNameAttribute(serviceName);
      return bodies.some((body) => body.includes(pattern));
    },
    decodeSpans: () => bodies.flatMap(decodeBody),
    close: () => app.close(),
  };
}

function decodeBody(body: Buffer): ReceivedSpan[] {
  return decodeProtobufTraceRequest(body).resourceSpans.flatMap((resourceSpans) => {
    const service = toAttributeMap(resourceSpans.resource.attributes)['service.name'] ?? '';
    return resourceSpans.scopeSpans.flatMap((scopeSpans) =>
      scopeSpans.spans.map((span) => ({ service, span, attributes: toAttributeMap(span.attributes) })),
    );
  });
}

/** Polls `check` until it returns true or the timeout passes; returns the last result. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return check();
}
