import { computeCrc32 } from './crc32.js';
import { DEFAULT_INSERT_FORMAT, type InsertFormat } from './insert-batch.js';

/**
 * One batch as the spool stores it: the id that makes its replay idempotent,
 * its row count, the insert body and its format (JSONEachRow when absent).
 */
export interface SpoolRecord {
  batchId: string;
  rowCount: number;
  body: Buffer;
  format?: InsertFormat;
}

/**
 * Bytes before the payload: payload length and CRC-32 of the payload, both
 * unsigned 32-bit little-endian.
 */
export const RECORD_HEADER_BYTES = 8;

/**
 * Version byte at the start of each payload. Version 1 records hold
 * JSONEachRow bodies, and JSONEachRow records are still written that way.
 * Version 2 records name their format in one more byte after the version.
 */
const PAYLOAD_VERSION_JSON = 1;
const PAYLOAD_VERSION_WITH_FORMAT = 2;

/** Format codes of version 2 records, indexed by code. Codes are stored on disk, so only append. */
const FORMAT_CODES: readonly InsertFormat[] = ['JSONEachRow', 'RowBinaryWithNamesAndTypes'];

/** Payload bytes before the batch id length: version (1), and in version 2 the format code (1). */
function measureVersionBytes(version: number): number {
  return version === PAYLOAD_VERSION_WITH_FORMAT ? 2 : 1;
}

/** Batch id length field. */
const BATCH_ID_LENGTH_BYTES = 2;

/** Smallest payload prefix, of a version 1 record: version (1), batch id length (2). */
const PAYLOAD_PREFIX_BYTES = 3;

/** Row count field after the batch id. */
const ROW_COUNT_BYTES = 4;

/** Largest payload a record may declare; a larger length is treated as corruption. */
export const MAX_RECORD_PAYLOAD_BYTES = 1024 * 1024 * 1024;

/**
 * Encodes a record as the buffers to append, in order: header, payload
 * prefix, body. The body is not copied.
 */
export function encodeSpoolRecord(record: SpoolRecord): Buffer[] {
  const batchId = Buffer.from(record.batchId, 'utf8');
  const format = record.format ?? DEFAULT_INSERT_FORMAT;
  const version = format === 'JSONEachRow' ? PAYLOAD_VERSION_JSON : PAYLOAD_VERSION_WITH_FORMAT;
  const idOffset = measureVersionBytes(version) + BATCH_ID_LENGTH_BYTES;
  const prefix = Buffer.allocUnsafe(idOffset + batchId.length + ROW_COUNT_BYTES);
  prefix.writeUInt8(version, 0);
  if (version === PAYLOAD_VERSION_WITH_FORMAT) prefix.writeUInt8(FORMAT_CODES.indexOf(format), 1);
  prefix.writeUInt16LE(batchId.length, idOffset - BATCH_ID_LENGTH_BYTES);
  batchId.copy(prefix, idOffset);
  prefix.writeUInt32LE(record.rowCount, idOffset + batchId.length);

  const payloadLength = prefix.length + record.body.length;
  if (payloadLength > MAX_RECORD_PAYLOAD_BYTES) {
    throw new RangeError(`spool record payload of ${payloadLength} bytes exceeds the limit of ${MAX_RECORD_PAYLOAD_BYTES} bytes`);
  }
  const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  header.writeUInt32LE(payloadLength, 0);
  header.writeUInt32LE(computeCrc32(record.body, computeCrc32(prefix)), 4);
  return [header, prefix, record.body];
}

/** Total bytes `encodeSpoolRecord` produces for a record. */
export function measureEncodedRecord(buffers: readonly Buffer[]): number {
  return buffers.reduce((total, buffer) => total + buffer.length, 0);
}

/** Result of reading one record at an offset of a segment. */
export type ReadRecordResult =
  | { kind: 'record'; record: SpoolRecord; byteLength: number }
  /** The bytes end before the record does: a write that a crash cut short. */
  | { kind: 'truncated' }
  /** The length, checksum or layout is wrong. */
  | { kind: 'corrupt'; reason: string };

