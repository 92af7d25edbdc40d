import { describe, expect, it } from 'vitest';
import { estimateTimeToBreach, theilSenSlope, type SeriesPoint } from '../../../analyzer/prediction/index.js';

function line(slope: number, intercept: number, minutes: number): SeriesPoint[] {
  return Array.from({ length: minutes }, (_, x) => ({ x, y: intercept + slope * x }));
}

describe('theilSenSlope', () => {
  it.each([
    [12, 30],
    [0, 45],
    [-3, 100],
    [0.5, 0],
  ])('recovers slope %d of a straight line', (slope, intercept) => {
    expect(theilSenSlope(line(slope, intercept, 10))).toBeCloseTo(slope, 10);
  });

  it('ignores one outlier', () => {
    const points = line(6, 20, 10);
    points[4] = { x: 4, y: 900 };
    expect(theilSenSlope(points)).toBeCloseTo(6, 10);
  });

  it('returns null without two distinct times', () => {
    expect(theilSenSlope([])).toBeNull();
    expect(theilSenSlope([{ x: 1, y: 5 }])).toBeNull();
    expect(theilSenSlope([{ x: 1, y: 5 }, { x: 1, y: 9 }])).toBeNull();
  });
});

describe('estimateTimeToBreach', () => {
  const base = { objectiveSeconds: 120, stalled: false, credentialSecondsLeft: null };

  it('extrapolates a growing lag to the objective', () => {
    // 30 s now, 10 s a minute: 90 s to go take 9 minutes.
    const estimate = estimateTimeToBreach({ ...base, lagSeconds: 30, lagSlopePerMinute: 10 });
    expect(estimate?.basis).toBe('lag trend');
    expect(estimate?.seconds).toBeCloseTo(540, 6);
  });

  it('extrapolates slope 30 on a five-minute objective', () => {
    const estimate = estimateTimeToBreach({ ...base, objectiveSeconds: 300, lagSeconds: 60, lagSlopePerMinute: 30 });
    expect(estimate?.seconds).toBeCloseTo(480, 6);
  });

  it('caps the slope at one second per second', () => {
    const estimate = estimateTimeToBreach({ ...base, lagSeconds: 0, lagSlopePerMinute: 600 });
    expect(estimate?.seconds).toBeCloseTo(120, 6);
  });

  it('returns null for a flat or falling lag', () => {
    expect(estimateTimeToBreach({ ...base, lagSeconds: 50, lagSlopePerMinute: 0 })).toBeNull();
    expect(estimateTimeToBreach({ ...base, lagSeconds: 50, lagSlopePerMinute: -4 })).toBeNull();
    expect(estimateTimeToBreach({ ...base, lagSeconds: null, lagSlopePerMinute: 5 })).toBeNull();
  });

  it('returns zero once lag reached the objective', () => {
    const estimate = estimateTimeToBreach({ ...base, lagSeconds: 130, lagSlopePerMinute: -1 });
    expect(estimate).toEqual({ seconds: 0, basis: 'lag already at objective' });
  });

  it('ages a stalled queue one second per second', () => {
    const estimate = estimateTimeToBreach({ ...base, lagSeconds: 20, lagSlopePerMinute: 1, stalled: true });
    expect(estimate).toEqual({ seconds: 100, basis: 'stalled queue' });
  });

  it('adds the objective to a credential expiry', () => {
    const estimate = estimateTimeToBreach({ ...base, lagSeconds: 2, lagSlopePerMinute: 0, credentialSecondsLeft: 600 });
    expect(estimate).toEqual({ seconds: 718, basis: 'credential expiry' });
  });

  it('takes the earliest estimate', () => {
    const estimate = estimateTimeToBreach({ ...base, lagSeconds: 0, lagSlopePerMinute: 60, credentialSecondsLeft: 600 });
    expect(estimate?.basis).toBe('lag trend');
    expect(estimate?.seconds).toBeCloseTo(120, 6);
  });

  it('rejects a non-positive objective', () => {
    expect(() => estimateTimeToBreach({ ...base, objectiveSeconds: 0, lagSeconds: 1, lagSlopePerMinute: 1 })).toThrow(
      /invalid objective 0 s/,
    );
  });
});
