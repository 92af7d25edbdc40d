import { Readable } from 'node:stream';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { SyncwatchMetrics } from '../../server/metrics.js';
import { COLLECTOR_ERRORS, CollectorError, createCollectorError, isCollectorError } from '../errors.js';
import type { TraceWriter } from '../trace-writer.js';
import { OTEL_TRACES_TABLE, STORE_UNAVAILABLE_RETRY_AFTER_SECONDS } from '../trace-writer.js';
import { decodeJsonTraceRequest } from './decode-json.js';
import { decodeProtobufTraceRequest } from './decode-protobuf.js';
import { createIngestAuthenticator, type IngestToken } from './ingest-auth.js';
import {
  ACCEPTED_CONTENT_CODINGS,
  parseContentEncoding,
  parseOtlpContentType,
  readRequestBody,
} from './read-body.js';
import {
  CONTENT_TYPE_BY_ENCODING,
  encodeErrorStatus,
  encodeExportResponse,
  type OtlpEncoding,
} from './responses.js';
import { selectStorableSpans } from './to-trace-rows.js';
import { transcodeProtobufTraces } from './transcode-protobuf.js';
import type { OtlpTraceRequest } from './types.js';

/** Default body limit, before and after decompression: 8 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

export const OTLP_TRACES_PATH = '/v1/traces';

/** Time a client has to send one request body, in milliseconds. */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;

/** Paths of the other OTLP/HTTP signals, which syncwatch does not receive. */
const OTHER_SIGNAL_PATHS = new Set(['/v1/metrics', '/v1/logs', '/v1development/profiles']);

/** Instrumentation scope of the receiver's spans, recorded when self-tracing is on and dropped otherwise. */
const TRACER_NAME = 'syncwatch.collector';

export interface OtlpReceiverOptions {
  /** Store for accepted rows. The response is sent once `write` resolves. */
  writer: TraceWriter;
  /**
   * Limit on the request body in bytes, applied to the bytes received and
   * again after gzip decompression. Default `DEFAULT_MAX_BODY_BYTES` (the
   * OTLP specification recommends 20 MiB as a default).
   */
  maxBodyBytes?: number;
  /** Time a client has to send the body, in milliseconds. Default `DEFAULT_BODY_TIMEOUT_MS`. */
  bodyTimeoutMs?: number;
  /** Logger for request outcomes. Default: the request's fastify logger. */
  logger?: FastifyBaseLogger;
  /**
   * Tokens accepted in `Authorization: Bearer <token>`. Empty or absent
   * leaves the receiver open to every client that can reach it.
   */
  tokens?: readonly IngestToken[];
  /** Counters for requests and rows. Default: nothing is recorded. */
  metrics?: SyncwatchMetrics;
}

/** A fastify instance with the default HTTP server and any pino-compatible logger. */
type HttpFastifyInstance<Logger extends FastifyBaseLogger> = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  Logger
>;

/**
 * Registers the OTLP/HTTP trace receiver (`POST /v1/traces`) as an
 * encapsulated plugin, so its raw-body content type handling does not leak
 * into the rest of `app`. The plugin is queued at once, so `listen` serves
 * the route even when the caller does not await. The returned promise
 * settles once the plugin has loaded. Throws a RangeError for an invalid
 * `maxBodyBytes`.
 */