/**
 * Reads the record starting at `offset` of `data`. The body of the returned
 * record is a view into `data`, not a copy.
 */
export function readSpoolRecord(data: Buffer, offset: number): ReadRecordResult {
  if (data.length - offset < RECORD_HEADER_BYTES) return { kind: 'truncated' };
  const payloadLength = data.readUInt32LE(offset);
  const expectedCrc = data.readUInt32LE(offset + 4);
  if (payloadLength < PAYLOAD_PREFIX_BYTES + ROW_COUNT_BYTES || payloadLength > MAX_RECORD_PAYLOAD_BYTES) {
    return { kind: 'corrupt', reason: `invalid payload length ${payloadLength}` };
  }
  const payloadStart = offset + RECORD_HEADER_BYTES;
  if (data.length - payloadStart < payloadLength) return { kind: 'truncated' };

  const payload = data.subarray(payloadStart, payloadStart + payloadLength);
  const actualCrc = computeCrc32(payload);
  if (actualCrc !== expectedCrc) {
    return { kind: 'corrupt', reason: `CRC-32 mismatch: expected ${expectedCrc}, computed ${actualCrc}` };
  }
  return decodePayload(payload, RECORD_HEADER_BYTES + payloadLength);
}

function decodePayload(payload: Buffer, byteLength: number): ReadRecordResult {
  const version = payload.readUInt8(0);
  if (version !== PAYLOAD_VERSION_JSON && version !== PAYLOAD_VERSION_WITH_FORMAT) {
    return {
      kind: 'corrupt',
      reason: `unknown record version ${version}, expected ${PAYLOAD_VERSION_JSON} or ${PAYLOAD_VERSION_WITH_FORMAT}`,
    };
  }
  const idOffset = measureVersionBytes(version) + BATCH_ID_LENGTH_BYTES;
  if (idOffset + ROW_COUNT_BYTES > payload.length) {
    return { kind: 'corrupt', reason: `payload of ${payload.length} bytes is too short for version ${version}` };
  }
  const format = version === PAYLOAD_VERSION_WITH_FORMAT ? FORMAT_CODES[payload.readUInt8(1)] : DEFAULT_INSERT_FORMAT;
  if (!format) return { kind: 'corrupt', reason: `unknown format code ${payload.readUInt8(1)}` };
  const batchIdLength = payload.readUInt16LE(idOffset - BATCH_ID_LENGTH_BYTES);
  const rowCountOffset = idOffset + batchIdLength;
  if (rowCountOffset + ROW_COUNT_BYTES > payload.length) {
    return { kind: 'corrupt', reason: `batch id length ${batchIdLength} exceeds the payload` };
  }
  const batchId = payload.toString('utf8', idOffset, rowCountOffset);
  const rowCount = payload.readUInt32LE(rowCountOffset);
  const body = payload.subarray(rowCountOffset + ROW_COUNT_BYTES);
  return { kind: 'record', record: { batchId, rowCount, body, format }, byteLength };
}

/**
 * Reads the row count a record declares without checking its CRC, for
 * counting the rows of a record found corrupt. Returns 0 when the bytes end
 * before the field.
 */
export function readDeclaredRowCount(data: Buffer, offset: number): number {
  const prefixStart = offset + RECORD_HEADER_BYTES;
  if (data.length < prefixStart + PAYLOAD_PREFIX_BYTES) return 0;
  const idOffset = prefixStart + measureVersionBytes(data.readUInt8(prefixStart)) + BATCH_ID_LENGTH_BYTES;
  if (data.length < idOffset) return 0;
  const rowCountOffset = idOffset + data.readUInt16LE(idOffset - BATCH_ID_LENGTH_BYTES);
  if (data.length < rowCountOffset + ROW_COUNT_BYTES) return 0;
  return data.readUInt32LE(rowCountOffset);
}
