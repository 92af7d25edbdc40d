export {
  formatAttributeValue,
  toAttributeMap,
} from './attribute-values.js';
export { decodeJsonTraceRequest } from './decode-json.js';
export { decodeProtobufTraceRequest } from './decode-protobuf.js';
export {
  BAD_REQUEST_TYPE_URL,
  ERROR_INFO_TYPE_URL,
  loadOtlpProtoTypes,
  RETRY_INFO_TYPE_URL,
  type OtlpProtoTypes,
} from './proto-schema.js';
export {
  createIngestAuthenticator,
  type IngestAuthenticator,
  type IngestToken,
} from './ingest-auth.js';
export {
  ACCEPTED_CONTENT_CODINGS,
  parseContentEncoding,
  parseOtlpContentType,
  readRequestBody,
  type ContentCoding,
  type ReadBodyOptions,
} from './read-body.js';
export {
  DEFAULT_MAX_BODY_BYTES,
  OTLP_TRACES_PATH,
  registerOtlpReceiver,
  type OtlpReceiverOptions,
} from './receiver.js';
export {
  CONTENT_TYPE_BY_ENCODING,
  encodeErrorStatus,
  ERROR_INFO_DOMAIN,
  encodeExportResponse,
  type OtlpEncoding,
  type PartialSuccess,
} from './responses.js';
export {
  findSpanProblem,
  formatDateTime64,
  mapSpansToRows,
  selectStorableSpans,
  toTraceRows,
  type OtelTraceRow,
  type StorableSpans,
  type TraceSpans,
  type TraceRowsResult,
} from './to-trace-rows.js';
export { encodeTraceRowBinary, TRACE_ROW_BINARY_COLUMNS } from './trace-row-binary.js';
export type {
  OtlpAnyValue,
  OtlpInstrumentationScope,
  OtlpKeyValue,
  OtlpResource,
  OtlpResourceSpans,
  OtlpScopeSpans,
  OtlpSpan,
  OtlpSpanEvent,
  OtlpSpanLink,
  OtlpStatus,
  OtlpTraceRequest,
} from './types.js';
