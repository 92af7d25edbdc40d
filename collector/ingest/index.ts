export {
  createBatcher,
  createClosedError,
  FLUSH_INTERVAL_MS,
  MAX_BATCH_BYTES,
  MAX_BATCH_ROWS,
  MAX_QUEUED_BYTES,
  MAX_QUEUED_ROWS,
  QUEUE_FULL_RETRY_AFTER_SECONDS,
  type Batcher,
  type BatcherOptions,
  type DeliverBatch,
} from './batcher.js';
export { computeCrc32, computeCrc32WithTable } from './crc32.js';
export {
  createBatchDelivery,
  INSERT_LANES,
  MAX_BATCHES_WAITING_FOR_LANE,
  REPLAY_RETRY_INITIAL_MS,
  REPLAY_RETRY_MAX_MS,
  type BatchDelivery,
  type BatchDeliveryOptions,
} from './delivery.js';
export {
  openIngest,
  SPOOL_DIRECTORY_NAME,
  type EncodedRowWriter,
  type Ingest,
  type IngestLimits,
  type IngestOptions,
  type TableRowWriter,
} from './ingest.js';
export { classifyInsertError, type InsertFailure } from './insert-error.js';
export {
  buildInsertStatement,
  createClientBatchInserter,
  DEFAULT_INSERT_FORMAT,
  type BatchInserter,
  type EncodedBatch,
  type EncodedRows,
  type InsertFormat,
} from './insert-batch.js';
export {
  encodeRowBinaryHeader,
  RowBinaryWriter,
  splitRowBinaryRows,
  type RowBinaryColumn,
  type RowBinaryRows,
} from './row-binary.js';
export {
  encodeSpoolRecord,
  MAX_RECORD_PAYLOAD_BYTES,
  measureEncodedRecord,
  readDeclaredRowCount,
  readSpoolRecord,
  RECORD_HEADER_BYTES,
  type ReadRecordResult,
  type SpoolRecord,
} from './spool-record.js';
export {
  MAX_SPOOL_BYTES,
  openSpool,
  SEGMENT_MAX_BYTES,
  SPOOL_CACHE_MAX_BYTES,
  SPOOL_FULL_RETRY_AFTER_SECONDS,
  SPOOL_WRITE_FAILED_RETRY_AFTER_SECONDS,
  type OpenSpoolFile,
  type SpooledBatch,
  type Spool,
  type SpoolOpenReport,
  type SpoolOptions,
} from './spool.js';
