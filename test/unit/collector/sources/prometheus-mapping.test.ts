import { describe, expect, it } from 'vitest';
import {
  applyMappings,
  parseExposition,
  prometheusMappingSchema,
  type CounterReading,
} from '../../../../collector/sources/index.js';

describe('applyMappings', () => {
  const exposition = parseExposition(
    [
      'lag{group="a",topic="t",partition="0"} 5',
      'lag{group="a",topic="t",partition="1"} 7',
      'lag{group="b",topic="t",partition="0"} 1',
      'lag_seconds{group="a",topic="t",partition="0"} 3',
      'lag_seconds{group="a",topic="t",partition="1"} 9',
      'lag{topic="t"} 100',
    ].join('\n'),
  );

  it('aggregates series per entity', () => {
    const result = applyMappings(
      exposition,
      [
        prometheusMappingSchema.parse({ metric: 'lag', entityLabels: ['group', 'topic'], field: 'depth' }),
        prometheusMappingSchema.parse({ metric: 'lag_seconds', entityLabels: ['group', 'topic'], field: 'lagSeconds' }),
      ],
      undefined,
      0,
      new Map(),
    );

    expect(result.entities.get('a/t')?.fields).toEqual({ depth: 12, lagSeconds: 9 });
    expect(result.entities.get('b/t')?.fields).toEqual({ depth: 1 });
    expect([...result.missingLabels]).toEqual(['lag: group']);
    expect([...result.foundMetrics].sort()).toEqual(['lag', 'lag_seconds']);
  });

  it('applies aggregate and match overrides', () => {
    const result = applyMappings(
      exposition,
      [
        prometheusMappingSchema.parse({
          metric: 'lag',
          entityLabels: ['group'],
          field: 'depth',
          aggregate: 'max',
          match: { partition: '1' },
        }),
      ],
      { topic: 't' },
      0,
      new Map(),
    );

    expect([...result.entities.keys()]).toEqual(['a']);
    expect(result.entities.get('a')?.fields.depth).toBe(7);
  });

  it('uses sample timestamps for rates', () => {
    const counters = new Map<string, CounterReading>([['sent_total{partner="acme"}', { value: 100, atMs: 1_000 }]]);
    const later = parseExposition('sent_total{partner="acme"} 160 31000');
    const mapping = prometheusMappingSchema.parse({
      metric: 'sent_total',
      entityLabels: ['partner'],
      field: 'outflowPerSecond',
    });

    const result = applyMappings(later, [mapping], undefined, 999_999, counters);

    expect(result.entities.get('acme')?.fields.outflowPerSecond).toBeCloseTo(2);
    expect(result.counters.get('sent_total{partner="acme"}')).toEqual({ value: 160, atMs: 31_000 });
  });

  it('reads gauges as rates when told', () => {
    const counters = new Map<string, CounterReading>([['offset{group="g"}', { value: 50, atMs: 0 }]]);
    const mapping = prometheusMappingSchema.parse({
      metric: 'offset',
      entityLabels: ['group'],
      field: 'outflowPerSecond',
      rate: true,
      scale: 2,
    });

    const result = applyMappings(parseExposition('# TYPE offset gauge\noffset{group="g"} 70'), [mapping], undefined, 10_000, counters);

    expect(result.entities.get('g')?.fields.outflowPerSecond).toBeCloseTo(4);
  });
});
