export {
  COLLECTOR_ERRORS,
  CollectorError,
  createCollectorError,
  formatMessage,
  isCollectorError,
  RPC_CODE,
  type CollectorErrorDefinition,
  type CollectorErrorName,
  type CollectorErrorOptions,
  type MessageParams,
} from './errors.js';
export {
  DEFAULT_MAX_BODY_BYTES,
  OTLP_TRACES_PATH,
  registerOtlpReceiver,
  toTraceRows,
  type OtelTraceRow,
  type OtlpReceiverOptions,
} from './otlp/index.js';
export {
  createClientBatchInserter,
  openIngest,
  type BatchInserter,
  type Ingest,
  type IngestLimits,
  type IngestOptions,
  type TableRowWriter,
} from './ingest/index.js';
export {
  createBatchedTraceWriter,
  createTraceWriter,
  MAX_IN_FLIGHT_INSERTS,
  OTEL_TRACES_TABLE,
  OVERLOAD_RETRY_AFTER_SECONDS,
  STORE_UNAVAILABLE_RETRY_AFTER_SECONDS,
  type TraceWriter,
  type TraceWriterOptions,
} from './trace-writer.js';
