import { describe, expect, it } from 'vitest';
import { MACRO_ERROR_CODE, expandMacros, type MacroContext } from '../../../dashboards/index.js';

const CONTEXT: MacroContext = {
  from: new Date('2026-03-01T10:00:00.900Z'),
  to: new Date('2026-03-01T11:00:00Z'),
  intervalSeconds: 30,
  variables: { plant: ['plant-a', "o'hara"], integration: ['odoo-mes'] },
};

describe('expandMacros', () => {
  it('expands the time filter', () => {
    expect(expandMacros('WHERE $__timeFilter(observed_at)', CONTEXT)).toBe(
      'WHERE observed_at >= toDateTime(1772359200) AND observed_at <= toDateTime(1772362800)',
    );
  });

  it('expands from and to times', () => {
    expect(expandMacros('$__fromTime, $__toTime', CONTEXT)).toBe('toDateTime(1772359200), toDateTime(1772362800)');
  });

  it('expands the interval in seconds', () => {
    expect(expandMacros('INTERVAL $__interval_s second', CONTEXT)).toBe('INTERVAL 30 second');
    expect(expandMacros('$__interval_s', { ...CONTEXT, intervalSeconds: 0.2 })).toBe('1');
  });

  it('quotes variables with singlequote', () => {
    expect(expandMacros('plant IN (${plant:singlequote})', CONTEXT)).toBe("plant IN ('plant-a','o\\'hara')");
  });

  it('joins plain variables', () => {
    expect(expandMacros('${plant} $integration', CONTEXT)).toBe("plant-a,o'hara odoo-mes");
  });

  it('rejects unknown variables', () => {
    expect(() => expandMacros('${workflow}', CONTEXT)).toThrow(MACRO_ERROR_CODE);
  });

  it('rejects unknown formats', () => {
    expect(() => expandMacros('${plant:csv}', CONTEXT)).toThrow(MACRO_ERROR_CODE);
  });
});
