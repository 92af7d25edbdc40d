import { describe, expect, it } from 'vitest';
import {
  buildExamples,
  chooseQuietStride,
  computeFeatures,
  createHeuristicModel,
  FEATURE_NAMES,
  fitPlattScaling,
  HEURISTIC_MODEL_VERSION,
  MIN_EXAMPLES_PER_CLASS,
  trainBreachModel,
  type KeyedSeries,
  type LabelledExample,
  type MinutePoint,
} from '../../../analyzer/prediction/index.js';

const START_MS = Date.parse('2026-01-05T00:00:00.000Z');
const OBJECTIVES = new Map([['quality_hold', 120]]);

function point(minute: number, overrides: Partial<MinutePoint> = {}): MinutePoint {
  return {
    minuteMs: START_MS + minute * 60_000,
    lagSeconds: 2,
    depth: 0,
    consumers: 3,
    inflowPerSecond: 0.5,
    outflowPerSecond: 0.5,
    stuck: 0,
    failed: 0,
    failures: 0,
    retries: 0,
    partnerLatencyMs: 150,
    credentialDaysLeft: 200,
    sourceDownShare: 0,
    ...overrides,
  };
}

function constantSeries(minutes: number): KeyedSeries {
  return {
    integration: 'odoo-qms',
    workflow: 'quality_hold',
    plant: 'plant-a',
    points: Array.from({ length: minutes }, (_, minute) => point(minute)),
  };
}

describe('trainBreachModel', () => {
  it('keeps the heuristic model on empty history', () => {
    const result = trainBreachModel([], 'logistic-test');
    expect(result.coldStart).toBe(true);
    expect(result.model.version).toBe(HEURISTIC_MODEL_VERSION);
    expect(result.examples).toBe(0);
  });

  it('keeps the heuristic model on constant history', () => {
    const examples = buildExamples([constantSeries(180)], OBJECTIVES, 900);
    expect(examples.length).toBeGreaterThan(100);
    expect(examples.every((example) => !example.label)).toBe(true);

    const result = trainBreachModel(examples, 'logistic-test');
    expect(result.coldStart).toBe(true);
    expect(result.positives).toBe(0);
    expect(result.model.version).toBe(HEURISTIC_MODEL_VERSION);
  });

  it('fits when both classes are present', () => {
    const examples: LabelledExample[] = [];
    for (let index = 0; index < 4 * MIN_EXAMPLES_PER_CLASS; index += 1) {
      const label = index % 2 === 0;
      const values = FEATURE_NAMES.map((name) => (name === 'breach_within_horizon' && label ? 0.8 : 0.1));
      examples.push({ values, label, group: `block-${index % 8}` });
    }
    const result = trainBreachModel(examples, 'logistic-test');
    expect(result.coldStart).toBe(false);
    expect(result.model.version).toBe('logistic-test');
    const positive = examples.find((example) => example.label)!;
    const negative = examples.find((example) => !example.label)!;
    expect(result.model.predict(positive.values)).toBeGreaterThan(0.5);
    expect(result.model.predict(negative.values)).toBeLessThan(0.5);
  });

  it('stays finite on constant features of both classes', () => {
    const values = FEATURE_NAMES.map(() => 0.3);
    const examples: LabelledExample[] = Array.from({ length: 4 * MIN_EXAMPLES_PER_CLASS }, (_, index) => ({
      values,
      label: index % 4 === 0,
      group: `block-${index % 8}`,
    }));
    const probability = trainBreachModel(examples, 'logistic-test').model.predict(values);
    expect(Number.isFinite(probability)).toBe(true);
    // With nothing to tell the examples apart, the probability is the base rate of breaches.
    expect(probability).toBeCloseTo(0.25, 1);
  });
});

describe('buildExamples', () => {
  it('thins quiet minutes and keeps breach ones', () => {
    const series = constantSeries(120);
    series.points = series.points.map((entry, minute) => (minute >= 90 ? { ...entry, lagSeconds: (minute - 89) * 20 } : entry));
    const all = buildExamples([series], OBJECTIVES, 900);
    const thinned = buildExamples([series], OBJECTIVES, 900, { quietStride: 10 });
    expect(thinned.filter((example) => example.label)).toHaveLength(all.filter((example) => example.label).length);
    expect(thinned.filter((example) => !example.label).length).toBeLessThan(all.filter((example) => !example.label).length / 5);
  });

  it('chooses a stride for long histories', () => {
    expect(chooseQuietStride(0)).toBe(1);
    expect(chooseQuietStride(15_000)).toBe(1);
    expect(chooseQuietStride(14 * 1440 * 30)).toBe(31);
  });
});

