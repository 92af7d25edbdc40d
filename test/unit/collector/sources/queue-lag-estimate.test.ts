import { describe, expect, it } from 'vitest';
import { estimateQueueLag, type QueueLagHistory } from '../../../../collector/sources/index.js';

const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);

describe('estimateQueueLag', () => {
  it('reports an empty queue as zero', () => {
    const estimate = estimateQueueLag({ observedAtMs: T0, depth: 0, consumers: 0 }, undefined);

    expect(estimate.lagSeconds).toBe(0);
    expect(estimate.lagEstimated).toBe(false);
  });

  it('reads the head timestamp', () => {
    const estimate = estimateQueueLag(
      { observedAtMs: T0, depth: 5, consumers: 1, headTimestampMs: T0 - 42_000, outflowPerSecond: 10 },
      undefined,
    );

    expect(estimate.lagSeconds).toBe(42);
    expect(estimate.lagEstimated).toBe(false);
    expect(estimate.clockAhead).toBe(false);
  });

  it('clamps a head stamped ahead', () => {
    const estimate = estimateQueueLag({ observedAtMs: T0, depth: 1, consumers: 1, headTimestampMs: T0 + 5_000 }, undefined);

    expect(estimate.lagSeconds).toBe(0);
    expect(estimate.clockAhead).toBe(true);
  });

  it('estimates from the drain rate', () => {
    const estimate = estimateQueueLag({ observedAtMs: T0, depth: 100, consumers: 2, outflowPerSecond: 20 }, undefined);

    expect(estimate.lagSeconds).toBe(5);
    expect(estimate.lagEstimated).toBe(true);
  });

  it('leaves lag unknown with active consumers', () => {
    const estimate = estimateQueueLag({ observedAtMs: T0, depth: 10, consumers: 1 }, undefined);

    expect(estimate.lagSeconds).toBeUndefined();
    expect(estimate.reason).toContain('consumers are attached');
  });

  it('waits a poll before estimating a stall', () => {
    const estimate = estimateQueueLag({ observedAtMs: T0, depth: 10, consumers: 0 }, undefined);

    expect(estimate.lagSeconds).toBeUndefined();
    expect(estimate.reason).toContain('next poll');
    expect(estimate.history.stalledSinceMs).toBe(T0);
  });

  it('grows a stall from its start', () => {
    let history: QueueLagHistory | undefined;
    const lags: Array<number | undefined> = [];
    for (const [offsetMs, depth] of [
      [0, 10],
      [10_000, 20],
      [20_000, 30],
    ] as const) {
      const estimate = estimateQueueLag({ observedAtMs: T0 + offsetMs, depth, consumers: 0 }, history);
      history = estimate.history;
      lags.push(estimate.lagSeconds);
    }

    expect(lags).toEqual([undefined, 10, 20]);
  });

  it('continues from the last drained age', () => {
    const draining = estimateQueueLag({ observedAtMs: T0, depth: 50, consumers: 1, outflowPerSecond: 10 }, undefined);
    const stalled = estimateQueueLag(
      { observedAtMs: T0 + 15_000, depth: 80, consumers: 1, outflowPerSecond: 0 },
      draining.history,
    );

    expect(draining.lagSeconds).toBe(5);
    expect(stalled.lagSeconds).toBe(20);
    expect(stalled.lagEstimated).toBe(true);
  });

  it('starts at the midpoint after empty', () => {
    const empty = estimateQueueLag({ observedAtMs: T0, depth: 0, consumers: 0 }, undefined);
    const filled = estimateQueueLag({ observedAtMs: T0 + 10_000, depth: 4, consumers: 0 }, empty.history);

    expect(filled.lagSeconds).toBe(5);
  });

  it('restarts a stall when depth drops', () => {
    const first = estimateQueueLag({ observedAtMs: T0, depth: 10, consumers: 0 }, undefined);
    const second = estimateQueueLag({ observedAtMs: T0 + 10_000, depth: 10, consumers: 0 }, first.history);
    const dropped = estimateQueueLag({ observedAtMs: T0 + 20_000, depth: 4, consumers: 0 }, second.history);

    expect(second.lagSeconds).toBe(10);
    expect(dropped.lagSeconds).toBe(0);
    expect(dropped.lagEstimated).toBe(true);
  });
});
