/**
 * The collector's error catalogue. Each entry has a stable code, a message
 * template with `{name}` placeholders and the HTTP status the receiver
 * responds with. A retired entry's code must not be given to a new entry.
 */
export interface CollectorErrorDefinition {
  code: `COLLECTOR_ERR_${string}`;
  messageTemplate: string;
  httpStatus: number;
  /** `google.rpc.Code` carried in the `google.rpc.Status` response body. */
  rpcCode: number;
}

/** `google.rpc.Code` values used by the catalogue. */
export const RPC_CODE = {
  invalidArgument: 3,
  deadlineExceeded: 4,
  notFound: 5,
  unimplemented: 12,
  unauthenticated: 16,
  resourceExhausted: 8,
  internal: 13,
  unavailable: 14,
} as const;

export const COLLECTOR_ERRORS = {
  unsupportedContentType: {
    code: 'COLLECTOR_ERR_UNSUPPORTED_CONTENT_TYPE',
    messageTemplate:
      'unsupported Content-Type "{contentType}": expected application/x-protobuf or application/json',
    httpStatus: 415,
    rpcCode: RPC_CODE.invalidArgument,
  },
  unsupportedContentEncoding: {
    code: 'COLLECTOR_ERR_UNSUPPORTED_CONTENT_ENCODING',
    messageTemplate:
      'unsupported Content-Encoding "{contentEncoding}": expected gzip or identity',
    httpStatus: 415,
    rpcCode: RPC_CODE.invalidArgument,
  },
  bodyTooLarge: {
    code: 'COLLECTOR_ERR_BODY_TOO_LARGE',
    messageTemplate: 'request body is larger than the limit of {maxBodyBytes} bytes',
    httpStatus: 413,
    rpcCode: RPC_CODE.resourceExhausted,
  },
  decompressedBodyTooLarge: {
    code: 'COLLECTOR_ERR_DECOMPRESSED_BODY_TOO_LARGE',
    messageTemplate:
      'request body is larger than the limit of {maxBodyBytes} bytes after gzip decompression',
    httpStatus: 413,
    rpcCode: RPC_CODE.resourceExhausted,
  },
  invalidGzip: {
    code: 'COLLECTOR_ERR_INVALID_GZIP',
    messageTemplate: 'request body is not a valid gzip stream: {reason}',
    httpStatus: 400,
    rpcCode: RPC_CODE.invalidArgument,
  },
  invalidProtobuf: {
    code: 'COLLECTOR_ERR_INVALID_PROTOBUF',
    messageTemplate: 'request body is not a valid protobuf ExportTraceServiceRequest: {reason}',
    httpStatus: 400,
    rpcCode: RPC_CODE.invalidArgument,
  },
  invalidJson: {
    code: 'COLLECTOR_ERR_INVALID_JSON',
    messageTemplate: 'request body is not valid JSON: {reason}',
    httpStatus: 400,
    rpcCode: RPC_CODE.invalidArgument,
  },
  invalidJsonField: {
    code: 'COLLECTOR_ERR_INVALID_JSON_FIELD',
    messageTemplate: 'invalid value at {field}: expected {expected}, received {received}',
    httpStatus: 400,
    rpcCode: RPC_CODE.invalidArgument,
  },
  nestingTooDeep: {
    code: 'COLLECTOR_ERR_NESTING_TOO_DEEP',
    messageTemplate: 'request nests too deep at {field}: expected at most {maxDepth} {levels}',
    httpStatus: 400,
    rpcCode: RPC_CODE.invalidArgument,
  },
  bodyTimeout: {
    code: 'COLLECTOR_ERR_BODY_TIMEOUT',
    messageTemplate: 'the request body did not arrive within {seconds} s',
    httpStatus: 408,
    rpcCode: RPC_CODE.deadlineExceeded,
  },
  requestAborted: {
    code: 'COLLECTOR_ERR_REQUEST_ABORTED',
    messageTemplate: 'the client closed the connection before the body was complete',
    httpStatus: 400,
    rpcCode: RPC_CODE.invalidArgument,
  },
  signalNotSupported: {
    code: 'COLLECTOR_ERR_SIGNAL_NOT_SUPPORTED',
    messageTemplate: '{path} is not served: syncwatch receives traces only, at /v1/traces',
    httpStatus: 404,
    rpcCode: RPC_CODE.unimplemented,
  },
  routeNotFound: {
    code: 'COLLECTOR_ERR_ROUTE_NOT_FOUND',
    messageTemplate: 'no route {method} {path}: OTLP traces are sent with POST /v1/traces',
    httpStatus: 404,
    rpcCode: RPC_CODE.notFound,
  },
  invalidRequest: {
    code: 'COLLECTOR_ERR_INVALID_REQUEST',
    messageTemplate: 'invalid request: {reason}',
    httpStatus: 400,
    rpcCode: RPC_CODE.invalidArgument,
  },
  unauthenticated: {
    code: 'COLLECTOR_ERR_UNAUTHENTICATED',
    messageTemplate:
      'missing or unknown ingest token ({problem}): send Authorization: Bearer <token> with a token from collector.otlp.tokens',
    httpStatus: 401,
    rpcCode: RPC_CODE.unauthenticated,
  },
  internalError: {
    code: 'COLLECTOR_ERR_INTERNAL',
    messageTemplate: 'internal error while handling the request: {reason}',
    httpStatus: 500,
    rpcCode: RPC_CODE.internal,
  },
  invalidSpan: {
    code: 'COLLECTOR_ERR_INVALID_SPAN',
    messageTemplate: 'rejected {rejectedSpans} of {totalSpans} spans: {reasons}',
    // Reported inside a 200 response as OTLP partial success.
    httpStatus: 200,
    rpcCode: RPC_CODE.invalidArgument,
  },
  writerOverloaded: {
    code: 'COLLECTOR_ERR_WRITER_OVERLOADED',
    messageTemplate:
      'trace writer is at its limit of {maxInFlightInserts} inserts in flight: retry after {retryAfterSeconds} s',
    httpStatus: 429,
    rpcCode: RPC_CODE.resourceExhausted,
  },
  storeUnavailable: {
    code: 'COLLECTOR_ERR_STORE_UNAVAILABLE',
    messageTemplate:
      'insert into {table} failed: {reason}: retry after {retryAfterSeconds} s',
    httpStatus: 503,
    rpcCode: RPC_CODE.unavailable,
  },
  ingestQueueBytesFull: {
    code: 'COLLECTOR_ERR_INGEST_QUEUE_BYTES_FULL',
    messageTemplate:
      'ingest queue for {table} holds {queuedBytes} bytes and cannot take {bytes} more within its limit of {maxQueuedBytes}: retry after {retryAfterSeconds} s',
    httpStatus: 429,
    rpcCode: RPC_CODE.resourceExhausted,
  },
  ingestQueueFull: {
    code: 'COLLECTOR_ERR_INGEST_QUEUE_FULL',
    messageTemplate:
      'ingest queue for {table} holds {queuedRows} rows and cannot take {rows} more within its limit of {maxQueuedRows}: retry after {retryAfterSeconds} s',
    httpStatus: 429,
    rpcCode: RPC_CODE.resourceExhausted,
  },
  spoolFull: {
    code: 'COLLECTOR_ERR_SPOOL_FULL',
    messageTemplate:
      'disk spool for {table} holds {spoolBytes} bytes and cannot take {recordBytes} more within its limit of {maxSpoolBytes} bytes until the store catches up: retry after {retryAfterSeconds} s',
    httpStatus: 429,
    rpcCode: RPC_CODE.resourceExhausted,
  },
  spoolWriteFailed: {
    code: 'COLLECTOR_ERR_SPOOL_WRITE_FAILED',
    messageTemplate:
      'writing {rows} rows for {table} to the disk spool failed: {reason}: retry after {retryAfterSeconds} s',
    httpStatus: 503,
    rpcCode: RPC_CODE.unavailable,
  },
  ingestClosed: {
    code: 'COLLECTOR_ERR_INGEST_CLOSED',
    messageTemplate: 'ingest for {table} is shutting down: retry after {retryAfterSeconds} s',
    httpStatus: 503,
    rpcCode: RPC_CODE.unavailable,
  },
} as const satisfies Record<string, CollectorErrorDefinition>;