export function registerOtlpReceiver<Logger extends FastifyBaseLogger>(
  app: HttpFastifyInstance<Logger>,
  options: OtlpReceiverOptions,
): PromiseLike<unknown> {
  const { maxBodyBytes } = options;
  if (maxBodyBytes !== undefined && !(Number.isSafeInteger(maxBodyBytes) && maxBodyBytes > 0)) {
    throw new RangeError(`maxBodyBytes must be a positive integer, received ${maxBodyBytes}`);
  }
  const authenticate = createIngestAuthenticator(options.tokens ?? []);
  return app.register(async (scope) => {
    // Every body reaches the handler as the raw stream, because the handler
    // checks the content type, the coding and the size limit itself.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    scope.setErrorHandler((error, request, reply) => {
      const encoding = parseOtlpContentType(request.headers['content-type']) ?? 'json';
      return sendError(reply, options, request, toCollectorError(error, request), encoding);
    });
    // The token is checked before the body is read, so an unknown client costs no decoding.
    scope.addHook('onRequest', async (request, reply) => {
      try {
        authenticate(request.headers.authorization);
      } catch (error) {
        reply.header('www-authenticate', 'Bearer realm="otlp"');
        throw error;
      }
    });
    // OTLP clients of other signals get a Status body that names what is served, not fastify's default.
    scope.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0] ?? request.url;
      const error = OTHER_SIGNAL_PATHS.has(path)
        ? createCollectorError('signalNotSupported', { path })
        : createCollectorError('routeNotFound', { method: request.method, path });
      return sendError(reply, options, request, error, parseOtlpContentType(request.headers['content-type']) ?? 'json');
    });
    scope.post(OTLP_TRACES_PATH, (request, reply) =>
      // Looked up per request, so a tracer provider registered after startup is used.
      trace.getTracer(TRACER_NAME).startActiveSpan(`POST ${OTLP_TRACES_PATH}`, { kind: SpanKind.SERVER }, async (span) => {
        try {
          return await handleExport(request, reply, options);
        } catch (error) {
          // The error handler sends the response after this span ends.
          span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
          throw error;
        } finally {
          span.setAttribute('http.response.status_code', reply.statusCode);
          if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        }
      }),
    );
  });
}

async function handleExport(
  request: FastifyRequest,
  reply: FastifyReply,
  options: OtlpReceiverOptions,
): Promise<FastifyReply> {
  const logger = options.logger ?? request.log;
  const contentType = request.headers['content-type'];
  const encoding = parseOtlpContentType(contentType);
  if (!encoding) {
    // The request's encoding is unknown, so the Status goes out as JSON.
    const error = createCollectorError('unsupportedContentType', { contentType: contentType ?? '(none)' });
    return sendError(reply, options, request, error, 'json');
  }

  try {
    const { acceptedSpans, rejectedSpans, errorMessage, durable } = await startExport(request, encoding, options);
    await durable;

    options.metrics?.countOtlpRequest(200, '');
    options.metrics?.countRowsAccepted(OTEL_TRACES_TABLE, acceptedSpans);
    if (rejectedSpans > 0) {
      options.metrics?.countRowsRejected(OTEL_TRACES_TABLE, COLLECTOR_ERRORS.invalidSpan.code, rejectedSpans);
      logger.info({ acceptedSpans, rejectedSpans, errorMessage }, 'otlp spans rejected');
    }
    return reply
      .code(200)
      .type(CONTENT_TYPE_BY_ENCODING[encoding])
      .send(encodeExportResponse({ rejectedSpans, errorMessage }, encoding));
  } catch (error) {
    if (!isCollectorError(error)) throw error;
    if (isCollectorError(error, 'unsupportedContentEncoding')) {
      reply.header('accept-encoding', ACCEPTED_CONTENT_CODINGS);
    }
    return sendError(reply, options, request, error, encoding);
  }
}

interface StartedExport {
  acceptedSpans: number;
  rejectedSpans: number;
  errorMessage: string;
  /** Resolves once the accepted rows are durable. */
  durable: Promise<void>;
}

/**
 * Reads a request and hands its valid spans to the writer: a protobuf body
 * as rows when the writer takes them, any other body decoded. It returns
 * before the rows are durable, so the body and the decoded request are
 * garbage once the writer has encoded them, instead of staying referenced
 * by a suspended handler until the response goes out.
 */
async function startExport(
  request: FastifyRequest,
  encoding: OtlpEncoding,
  options: OtlpReceiverOptions,
): Promise<StartedExport> {
  const body = await readExportBody(request, options);
  const { writer } = options;
  const writeRows = writer.writeRows?.bind(writer);
  let accepted: { spanCount: number; rejectedSpans: number; errorMessage: string };
  let write: () => Promise<void>;
  if (encoding === 'protobuf' && writeRows) {
    const transcoded = transcodeProtobufTraces(body);
    accepted = transcoded;
    write = () => writeRows(transcoded.rows);
  } else {
    const decoded: OtlpTraceRequest = encoding === 'protobuf' ? decodeProtobufTraceRequest(body) : decodeJsonTraceRequest(body);
    const spans = selectStorableSpans(decoded);
    accepted = spans;
    write = () => writer.write(spans);
  }
  const { spanCount, rejectedSpans, errorMessage } = accepted;
  trace.getActiveSpan()?.setAttributes({
    'syncwatch.spans.accepted': spanCount,
    'syncwatch.spans.rejected': rejectedSpans,
  });
  const durable = spanCount === 0 ? Promise.resolve() : storeRows(write);
  return { acceptedSpans: spanCount, rejectedSpans, errorMessage, durable };
}

