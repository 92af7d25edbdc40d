import { describe, expect, it } from 'vitest';
import {
  COLLECTOR_ERRORS,
  CollectorError,
  createCollectorError,
  formatMessage,
  isCollectorError,
} from '../../../collector/errors.js';

describe('collector error catalogue', () => {
  const definitions = Object.values(COLLECTOR_ERRORS);

  it('has unique codes', () => {
    const codes = definitions.map((definition) => definition.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('prefixes every code', () => {
    for (const { code } of definitions) {
      expect(code).toMatch(/^COLLECTOR_ERR_[A-Z0-9_]+$/);
    }
  });

  it('uses HTTP statuses', () => {
    for (const { httpStatus } of definitions) {
      expect(httpStatus).toBeGreaterThanOrEqual(200);
      expect(httpStatus).toBeLessThan(600);
    }
  });
});

describe('createCollectorError', () => {
  it('fills the message template', () => {
    const error = createCollectorError('bodyTooLarge', { maxBodyBytes: 1024 });
    expect(error).toBeInstanceOf(CollectorError);
    expect(error.message).toBe('request body is larger than the limit of 1024 bytes');
    expect(error.code).toBe('COLLECTOR_ERR_BODY_TOO_LARGE');
    expect(error.httpStatus).toBe(413);
  });

  it('keeps cause and retry delay', () => {
    const cause = new Error('connect ECONNREFUSED');
    const error = createCollectorError(
      'storeUnavailable',
      { table: 'otel_traces', reason: cause.message, retryAfterSeconds: 5 },
      { cause, retryAfterSeconds: 5 },
    );
    expect(error.cause).toBe(cause);
    expect(error.retryAfterSeconds).toBe(5);
    expect(error.message).toBe('insert into otel_traces failed: connect ECONNREFUSED: retry after 5 s');
  });

  it('matches by catalogue name', () => {
    const error = createCollectorError('invalidJson', { reason: 'x' });
    expect(isCollectorError(error)).toBe(true);
    expect(isCollectorError(error, 'invalidJson')).toBe(true);
    expect(isCollectorError(error, 'invalidGzip')).toBe(false);
    expect(isCollectorError(new Error('x'))).toBe(false);
  });
});

describe('formatMessage', () => {
  it('leaves unknown placeholders', () => {
    expect(formatMessage('{a} and {b}', { a: 1 })).toBe('1 and {b}');
  });
});
