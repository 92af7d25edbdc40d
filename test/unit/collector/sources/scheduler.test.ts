import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  startSourcePolling,
  type LagSink,
  type LagSource,
  type PollResult,
} from '../../../../collector/sources/index.js';

interface FakeSource extends LagSource {
  pollTimes: number[];
  /** Polls that started and have not finished. */
  active: number;
  maxActive: number;
}

function createFakeSource(
  name: string,
  intervalMs: number,
  behaviour: { durationMs?: number; error?: Error } = {},
): FakeSource {
  const source: FakeSource = {
    name,
    kind: 'fake',
    intervalMs,
    integration: 'mes',
    workflow: 'stock_move',
    pollTimes: [],
    active: 0,
    maxActive: 0,
    async poll(now: Date): Promise<PollResult> {
      source.pollTimes.push(now.getTime());
      source.active += 1;
      source.maxActive = Math.max(source.maxActive, source.active);
      try {
        if (behaviour.durationMs) await new Promise((resolve) => setTimeout(resolve, behaviour.durationMs));
        if (behaviour.error) throw behaviour.error;
        return {
          samples: [
            {
              observedAt: now,
              integration: 'mes',
              workflow: 'stock_move',
              source: name,
              sourceKind: 'fake',
              entity: 'queue',
              status: 'ok',
              depth: 0,
              lagSeconds: 0,
            },
          ],
          failures: [],
        };
      } finally {
        source.active -= 1;
      }
    },
    close: async () => undefined,
  };
  return source;
}

function createSink(): LagSink & { results: PollResult[] } {
  const results: PollResult[] = [];
  return {
    results,
    async write(result) {
      results.push(result);
    },
  };
}

function createLogger() {
  return { warn: vi.fn(), info: vi.fn(), error: vi.fn() };
}

const START_MS = Date.UTC(2026, 0, 1);

beforeEach(() => {
  vi.useFakeTimers({ now: START_MS });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('startSourcePolling', () => {
  it('polls each source on its interval', async () => {
    const fast = createFakeSource('fast', 1_000);
    const slow = createFakeSource('slow', 5_000);
    const sink = createSink();
    const polling = startSourcePolling([fast, slow], sink);

    await vi.advanceTimersByTimeAsync(10_000);
    await polling.stop();

    expect(fast.pollTimes.map((time) => time - START_MS)).toEqual([
      0, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000, 10_000,
    ]);
    expect(slow.pollTimes.map((time) => time - START_MS)).toEqual([0, 5_000, 10_000]);
    expect(sink.results).toHaveLength(14);
  });

  it('never overlaps polls of one source', async () => {
    const sluggish = createFakeSource('sluggish', 1_000, { durationMs: 2_500 });
    const polling = startSourcePolling([sluggish], createSink());

    await vi.advanceTimersByTimeAsync(10_000);
    // A poll is in flight at 10 s, so pollNow waits for it instead of starting another.
    const pollingNow = polling.pollNow();
    await vi.advanceTimersByTimeAsync(2_500);
    await pollingNow;
    const stopping = polling.stop();
    await vi.advanceTimersByTimeAsync(2_500);
    await stopping;

    expect(sluggish.maxActive).toBe(1);
    // Each poll takes 2.5 s, longer than the interval, so the next starts when
    // it ends (plus the 1 ms a zero-delay timer takes in Node).
    const gaps = sluggish.pollTimes.slice(1).map((time, index) => time - (sluggish.pollTimes[index] ?? 0));
    expect(gaps.length).toBeGreaterThanOrEqual(4);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(2_500);
      expect(gap).toBeLessThanOrEqual(2_501);
    }
  });

  it('turns a rejected poll into source_down', async () => {
    const broken = createFakeSource('broken', 1_000, { error: new Error('socket hang up') });
    const sink = createSink();
    const logger = createLogger();
    const polling = startSourcePolling([broken], sink, { logger: logger as never });

    await vi.advanceTimersByTimeAsync(3_000);
    await polling.stop();

    expect(sink.results).toHaveLength(4);
    const sample = sink.results[0]?.samples[0];
    expect(sample?.status).toBe('source_down');
    expect(sample?.source).toBe('broken');
    expect(sample?.sourceKind).toBe('fake');
    expect(sample?.integration).toBe('mes');
    expect(sample?.workflow).toBe('stock_move');
    expect(sample?.entity).toBe('*');
    expect(sample?.detail).toContain('socket hang up');
    expect(sample?.depth).toBeUndefined();
    const failedLogs = logger.warn.mock.calls.filter(([, message]) => message === 'source poll failed');
    expect(failedLogs).toHaveLength(1);
    expect(polling.stats()[0]?.pollErrors).toBe(4);
    expect(polling.stats()[0]?.downPolls).toBe(4);
  });

  it('keeps other sources polling', async () => {
    const broken = createFakeSource('broken', 1_000, { error: new Error('boom') });
    const healthy = createFakeSource('healthy', 1_000);
    const sink = createSink();
    const polling = startSourcePolling([broken, healthy], sink);

    await vi.advanceTimersByTimeAsync(2_000);
    await polling.stop();

    expect(healthy.pollTimes).toHaveLength(3);
    const healthyStatuses = sink.results
      .flatMap((result) => result.samples)
      .filter((sample) => sample.source === 'healthy')
      .map((sample) => sample.status);
    expect(healthyStatuses).toEqual(['ok', 'ok', 'ok']);
  });

  it('survives a failing sink', async () => {
    const source = createFakeSource('source', 1_000);
    const logger = createLogger();
    const sink: LagSink = { write: vi.fn().mockRejectedValue(new Error('insert failed')) };
    const polling = startSourcePolling([source], sink, { logger: logger as never });

    await vi.advanceTimersByTimeAsync(2_000);
    await polling.stop();

    expect(source.pollTimes).toHaveLength(3);
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(polling.stats()[0]?.writeErrors).toBe(3);
  });

  it('stops polling after stop', async () => {
    const source = createFakeSource('source', 1_000);
    const polling = startSourcePolling([source], createSink());

    await vi.advanceTimersByTimeAsync(1_000);
    await polling.stop();
    await vi.advanceTimersByTimeAsync(5_000);

    expect(source.pollTimes).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('polls every source on pollNow', async () => {
    const first = createFakeSource('first', 60_000);
    const second = createFakeSource('second', 60_000);
    const sink = createSink();
    const polling = startSourcePolling([first, second], sink);
    await vi.advanceTimersByTimeAsync(0);

    await vi.advanceTimersByTimeAsync(10_000);
    await polling.pollNow();
    await polling.stop();

    expect(first.pollTimes.map((time) => time - START_MS)).toEqual([0, 10_000]);
    expect(second.pollTimes.map((time) => time - START_MS)).toEqual([0, 10_000]);
    expect(sink.results).toHaveLength(4);
  });
});
