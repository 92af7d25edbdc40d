import { describe, expect, it } from 'vitest';
import {
  ExpositionParseError,
  isCounterSample,
  parseExposition,
} from '../../../../collector/sources/prometheus-text.js';

describe('parseExposition', () => {
  it('reads help, type and samples', () => {
    const exposition = parseExposition(
      [
        '# HELP mes_orders_waiting Orders waiting for the MES.\\nSecond line with a backslash \\\\.',
        '# TYPE mes_orders_waiting gauge',
        'mes_orders_waiting{plant="hamburg",line="2"} 17',
        'mes_orders_waiting{plant="bremen",line="1"} 3.5e+01 1700000000123',
        '',
      ].join('\n'),
    );

    expect(exposition.families.get('mes_orders_waiting')).toEqual({
      type: 'gauge',
      help: 'Orders waiting for the MES.\nSecond line with a backslash \\.',
    });
    expect(exposition.samples).toHaveLength(2);
    expect(exposition.samples[0]).toEqual({
      name: 'mes_orders_waiting',
      family: 'mes_orders_waiting',
      type: 'gauge',
      labels: { plant: 'hamburg', line: '2' },
      value: 17,
    });
    expect(exposition.samples[1]?.value).toBe(35);
    expect(exposition.samples[1]?.timestampMs).toBe(1_700_000_000_123);
  });

  it('unescapes label values', () => {
    const { samples } = parseExposition('edi_errors{partner="ACME \\"North\\"",path="C:\\\\edi",note="a\\nb",} 1');

    expect(samples[0]?.labels).toEqual({ partner: 'ACME "North"', path: 'C:\\edi', note: 'a\nb' });
  });

  it('keeps commas and braces in values', () => {
    const { samples } = parseExposition('x{query="a,b}c", other = "d"} 2');

    expect(samples[0]?.labels).toEqual({ query: 'a,b}c', other: 'd' });
    expect(samples[0]?.value).toBe(2);
  });

  it('reads special float values', () => {
    const { samples } = parseExposition(['a NaN', 'b +Inf', 'c -Inf', 'd -0.5', 'e .5', 'f 1E3'].join('\n'));

    expect(samples[0]?.value).toBeNaN();
    expect(samples[1]?.value).toBe(Number.POSITIVE_INFINITY);
    expect(samples[2]?.value).toBe(Number.NEGATIVE_INFINITY);
    expect(samples[3]?.value).toBe(-0.5);
    expect(samples[4]?.value).toBe(0.5);
    expect(samples[5]?.value).toBe(1000);
  });

  it('assigns histogram and summary suffixes', () => {
    const { samples } = parseExposition(
      [
        '# TYPE rpc_seconds histogram',
        'rpc_seconds_bucket{le="0.5"} 3',
        'rpc_seconds_bucket{le="+Inf"} 4',
        'rpc_seconds_sum 1.25',
        'rpc_seconds_count 4',
        '# TYPE job_seconds summary',
        'job_seconds{quantile="0.99"} 8',
        'job_seconds_sum 20',
        'job_seconds_count 5',
        'unrelated_count 9',
      ].join('\n'),
    );

    const families = samples.map((sample) => [sample.name, sample.family, sample.type]);
    expect(families).toEqual([
      ['rpc_seconds_bucket', 'rpc_seconds', 'histogram'],
      ['rpc_seconds_bucket', 'rpc_seconds', 'histogram'],
      ['rpc_seconds_sum', 'rpc_seconds', 'histogram'],
      ['rpc_seconds_count', 'rpc_seconds', 'histogram'],
      ['job_seconds', 'job_seconds', 'summary'],
      ['job_seconds_sum', 'job_seconds', 'summary'],
      ['job_seconds_count', 'job_seconds', 'summary'],
      ['unrelated_count', 'unrelated_count', 'untyped'],
    ]);
    expect(samples[1]?.labels.le).toBe('+Inf');
  });

  it('ignores other comments and CRLF', () => {
    const { samples, families } = parseExposition('# a plain comment\r\n# EOF\r\nup 1\r\n');

    expect(families.size).toBe(0);
    expect(samples).toHaveLength(1);
    expect(samples[0]?.value).toBe(1);
  });

  it.each([
    ['value missing', 'up', 1],
    ['bad value', 'up one', 1],
    ['bad timestamp', 'up 1 12.5', 1],
    ['too many fields', 'up 1 2 3', 1],
    ['unterminated label', 'up{a="b} 1', 1],
    ['bad escape', 'up{a="\\t"} 1', 1],
    ['duplicate label', 'up{a="1",a="2"} 1', 1],
    ['missing comma', 'up{a="1" b="2"} 1', 1],
    ['unknown type', '# TYPE up meter', 1],
    ['bad line later', 'up 1\n!bad 2', 2],
  ])('rejects %s', (_, text, line) => {
    let caught: unknown;
    try {
      parseExposition(text);
    } catch (error) {
      caught = error;
    }

    expect(caught).toBeInstanceOf(ExpositionParseError);
    expect((caught as ExpositionParseError).line).toBe(line);
  });
});

describe('isCounterSample', () => {
  it('classifies samples by type and name', () => {
    const { samples } = parseExposition(
      [
        '# TYPE sent counter',
        'sent 1',
        '# TYPE depth gauge',
        'depth 1',
        'depth_total 1',
        'published_total 1',
        '# TYPE rpc histogram',
        'rpc_count 1',
        '# TYPE job summary',
        'job{quantile="0.5"} 1',
      ].join('\n'),
    );

    expect(samples.map(isCounterSample)).toEqual([true, false, true, true, true, false]);
  });
});
