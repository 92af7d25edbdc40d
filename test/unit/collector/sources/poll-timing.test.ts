import { describe, expect, it } from 'vitest';
import {
  addJitter,
  computeBaseDelayMs,
  computeFirstPollDelayMs,
} from '../../../../collector/sources/index.js';

describe('computeBaseDelayMs', () => {
  it.each([
    [0, 10_000],
    [1, 20_000],
    [2, 40_000],
    [4, 160_000],
    [5, 300_000],
    [60, 300_000],
    [2_000, 300_000],
  ])('after %i failures', (failures, expected) => {
    expect(computeBaseDelayMs(10_000, failures, 300_000)).toBe(expected);
  });

  it('never goes below the interval', () => {
    expect(computeBaseDelayMs(600_000, 3, 300_000)).toBe(600_000);
  });
});

describe('addJitter', () => {
  it.each([
    [0, 9_000],
    [0.5, 10_000],
    [0.75, 10_500],
  ])('with random %s', (random, expected) => {
    expect(addJitter(10_000, 0.1, () => random)).toBe(expected);
  });

  it('returns the delay for ratio zero', () => {
    expect(addJitter(10_000, 0, () => 0)).toBe(10_000);
  });
});

describe('computeFirstPollDelayMs', () => {
  it('picks a point in the interval', () => {
    expect(computeFirstPollDelayMs(10_000, () => 0)).toBe(0);
    expect(computeFirstPollDelayMs(10_000, () => 0.999_99)).toBe(9_999);
  });
});
