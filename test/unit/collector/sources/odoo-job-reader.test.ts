import { describe, expect, it } from 'vitest';
import { formatOdooDatetime, parseOdooDatetime } from '../../../../collector/sources/index.js';

describe('parseOdooDatetime', () => {
  it('reads naive datetimes as UTC', () => {
    expect(parseOdooDatetime('2026-03-01 06:30:15')).toBe(Date.UTC(2026, 2, 1, 6, 30, 15));
  });

  it('keeps fractions of a second', () => {
    expect(parseOdooDatetime('2026-03-01 06:30:15.250')).toBe(Date.UTC(2026, 2, 1, 6, 30, 15, 250));
  });

  it.each([false, null, '', '2026-03-01T06:30:15Z', '2026-03-01', 1_700_000_000])('rejects non-Odoo value %j', (value) => {
    expect(parseOdooDatetime(value)).toBeUndefined();
  });
});

describe('formatOdooDatetime', () => {
  it('drops the fraction of a second', () => {
    expect(formatOdooDatetime(Date.UTC(2026, 11, 31, 23, 59, 59, 999))).toBe('2026-12-31 23:59:59');
  });

  it('round-trips with the parser', () => {
    const ms = Date.UTC(2027, 0, 2, 3, 4, 5);
    expect(parseOdooDatetime(formatOdooDatetime(ms))).toBe(ms);
  });
});
