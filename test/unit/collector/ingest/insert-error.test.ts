import { describe, expect, it } from 'vitest';
import { classifyInsertError } from '../../../../collector/ingest/insert-error.js';

function makeClickHouseError(code: string, type: string, message: string): Error {
  return Object.assign(new Error(message), { code, type });
}

describe('classifyInsertError', () => {
  it('treats parse errors as permanent', () => {
    const error = makeClickHouseError('72', 'CANNOT_PARSE_NUMBER', 'Unsigned type must not contain minus sign');
    expect(classifyInsertError(error)).toEqual({ permanent: true, clickhouseCode: 72, clickhouseType: 'CANNOT_PARSE_NUMBER' });
  });

  it('treats unlisted parse names as permanent', () => {
    const error = makeClickHouseError('9999', 'CANNOT_PARSE_SOMETHING_NEW', 'cannot parse');
    expect(classifyInsertError(error).permanent).toBe(true);
  });

  it('treats too many partitions as permanent', () => {
    const error = makeClickHouseError('252', 'TOO_MANY_PARTS', 'Too many partitions for single INSERT block (more than 100).');
    expect(classifyInsertError(error).permanent).toBe(true);
  });

  it('treats too many parts as transient', () => {
    const error = makeClickHouseError('252', 'TOO_MANY_PARTS', 'Too many parts (300) in table. Merges are processing significantly slower than inserts');
    expect(classifyInsertError(error).permanent).toBe(false);
  });

  it('treats store and network failures as transient', () => {
    const failures = [
      makeClickHouseError('241', 'MEMORY_LIMIT_EXCEEDED', 'Memory limit exceeded'),
      makeClickHouseError('60', 'UNKNOWN_TABLE', 'Table default.otel_traces does not exist'),
      makeClickHouseError('159', 'TIMEOUT_EXCEEDED', 'Timeout exceeded'),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' }),
      new Error('socket hang up'),
      'not an error',
    ];
    for (const failure of failures) expect(classifyInsertError(failure).permanent).toBe(false);
  });

  it('reads the code from the message', () => {
    const error = new Error('Code: 53. DB::Exception: Type mismatch');
    expect(classifyInsertError(error)).toMatchObject({ permanent: true, clickhouseCode: 53 });
  });
});
