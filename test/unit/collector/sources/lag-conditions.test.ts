import { describe, expect, it } from 'vitest';
import {
  applySampleConditions,
  clampLagSeconds,
  SeriesTracker,
  type LagSample,
} from '../../../../collector/sources/index.js';

const OBSERVED_AT = new Date('2026-02-01T03:00:00.000Z');

function buildSample(fields: Partial<LagSample> = {}): LagSample {
  return {
    observedAt: OBSERVED_AT,
    integration: 'odoo-wms',
    workflow: 'stock_move',
    source: 'broker',
    sourceKind: 'rabbitmq',
    entity: 'wms.moves',
    status: 'ok',
    ...fields,
  };
}

function atMinute(minute: number): Date {
  return new Date(OBSERVED_AT.getTime() + minute * 60_000);
}

describe('applySampleConditions', () => {
  it('flags waiting messages without consumers', () => {
    const sample = buildSample({ depth: 40, consumers: 0, lagSeconds: 95 });
    applySampleConditions(sample);
    expect(sample.conditions).toEqual(['no_consumers']);
    expect(sample.status).toBe('ok');
  });

  it('keeps the RabbitMQ attribute as it is', () => {
    const sample = buildSample({ depth: 3, consumers: 0, attributes: { no_consumers: 'true' } });
    applySampleConditions(sample);
    expect(sample.conditions).toEqual(['no_consumers']);
    expect(sample.attributes).toEqual({ no_consumers: 'true' });
  });

  it('leaves consumers with messages unflagged', () => {
    const sample = buildSample({ depth: 40, consumers: 2, lagSeconds: 3 });
    applySampleConditions(sample);
    expect(sample.conditions).toBeUndefined();
  });

  it('leaves an idle entity unflagged', () => {
    // Overnight: nothing waiting, nothing arriving, no consumer attached.
    const sample = buildSample({ depth: 0, consumers: 0, inflowPerSecond: 0, outflowPerSecond: 0, lagSeconds: 0 });
    applySampleConditions(sample);
    expect(sample.conditions).toBeUndefined();
    expect(sample.status).toBe('ok');
    expect(sample.lagSeconds).toBe(0);
  });

  it('clamps negative lag and flags clock_skew', () => {
    const sample = buildSample({ depth: 2, consumers: 1, lagSeconds: -12.5 });
    applySampleConditions(sample);
    expect(sample.lagSeconds).toBe(0);
    expect(sample.conditions).toEqual(['clock_skew']);
  });

  it('flags a lag the source clamped', () => {
    const sample = buildSample({ depth: 2, consumers: 1, lagSeconds: 0, attributes: { clock_ahead: 'true' } });
    applySampleConditions(sample);
    expect(sample.conditions).toEqual(['clock_skew']);
  });

  it('adds each condition once', () => {
    const sample = buildSample({ depth: 1, consumers: 0, lagSeconds: -1, conditions: ['clock_skew'] });
    applySampleConditions(sample);
    applySampleConditions(sample);
    expect(sample.conditions).toEqual(['clock_skew', 'no_consumers']);
  });

  it('leaves unknown lag undefined', () => {
    const sample = buildSample({ depth: 5, consumers: 1 });
    applySampleConditions(sample);
    expect(sample.lagSeconds).toBeUndefined();
    expect(sample.conditions).toBeUndefined();
  });
});

describe('clampLagSeconds', () => {
  it.each([
    [12, { lagSeconds: 12, clockSkew: false }],
    [0, { lagSeconds: 0, clockSkew: false }],
    [-0.001, { lagSeconds: 0, clockSkew: true }],
  ])('clamps %s seconds', (input, expected) => {
    expect(clampLagSeconds(input)).toEqual(expected);
  });
});