export type CollectorErrorName = keyof typeof COLLECTOR_ERRORS;

/** Values substituted into a message template. */
export type MessageParams = Record<string, string | number | bigint>;

/** Details a receiver needs beyond code and message. */
export interface CollectorErrorOptions {
  cause?: unknown;
  /** Seconds a client should wait before retrying, sent as `Retry-After`. */
  retryAfterSeconds?: number;
  /** Path of the offending field in the request, for `google.rpc.BadRequest`. */
  field?: string;
}

/** An error from the catalogue, with its stable code and HTTP status. */
export class CollectorError extends Error {
  readonly code: CollectorErrorDefinition['code'];
  readonly httpStatus: number;
  readonly rpcCode: number;
  readonly retryAfterSeconds: number | undefined;
  readonly field: string | undefined;

  constructor(
    definition: CollectorErrorDefinition,
    params: MessageParams = {},
    options: CollectorErrorOptions = {},
  ) {
    super(formatMessage(definition.messageTemplate, params), { cause: options.cause });
    this.name = 'CollectorError';
    this.code = definition.code;
    this.httpStatus = definition.httpStatus;
    this.rpcCode = definition.rpcCode;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.field = options.field;
  }
}

/** Creates the catalogue error `name` with its message filled in. */
export function createCollectorError(
  name: CollectorErrorName,
  params: MessageParams = {},
  options: CollectorErrorOptions = {},
): CollectorError {
  return new CollectorError(COLLECTOR_ERRORS[name], params, options);
}

/** Replaces each `{name}` in `template`; unknown placeholders stay as written. */
export function formatMessage(template: string, params: MessageParams): string {
  return template.replace(/\{(\w+)\}/g, (placeholder, key: string) => {
    const value = params[key];
    return value === undefined ? placeholder : String(value);
  });
}

/** Returns true when `error` is a catalogue error, optionally of one kind. */
export function isCollectorError(error: unknown, name?: CollectorErrorName): error is CollectorError {
  if (!(error instanceof CollectorError)) return false;
  return name === undefined || error.code === COLLECTOR_ERRORS[name].code;
}