async function readExportBody(request: FastifyRequest, options: OtlpReceiverOptions): Promise<Buffer> {
  const contentEncoding = request.headers['content-encoding'];
  const coding = parseContentEncoding(contentEncoding);
  if (!coding) {
    throw createCollectorError('unsupportedContentEncoding', { contentEncoding: contentEncoding ?? '' });
  }

  // Fastify leaves the body undefined when the request carries none.
  const stream = request.body instanceof Readable ? request.body : Readable.from([]);
  const contentLength = Number(request.headers['content-length']);
  // A client that stops sending mid-body is cut off here, with a Status body, instead of holding the socket.
  const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(createCollectorError('bodyTimeout', { seconds: bodyTimeoutMs / 1000 })), bodyTimeoutMs);
  });
  const reading = readRequestBody(stream, {
    coding,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    contentLength: Number.isFinite(contentLength) ? contentLength : undefined,
  });
  // After a timeout the read may still fail when the socket closes, and that result is ignored.
  reading.catch(() => undefined);
  try {
    return await Promise.race([reading, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Converts an error that fastify raised before the handler ran, such as its
 * own 415 for a `Content-Type` it cannot parse, so it still gets a Status body.
 */
function toCollectorError(error: unknown, request: FastifyRequest): CollectorError {
  if (isCollectorError(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  const errorCode = (error as { code?: unknown } | undefined)?.code;
  if (errorCode === 'ECONNRESET' || reason === 'aborted' || request.raw.aborted) {
    return createCollectorError('requestAborted', {}, { cause: error });
  }
  const statusCode = (error as { statusCode?: unknown } | undefined)?.statusCode;
  if (statusCode === 415) {
    const contentType = request.headers['content-type'] ?? '(none)';
    return createCollectorError('unsupportedContentType', { contentType }, { cause: error });
  }
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return createCollectorError('invalidRequest', { reason }, { cause: error, field: '' });
  }
  return createCollectorError('internalError', { reason }, { cause: error });
}

/**
 * Runs one of the writer's calls. A failure other than a catalogue error
 * counts as the store being unavailable. Not async, so that no suspended
 * call keeps the decoded request or the rows.
 */
function storeRows(write: () => Promise<void>): Promise<void> {
  let written: Promise<void>;
  try {
    written = write();
  } catch (error) {
    written = Promise.reject(error);
  }
  return written.catch((error: unknown) => {
    if (isCollectorError(error)) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw createCollectorError(
      'storeUnavailable',
      { table: 'otel_traces', reason, retryAfterSeconds: STORE_UNAVAILABLE_RETRY_AFTER_SECONDS },
      { cause: error, retryAfterSeconds: STORE_UNAVAILABLE_RETRY_AFTER_SECONDS },
    );
  });
}

function sendError(
  reply: FastifyReply,
  options: OtlpReceiverOptions,
  request: FastifyRequest,
  error: CollectorError,
  encoding: OtlpEncoding,
): FastifyReply {
  const logger = options.logger ?? request.log;
  options.metrics?.countOtlpRequest(error.httpStatus, error.code);
  trace.getActiveSpan()?.setAttribute('error.type', error.code);
  const fields = { code: error.code, statusCode: error.httpStatus, errorMessage: error.message };
  if (error.httpStatus >= 500) {
    logger.error({ ...fields, err: error.cause ?? error }, 'otlp export failed');
  } else {
    logger.info(fields, 'otlp export rejected');
  }
  if (error.retryAfterSeconds !== undefined) {
    reply.header('retry-after', String(error.retryAfterSeconds));
  }
  if (error.httpStatus === 408) {
    // The rest of the body may still arrive, so this connection cannot carry another request.
    reply.header('connection', 'close');
  }
  return reply
    .code(error.httpStatus)
    .type(CONTENT_TYPE_BY_ENCODING[encoding])
    .send(encodeErrorStatus(error, encoding));
}
