import { describe, expect, it } from 'vitest';
import { formatAttributeValue, toAttributeMap } from '../../../../collector/otlp/attribute-values.js';
import type { OtlpAnyValue } from '../../../../collector/otlp/types.js';

const str = (value: string): OtlpAnyValue => ({ type: 'string', value });
const int = (value: bigint): OtlpAnyValue => ({ type: 'int', value });
const double = (value: number): OtlpAnyValue => ({ type: 'double', value });

describe('formatAttributeValue', () => {
  const cases: [string, OtlpAnyValue, string][] = [
    ['empty value', { type: 'empty' }, ''],
    ['string', str('B-07 <bin>'), 'B-07 <bin>'],
    ['true', { type: 'bool', value: true }, 'true'],
    ['false', { type: 'bool', value: false }, 'false'],
    ['int64 max', int(9223372036854775807n), '9223372036854775807'],
    ['negative int', int(-42n), '-42'],
    ['double', double(12.5), '12.5'],
    ['integral double', double(3), '3'],
    ['tiny double', double(1e-7), '1e-7'],
    ['huge double', double(1e21), '1e+21'],
    ['negative zero', double(-0), '-0'],
    ['NaN', double(Number.NaN), 'json: unsupported value: NaN'],
    ['infinity', double(Number.POSITIVE_INFINITY), 'json: unsupported value: +Inf'],
    ['negative infinity', double(Number.NEGATIVE_INFINITY), 'json: unsupported value: -Inf'],
    ['bytes', { type: 'bytes', value: new Uint8Array([0xde, 0xad, 0xbe, 0xef]) }, '3q2+7w=='],
    [
      'mixed array',
      {
        type: 'array',
        values: [str('a'), int(1n), double(2.5), { type: 'bool', value: true }, { type: 'empty' }],
      },
      '["a",1,2.5,true,null]',
    ],
    [
      'kvlist with sorted keys',
      {
        type: 'kvlist',
        values: [
          { key: 'zone', value: str('z') },
          { key: 'bin', value: { type: 'bytes', value: new Uint8Array([1]) } },
          { key: 'nested', value: { type: 'array', values: [int(7n)] } },
        ],
      },
      '{"bin":"AQ==","nested":[7],"zone":"z"}',
    ],
    ['escaped string in array', { type: 'array', values: [str('a"b\\c\n\u0001<&>\u2028')] }, '["a\\"b\\\\c\\n\\u0001<&>\\u2028"]'],
    ['lone surrogate in array', { type: 'array', values: [str('x\ud800y')] }, '["x\ufffdy"]'],
    ['NaN inside array', { type: 'array', values: [double(Number.NaN)] }, ''],
  ];

  it.each(cases)('formats %s', (_name, value, expected) => {
    expect(formatAttributeValue(value)).toBe(expected);
  });
});

describe('toAttributeMap', () => {
  it('keeps the last duplicate key', () => {
    const map = toAttributeMap([
      { key: 'plant', value: str('a') },
      { key: 'plant', value: str('b') },
      { key: 'line', value: int(3n) },
    ]);
    expect(map).toEqual({ plant: 'b', line: '3' });
  });

  it('stores a __proto__ key', () => {
    const map = toAttributeMap([{ key: '__proto__', value: str('x') }]);
    expect(Object.keys(map)).toEqual(['__proto__']);
    expect(JSON.stringify(map)).toBe('{"__proto__":"x"}');
  });
});