describe('SeriesTracker', () => {
  it('reports a missing entity as disappeared', () => {
    const tracker = new SeriesTracker('broker', 'rabbitmq', 60 * 60_000);
    tracker.recordPoll([buildSample({ entity: 'a' }), buildSample({ entity: 'b' })], atMinute(0));

    const changes = tracker.recordPoll([buildSample({ entity: 'a' })], atMinute(1));

    expect(changes.disappeared).toEqual(['b']);
    expect(changes.samples).toEqual([
      {
        observedAt: atMinute(1),
        integration: 'odoo-wms',
        workflow: 'stock_move',
        source: 'broker',
        sourceKind: 'rabbitmq',
        entity: 'b',
        status: 'source_down',
        detail: 'entity not reported by the source since 2026-02-01T03:00:00.000Z',
        conditions: ['series_disappeared'],
      },
    ]);
  });

  it('reports a disappearance once per change', () => {
    const tracker = new SeriesTracker('broker', 'rabbitmq', 60 * 60_000);
    tracker.recordPoll([buildSample({ entity: 'a' })], atMinute(0));

    const first = tracker.recordPoll([], atMinute(1));
    const second = tracker.recordPoll([], atMinute(2));
    const back = tracker.recordPoll([buildSample({ entity: 'a' })], atMinute(3));

    expect(first.disappeared).toEqual(['a']);
    expect(second.disappeared).toEqual([]);
    expect(second.samples).toHaveLength(1);
    expect(back.reappeared).toEqual(['a']);
    expect(back.samples).toEqual([]);
  });

  it('forgets an entity after retention', () => {
    const tracker = new SeriesTracker('broker', 'rabbitmq', 10 * 60_000);
    tracker.recordPoll([buildSample({ entity: 'a' })], atMinute(0));

    const within = tracker.recordPoll([], atMinute(10));
    const after = tracker.recordPoll([], atMinute(11));

    expect(within.samples).toHaveLength(1);
    expect(after.samples).toEqual([]);
    expect(after.expired).toEqual(['a']);
    expect(tracker.size).toBe(0);
  });

  it('ignores the whole-source entity', () => {
    const tracker = new SeriesTracker('jobs', 'queue_job');
    tracker.recordPoll([buildSample({ entity: '*', depth: 0 })], atMinute(0));

    const changes = tracker.recordPoll([buildSample({ entity: 'root/<mrp.production>.release' })], atMinute(1));

    expect(changes.samples).toEqual([]);
    expect(tracker.size).toBe(1);
  });

  it('ignores entities only reported down', () => {
    const tracker = new SeriesTracker('broker', 'rabbitmq');
    tracker.recordPoll([buildSample({ entity: '/^wms\\./', status: 'source_down' })], atMinute(0));

    const changes = tracker.recordPoll([buildSample({ entity: 'wms.moves' })], atMinute(1));

    expect(changes.samples).toEqual([]);
    expect(tracker.size).toBe(1);
  });

  it('keeps an entity the source reports down', () => {
    const tracker = new SeriesTracker('broker', 'rabbitmq', 10 * 60_000);
    tracker.recordPoll([buildSample({ entity: 'a' })], atMinute(0));

    const changes = tracker.recordPoll([buildSample({ entity: 'a', status: 'source_down' })], atMinute(30));

    expect(changes.samples).toEqual([]);
    expect(changes.expired).toEqual([]);
    expect(tracker.size).toBe(1);
  });

  it('marks missing entities down when the source is unreadable', () => {
    const tracker = new SeriesTracker('broker', 'rabbitmq', 10 * 60_000);
    tracker.recordPoll([buildSample({ entity: 'a' }), buildSample({ entity: 'b' })], atMinute(0));

    const down = buildSample({ entity: 'a', status: 'source_down', detail: 'ECONNREFUSED' });
    const changes = tracker.recordPoll([down], atMinute(30), true, 'ECONNREFUSED');

    expect(changes.samples.map((sample) => [sample.entity, sample.status, sample.detail, sample.conditions])).toEqual([
      ['b', 'source_down', 'ECONNREFUSED', undefined],
    ]);
    expect(changes.disappeared).toEqual([]);
    expect(changes.expired).toEqual([]);
  });

  it('builds down samples for a failed poll', () => {
    const tracker = new SeriesTracker('broker', 'rabbitmq');
    tracker.recordPoll([buildSample({ entity: 'a', workflow: 'quality_hold' })], atMinute(0));

    const samples = tracker.buildUnreadSamples(atMinute(1), 'poll timed out after 30000 ms');

    expect(samples.map((sample) => [sample.entity, sample.workflow, sample.status, sample.detail])).toEqual([
      ['a', 'quality_hold', 'source_down', 'poll timed out after 30000 ms'],
    ]);
    expect(tracker.size).toBe(1);
  });
});