describe('heuristic model', () => {
  it('stays quiet on constant history', () => {
    const series = constantSeries(40);
    const features = computeFeatures(series.points, START_MS + 39 * 60_000, 120, 900);
    expect(features).not.toBeNull();
    expect(features!.breach).toBeNull();
    expect(createHeuristicModel().predict(features!.values)).toBeLessThan(0.1);
  });

  it('alerts on a lag growing towards the objective', () => {
    const series = constantSeries(40);
    series.points = series.points.map((entry, minute) => (minute < 30 ? entry : { ...entry, lagSeconds: 5 + (minute - 29) * 8, depth: 40 }));
    const features = computeFeatures(series.points, START_MS + 39 * 60_000, 120, 900);
    expect(features!.breach?.basis).toBe('lag trend');
    expect(createHeuristicModel().predict(features!.values)).toBeGreaterThan(0.5);
  });
});

describe('computeFeatures', () => {
  it('returns null on empty history', () => {
    expect(computeFeatures([], START_MS, 120, 900)).toBeNull();
  });

  it('returns null with too few minutes of lag', () => {
    expect(computeFeatures(constantSeries(3).points, START_MS + 2 * 60_000, 120, 900)).toBeNull();
  });

  it('sees no trend in constant history', () => {
    const features = computeFeatures(constantSeries(30).points, START_MS + 29 * 60_000, 120, 900)!;
    const byName = Object.fromEntries(FEATURE_NAMES.map((name, index) => [name, features.values[index]]));
    expect(byName.lag_trend).toBe(0);
    expect(byName.consumer_drop).toBe(0);
    expect(byName.partner_latency_trend).toBe(0);
    expect(byName.credential_pressure).toBe(0);
    expect(byName.breach_within_horizon).toBe(0);
  });

  it('treats an unreported outflow as unknown', () => {
    const points = constantSeries(30).points.map((entry) => ({ ...entry, depth: 50, inflowPerSecond: null, outflowPerSecond: null }));
    const features = computeFeatures(points, START_MS + 29 * 60_000, 120, 900)!;
    const byName = Object.fromEntries(FEATURE_NAMES.map((name, index) => [name, features.values[index]]));
    expect(byName.wait_ratio).toBe(0);
    expect(features.breach).toBeNull();
  });

  it('sees a queue stalled for two minutes', () => {
    const points = constantSeries(30).points.map((entry, minute) =>
      minute < 28 ? entry : { ...entry, depth: 20, consumers: 0, lagSeconds: minute === 28 ? 30 : 75 },
    );
    const features = computeFeatures(points, START_MS + 29 * 60_000, 120, 900)!;
    expect(features.breach).toEqual({ seconds: 45, basis: 'stalled queue' });
  });

  it('takes a pause without lag growth for no stall', () => {
    const points = constantSeries(30).points.map((entry, minute) => (minute < 28 ? entry : { ...entry, depth: 20, consumers: 0, lagSeconds: 30 }));
    const features = computeFeatures(points, START_MS + 29 * 60_000, 120, 900)!;
    expect(features.breach).toBeNull();
  });

  it('ignores minutes after now', () => {
    const series = constantSeries(30);
    series.points.push(point(30, { lagSeconds: 5_000 }));
    const features = computeFeatures(series.points, START_MS + 29 * 60_000, 120, 900)!;
    expect(features.lagSeconds).toBe(2);
  });
});

describe('fitPlattScaling', () => {
  it('returns the identity for one class', () => {
    expect(fitPlattScaling([1, 2, 3], [true, true, true])).toEqual({ slope: 1, intercept: 0 });
  });

  it('keeps the order of scores', () => {
    const scores = [-3, -2, -1, 0, 1, 2, 3, -2.5, 2.5, 0.5];
    const labels = [false, false, false, true, true, true, true, false, true, false];
    const { slope } = fitPlattScaling(scores, labels);
    expect(slope).toBeGreaterThan(0);
  });
});
