import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { computeCrc32, computeCrc32WithTable } from '../../../../collector/ingest/crc32.js';
import {
  encodeSpoolRecord,
  readDeclaredRowCount,
  readSpoolRecord,
  RECORD_HEADER_BYTES,
} from '../../../../collector/ingest/spool-record.js';

const RECORD = { batchId: 'lx3k-0a1b2c-7', rowCount: 2, body: Buffer.from('{"a":1}\n{"a":2}') };

describe('computeCrc32', () => {
  it('matches the check value', () => {
    // The standard CRC-32 check value of the ASCII string "123456789".
    expect(computeCrc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(computeCrc32WithTable(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('continues from a previous value', () => {
    const whole = computeCrc32WithTable(Buffer.from('hello world'));
    const continued = computeCrc32WithTable(Buffer.from('world'), computeCrc32WithTable(Buffer.from('hello ')));
    expect(continued).toBe(whole);
    expect(computeCrc32(Buffer.from('world'), computeCrc32(Buffer.from('hello ')))).toBe(whole);
  });

  it('agrees with zlib on random data', () => {
    const data = Buffer.from(Array.from({ length: 4096 }, (_, index) => (index * 7919) % 256));
    expect(computeCrc32WithTable(data)).toBe(zlib.crc32(data));
  });
});

describe('readSpoolRecord', () => {
  it('reads an encoded record back', () => {
    const data = Buffer.concat(encodeSpoolRecord(RECORD));
    const result = readSpoolRecord(data, 0);
    expect(result.kind).toBe('record');
    if (result.kind !== 'record') return;
    expect(result.record.batchId).toBe(RECORD.batchId);
    expect(result.record.rowCount).toBe(2);
    expect(result.record.body.toString()).toBe(RECORD.body.toString());
    expect(result.byteLength).toBe(data.length);
  });

  it('reads consecutive records', () => {
    const second = { batchId: 'second', rowCount: 1, body: Buffer.from('{"b":1}') };
    const data = Buffer.concat([...encodeSpoolRecord(RECORD), ...encodeSpoolRecord(second)]);
    const first = readSpoolRecord(data, 0);
    if (first.kind !== 'record') throw new Error(`expected a record, read ${first.kind}`);
    const next = readSpoolRecord(data, first.byteLength);
    expect(next.kind).toBe('record');
    if (next.kind !== 'record') return;
    expect(next.record.batchId).toBe('second');
  });

  it('reports a cut header as truncated', () => {
    const data = Buffer.concat(encodeSpoolRecord(RECORD)).subarray(0, RECORD_HEADER_BYTES - 1);
    expect(readSpoolRecord(data, 0)).toEqual({ kind: 'truncated' });
  });

  it('reports a cut payload as truncated', () => {
    const data = Buffer.concat(encodeSpoolRecord(RECORD));
    expect(readSpoolRecord(data.subarray(0, data.length - 1), 0)).toEqual({ kind: 'truncated' });
  });

  it('reports a flipped bit as corrupt', () => {
    const data = Buffer.concat(encodeSpoolRecord(RECORD));
    data[data.length - 3]! ^= 0x01;
    const result = readSpoolRecord(data, 0);
    expect(result.kind).toBe('corrupt');
    if (result.kind !== 'corrupt') return;
    expect(result.reason).toMatch(/^CRC-32 mismatch/);
  });

  it('reports zero bytes as corrupt', () => {
    const result = readSpoolRecord(Buffer.alloc(64), 0);
    expect(result).toEqual({ kind: 'corrupt', reason: 'invalid payload length 0' });
  });

  it('reads the declared row count', () => {
    const data = Buffer.concat(encodeSpoolRecord(RECORD));
    data[data.length - 1]! ^= 0xff;
    expect(readDeclaredRowCount(data, 0)).toBe(2);
    expect(readDeclaredRowCount(data.subarray(0, 10), 0)).toBe(0);
  });

  it('keeps version 1 for JSONEachRow', () => {
    const data = Buffer.concat(encodeSpoolRecord({ ...RECORD, format: 'JSONEachRow' }));
    expect(data.equals(Buffer.concat(encodeSpoolRecord(RECORD)))).toBe(true);
    expect(data[RECORD_HEADER_BYTES]).toBe(1);
    const result = readSpoolRecord(data, 0);
    if (result.kind !== 'record') throw new Error(`expected a record, read ${result.kind}`);
    expect(result.record.format).toBe('JSONEachRow');
  });

  it('reads a RowBinary record back', () => {
    const body = Buffer.from([0x02, 0x00, 0xff, 0x0a, 0x00]);
    const data = Buffer.concat(encodeSpoolRecord({ batchId: 'rb-1', rowCount: 3, body, format: 'RowBinaryWithNamesAndTypes' }));
    expect(data[RECORD_HEADER_BYTES]).toBe(2);
    const result = readSpoolRecord(data, 0);
    if (result.kind !== 'record') throw new Error(`expected a record, read ${result.kind}`);
    expect(result.record.format).toBe('RowBinaryWithNamesAndTypes');
    expect(result.record.batchId).toBe('rb-1');
    expect(result.record.rowCount).toBe(3);
    expect(result.record.body.equals(body)).toBe(true);
    expect(result.byteLength).toBe(data.length);
    expect(readDeclaredRowCount(data, 0)).toBe(3);
  });

  it('reads a record written before formats', () => {
    // The version 1 layout, written out byte by byte: version, id length, id, row count, body.
    const body = Buffer.from('{"a":1}');
    const prefix = Buffer.from([1, 2, 0, ...Buffer.from('v1'), 1, 0, 0, 0]);
    const header = Buffer.alloc(RECORD_HEADER_BYTES);
    header.writeUInt32LE(prefix.length + body.length, 0);
    header.writeUInt32LE(computeCrc32(Buffer.concat([prefix, body])), 4);
    const result = readSpoolRecord(Buffer.concat([header, prefix, body]), 0);
    if (result.kind !== 'record') throw new Error(`expected a record, read ${result.kind}`);
    expect(result.record.batchId).toBe('v1');
    expect(result.record.rowCount).toBe(1);
    expect(result.record.format).toBe('JSONEachRow');
    expect(result.record.body.toString()).toBe('{"a":1}');
  });
});
