import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  startSourcePolling,
  type LagBatch,
  type LagSample,
  type LagSink,
  type LagSource,
  type PollRecord,
  type PollResult,
  type SourcePollingOptions,
} from '../../../../collector/sources/index.js';

/** What one poll of a fake source does. */
interface PollBehaviour {
  durationMs?: number;
  error?: Error;
  /** Never settles. */
  hang?: boolean;
  /** Entities reported, all `ok` with depth 0; default `['queue']`. */
  entities?: string[];
  /** Samples returned as they are, in place of `entities`. */
  samples?: (now: Date) => LagSample[];
}

interface FakeSource extends LagSource {
  pollTimes: number[];
  /** Polls that started and have not finished. */
  active: number;
  maxActive: number;
}

/**
 * Creates a source that follows `script`, one entry per poll, and
 * repeats the last entry once the script runs out.
 */
function createFakeSource(
  name: string,
  intervalMs: number,
  script: PollBehaviour | PollBehaviour[] = {},
  shared?: { active: number; maxActive: number },
): FakeSource {
  const steps = Array.isArray(script) ? script : [script];
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
      const behaviour = steps[Math.min(source.pollTimes.length, steps.length - 1)] ?? {};
      source.pollTimes.push(now.getTime());
      source.active += 1;
      source.maxActive = Math.max(source.maxActive, source.active);
      if (shared) {
        shared.active += 1;
        shared.maxActive = Math.max(shared.maxActive, shared.active);
      }
      try {
        if (behaviour.hang) await new Promise(() => undefined);
        if (behaviour.durationMs) await new Promise((resolve) => setTimeout(resolve, behaviour.durationMs));
        if (behaviour.error) throw behaviour.error;
        const samples = behaviour.samples
          ? behaviour.samples(now)
          : (behaviour.entities ?? ['queue']).map((entity) => buildOkSample(name, entity, now));
        return { samples, failures: [] };
      } finally {
        source.active -= 1;
        if (shared) shared.active -= 1;
      }
    },
    close: async () => undefined,
  };
  return source;
}

function buildOkSample(source: string, entity: string, now: Date): LagSample {
  return {
    observedAt: now,
    integration: 'mes',
    workflow: 'stock_move',
    source,
    sourceKind: 'fake',
    entity,
    status: 'ok',
    depth: 0,
    lagSeconds: 0,
  };
}

function createSink(): LagSink & { results: LagBatch[]; samples(): LagSample[]; polls(): PollRecord[] } {
  const results: LagBatch[] = [];
  return {
    results,
    async write(batch) {
      results.push(batch);
    },
    samples: () => results.flatMap((batch) => batch.samples),
    polls: () => results.flatMap((batch) => batch.polls ?? []),
  };
}

function createLogger() {
  return { warn: vi.fn(), info: vi.fn(), error: vi.fn() };
}

/** Options for exact timing: no jitter and every first poll at once. */
const EXACT: SourcePollingOptions = { jitterRatio: 0, spreadFirstPolls: false };

const START_MS = Date.UTC(2026, 0, 1);

function relativeTimes(source: FakeSource): number[] {
  return source.pollTimes.map((time) => time - START_MS);
}

beforeEach(() => {
  vi.useFakeTimers({ now: START_MS });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('startSourcePolling timing', () => {
  it('polls each source on its interval', async () => {
    const fast = createFakeSource('fast', 1_000);
    const slow = createFakeSource('slow', 5_000);
    const sink = createSink();
    const polling = startSourcePolling([fast, slow], sink, EXACT);

    await vi.advanceTimersByTimeAsync(10_000);
    await polling.stop();

    expect(relativeTimes(fast)).toEqual([0, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000, 10_000]);
    expect(relativeTimes(slow)).toEqual([0, 5_000, 10_000]);
    expect(sink.results).toHaveLength(14);
  });

  it('stamps polls with the given clock', async () => {
    const simulated = new Date(Date.UTC(2030, 5, 1, 12, 0));
    const source = createFakeSource('queues', 1_000);
    const sink = createSink();
    const polling = startSourcePolling([source], sink, { ...EXACT, clock: () => simulated });

    await vi.advanceTimersByTimeAsync(2_000);
    await polling.stop();

    expect(source.pollTimes).toEqual([simulated.getTime(), simulated.getTime(), simulated.getTime()]);
    expect(sink.samples().map((sample) => sample.observedAt)).toEqual([simulated, simulated, simulated]);
    expect(sink.polls().map((poll) => poll.startedAt)).toEqual([simulated, simulated, simulated]);
  });

  it('never overlaps polls of one source', async () => {
    const sluggish = createFakeSource('sluggish', 1_000, { durationMs: 2_500 });
    const polling = startSourcePolling([sluggish], createSink(), EXACT);

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

  it('spreads first polls over the interval', async () => {
    const sources = Array.from({ length: 10 }, (_, index) => createFakeSource(`source-${index}`, 10_000));
    const randoms = sources.map((_, index) => index / 10);
    let next = 0;
    const random = () => randoms[next++ % randoms.length] ?? 0;
    const polling = startSourcePolling(sources, createSink(), { jitterRatio: 0, random });

    await vi.advanceTimersByTimeAsync(9_999);
    await polling.stop();

    const firstPolls = sources.map((source) => relativeTimes(source)[0]);
    expect(firstPolls).toEqual([0, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000]);
  });

  it('jitters each delay within the ratio', async () => {
    const source = createFakeSource('jittery', 1_000);
    // Alternates the lowest and the highest factor: 0.9 and just under 1.1.
    let calls = 0;
    const random = () => (calls++ % 2 === 0 ? 0 : 0.999_999);
    const polling = startSourcePolling([source], createSink(), { spreadFirstPolls: false, jitterRatio: 0.1, random });

    await vi.advanceTimersByTimeAsync(4_000);
    await polling.stop();

    expect(relativeTimes(source)).toEqual([0, 900, 2_000, 2_900, 4_000]);
  });

  it('keeps jittered delays near the interval', async () => {
    const source = createFakeSource('random', 1_000);
    const polling = startSourcePolling([source], createSink(), { spreadFirstPolls: false });

    await vi.advanceTimersByTimeAsync(100_000);
    await polling.stop();

    const gaps = source.pollTimes.slice(1).map((time, index) => time - (source.pollTimes[index] ?? 0));
    expect(gaps.length).toBeGreaterThan(80);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(900);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1_100);
    expect(new Set(gaps).size).toBeGreaterThan(10);
  });
});

describe('startSourcePolling backoff', () => {
  it('backs off a failing source exponentially', async () => {
    const broken = createFakeSource('broken', 1_000, { error: new Error('connection refused') });
    const sink = createSink();
    const polling = startSourcePolling([broken], sink, { ...EXACT, maxBackoffMs: 8_000 });

    await vi.advanceTimersByTimeAsync(30_000);
    await polling.stop();

    expect(relativeTimes(broken)).toEqual([0, 2_000, 6_000, 14_000, 22_000, 30_000]);
    expect(sink.polls().map((record) => record.consecutiveFailures)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(polling.stats()[0]?.nextPollDelayMs).toBe(8_000);
  });

  it('writes source_down at every backoff step', async () => {
    const broken = createFakeSource('broken', 1_000, { error: new Error('connection refused') });
    const sink = createSink();
    const polling = startSourcePolling([broken], sink, { ...EXACT, maxBackoffMs: 8_000 });

    await vi.advanceTimersByTimeAsync(30_000);
    await polling.stop();

    const statuses = sink.samples().map((sample) => sample.status);
    expect(statuses).toHaveLength(6);
    expect(new Set(statuses)).toEqual(new Set(['source_down']));
  });

  it('resets backoff after a successful poll', async () => {
    const failure = { error: new Error('timeout reading queue') };
    const flaky = createFakeSource('flaky', 1_000, [failure, failure, failure, {}]);
    const logger = createLogger();
    const polling = startSourcePolling([flaky], createSink(), { ...EXACT, logger: logger as never });

    await vi.advanceTimersByTimeAsync(16_000);
    await polling.stop();

    expect(relativeTimes(flaky)).toEqual([0, 2_000, 6_000, 14_000, 15_000, 16_000]);
    expect(polling.stats()[0]?.consecutiveFailures).toBe(0);
    const recovered = logger.info.mock.calls.filter(([, message]) => message === 'source poll recovered');
    expect(recovered).toEqual([[{ source: 'flaky', failedPolls: 3 }, 'source poll recovered']]);
  });

  it('backs off when every sample is down', async () => {
    const unreadable = createFakeSource('unreadable', 1_000, {
      samples: (now) => [{ ...buildOkSample('unreadable', 'queue', now), status: 'source_down', detail: 'ECONNREFUSED' }],
    });
    const sink = createSink();
    const polling = startSourcePolling([unreadable], sink, EXACT);

    await vi.advanceTimersByTimeAsync(6_000);
    await polling.stop();

    expect(relativeTimes(unreadable)).toEqual([0, 2_000, 6_000]);
    expect(sink.polls().map((record) => record.outcome)).toEqual(['down', 'down', 'down']);
    expect(sink.polls()[0]?.error).toBe('ECONNREFUSED');
  });

  it('keeps the interval when some entities are down', async () => {
    const partly = createFakeSource('partly', 1_000, {
      samples: (now) => [
        buildOkSample('partly', 'orders', now),
        { ...buildOkSample('partly', 'moves', now), status: 'source_down', detail: 'queue not found' },
      ],
    });
    const sink = createSink();
    const polling = startSourcePolling([partly], sink, EXACT);

    await vi.advanceTimersByTimeAsync(3_000);
    await polling.stop();

    expect(relativeTimes(partly)).toEqual([0, 1_000, 2_000, 3_000]);
    expect(sink.polls()[0]?.outcome).toBe('down');
    expect(sink.polls()[0]?.consecutiveFailures).toBe(0);
  });

  it('backs off no faster than the interval', async () => {
    const slowBroken = createFakeSource('slow-broken', 600_000, { error: new Error('boom') });
    const polling = startSourcePolling([slowBroken], createSink(), { ...EXACT, maxBackoffMs: 60_000 });

    await vi.advanceTimersByTimeAsync(1_200_000);
    await polling.stop();

    expect(relativeTimes(slowBroken)).toEqual([0, 600_000, 1_200_000]);
  });
});

describe('startSourcePolling isolation', () => {
  it('abandons a hanging poll after its timeout', async () => {
    const hanging = createFakeSource('hanging', 1_000, { hang: true });
    const healthy = createFakeSource('healthy', 1_000);
    const sink = createSink();
    const logger = createLogger();
    const polling = startSourcePolling([hanging, healthy], sink, {
      ...EXACT,
      pollTimeoutMs: 500,
      logger: logger as never,
    });

    await vi.advanceTimersByTimeAsync(10_000);
    await polling.stop();

    expect(relativeTimes(healthy)).toHaveLength(11);
    // The hanging poll is called once; later turns are skipped while it still runs.
    expect(hanging.pollTimes).toHaveLength(1);
    const hangingPolls = sink.polls().filter((record) => record.source === 'hanging');
    expect(hangingPolls.map((record) => record.outcome)).toEqual(['timeout', 'timeout', 'timeout']);
    expect(hangingPolls[0]?.durationMs).toBe(500);
    expect(hangingPolls[0]?.error).toBe('poll timed out after 500 ms');
    expect(hangingPolls[1]?.error).toMatch(/^poll skipped: an earlier poll timed out and is still running after \d+ ms$/);
    const hangingSamples = sink.samples().filter((sample) => sample.source === 'hanging');
    expect(hangingSamples.map((sample) => sample.status)).toEqual(['source_down', 'source_down', 'source_down']);
    expect(polling.stats()[0]?.timeouts).toBe(3);
    const failedLogs = logger.warn.mock.calls.filter(([, message]) => message === 'source poll failed');
    expect(failedLogs).toHaveLength(1);
  });

  it('polls again once the abandoned poll settles', async () => {
    const slow = createFakeSource('slow', 1_000, [{ durationMs: 2_500 }, {}]);
    const sink = createSink();
    const polling = startSourcePolling([slow], sink, { ...EXACT, pollTimeoutMs: 1_000 });

    await vi.advanceTimersByTimeAsync(6_000);
    await polling.stop();

    // Timed out at 1 s, skipped at 2 s while the first poll runs until 2.5 s, polled again at 6 s.
    expect(sink.polls().map((record) => record.outcome)).toEqual(['timeout', 'timeout', 'ok']);
    expect(relativeTimes(slow)).toEqual([0, 6_000]);
  });

  it('takes the timeout from the source first', async () => {
    const slow = { ...createFakeSource('slow', 10_000, { durationMs: 2_000 }), pollTimeoutMs: 1_000 };
    const sink = createSink();
    const polling = startSourcePolling([slow], sink, { ...EXACT, pollTimeoutMs: 5_000 });

    await vi.advanceTimersByTimeAsync(1_500);
    await polling.stop();

    expect(sink.polls()[0]?.outcome).toBe('timeout');
    expect(sink.polls()[0]?.durationMs).toBe(1_000);
  });

  it('caps concurrent polls', async () => {
    const shared = { active: 0, maxActive: 0 };
    const sources = Array.from({ length: 10 }, (_, index) =>
      createFakeSource(`source-${index}`, 10_000, { durationMs: 1_000 }, shared),
    );
    const sink = createSink();
    const polling = startSourcePolling(sources, sink, { ...EXACT, maxConcurrentPolls: 3 });

    await vi.advanceTimersByTimeAsync(3_999);
    expect(shared.maxActive).toBe(3);
    expect(sink.polls()).toHaveLength(9);
    await vi.advanceTimersByTimeAsync(1);
    await polling.stop();

    expect(sources.every((source) => source.pollTimes.length === 1)).toBe(true);
    // Polls that waited for a slot start, and are recorded, when they get one.
    expect(sources.map((source) => relativeTimes(source)[0])).toEqual([0, 0, 0, 1_000, 1_000, 1_000, 2_000, 2_000, 2_000, 3_000]);
    expect(sink.polls().every((record) => record.durationMs === 1_000)).toBe(true);
  });

  it('turns a rejected poll into source_down', async () => {
    const broken = createFakeSource('broken', 1_000, { error: new Error('socket hang up') });
    const sink = createSink();
    const logger = createLogger();
    const polling = startSourcePolling([broken], sink, { ...EXACT, logger: logger as never });

    await vi.advanceTimersByTimeAsync(6_000);
    await polling.stop();

    expect(sink.results).toHaveLength(3);
    const sample = sink.results[0]?.samples[0];
    expect(sample?.status).toBe('source_down');
    expect(sample?.source).toBe('broken');
    expect(sample?.sourceKind).toBe('fake');
    expect(sample?.integration).toBe('mes');
    expect(sample?.workflow).toBe('stock_move');
    expect(sample?.entity).toBe('*');
    expect(sample?.detail).toBe('poll failed: socket hang up');
    expect(sample?.depth).toBeUndefined();
    const failedLogs = logger.warn.mock.calls.filter(([, message]) => message === 'source poll failed');
    expect(failedLogs).toEqual([
      [
        { source: 'broken', kind: 'fake', outcome: 'error', detail: 'poll failed: socket hang up', nextPollDelayMs: 2_000 },
        'source poll failed',
      ],
    ]);
    expect(polling.stats()[0]?.pollErrors).toBe(3);
    expect(polling.stats()[0]?.downPolls).toBe(3);
  });

  it('reports known entities down on error', async () => {
    const source = createFakeSource('broker', 1_000, [{ entities: ['orders', 'moves'] }, { error: new Error('closed') }]);
    const sink = createSink();
    const polling = startSourcePolling([source], sink, EXACT);

    await vi.advanceTimersByTimeAsync(1_000);
    await polling.stop();

    const second = sink.results[1]?.samples ?? [];
    expect(second.map((sample) => [sample.entity, sample.status, sample.detail])).toEqual([
      ['orders', 'source_down', 'poll failed: closed'],
      ['moves', 'source_down', 'poll failed: closed'],
    ]);
    expect(second.every((sample) => sample.conditions === undefined)).toBe(true);
  });

  it('keeps other sources polling', async () => {
    const broken = createFakeSource('broken', 1_000, { error: new Error('boom') });
    const healthy = createFakeSource('healthy', 1_000);
    const sink = createSink();
    const polling = startSourcePolling([broken, healthy], sink, EXACT);

    await vi.advanceTimersByTimeAsync(2_000);
    await polling.stop();

    expect(healthy.pollTimes).toHaveLength(3);
    const healthyStatuses = sink
      .samples()
      .filter((sample) => sample.source === 'healthy')
      .map((sample) => sample.status);
    expect(healthyStatuses).toEqual(['ok', 'ok', 'ok']);
  });

  it('survives a failing sink', async () => {
    const first = createFakeSource('first', 1_000);
    const second = createFakeSource('second', 1_000);
    const logger = createLogger();
    const sink: LagSink = { write: vi.fn().mockRejectedValue(new Error('insert failed')) };
    const polling = startSourcePolling([first, second], sink, { ...EXACT, logger: logger as never });

    await vi.advanceTimersByTimeAsync(2_000);
    await polling.stop();

    expect(first.pollTimes).toHaveLength(3);
    // Failed writes in a row are logged once, whichever source they belong to.
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(polling.stats().map((stats) => stats.writeErrors)).toEqual([3, 3]);
  });
});

describe('startSourcePolling records', () => {
  it('writes one poll record per poll', async () => {
    const source = createFakeSource('orders', 1_000, [{ entities: ['a', 'b'], durationMs: 120 }]);
    const sink = createSink();
    const polling = startSourcePolling([source], sink, EXACT);

    await vi.advanceTimersByTimeAsync(500);
    await polling.stop();

    expect(sink.results).toHaveLength(1);
    expect(sink.results[0]?.polls).toEqual([
      {
        source: 'orders',
        sourceKind: 'fake',
        integration: 'mes',
        startedAt: new Date(START_MS),
        durationMs: 120,
        outcome: 'ok',
        samples: 2,
        downSamples: 0,
        failures: 0,
        consecutiveFailures: 0,
        error: '',
      },
    ]);
    expect(polling.stats()[0]).toMatchObject({ polls: 1, lastOutcome: 'ok', lastDurationMs: 120, trackedSeries: 2 });
  });

  it('adds shared conditions to samples', async () => {
    const source = createFakeSource('broker', 1_000, {
      samples: (now) => [
        { ...buildOkSample('broker', 'orders', now), depth: 12, consumers: 0, lagSeconds: 30 },
        { ...buildOkSample('broker', 'moves', now), depth: 1, consumers: 1, lagSeconds: -4 },
        { ...buildOkSample('broker', 'idle', now), depth: 0, consumers: 0, inflowPerSecond: 0, lagSeconds: 0 },
      ],
    });
    const sink = createSink();
    const polling = startSourcePolling([source], sink, EXACT);

    await vi.advanceTimersByTimeAsync(0);
    await polling.stop();

    const [orders, moves, idle] = sink.samples();
    expect(orders?.conditions).toEqual(['no_consumers']);
    expect(moves?.conditions).toEqual(['clock_skew']);
    expect(moves?.lagSeconds).toBe(0);
    expect(idle?.status).toBe('ok');
    expect(idle?.lagSeconds).toBe(0);
    expect(idle?.conditions).toBeUndefined();
  });

  it('flags an entity that disappears', async () => {
    const source = createFakeSource('broker', 1_000, [
      { entities: ['orders', 'moves'] },
      { entities: ['orders'] },
      { entities: ['orders'] },
      { entities: ['orders', 'moves'] },
    ]);
    const sink = createSink();
    const polling = startSourcePolling([source], sink, EXACT);

    await vi.advanceTimersByTimeAsync(3_000);
    await polling.stop();

    const moves = sink.samples().filter((sample) => sample.entity === 'moves');
    expect(moves.map((sample) => [sample.status, sample.conditions])).toEqual([
      ['ok', undefined],
      ['source_down', ['series_disappeared']],
      ['source_down', ['series_disappeared']],
      ['ok', undefined],
    ]);
    expect(moves[1]?.detail).toBe(`entity not reported by the source since ${new Date(START_MS).toISOString()}`);
    expect(sink.polls().map((record) => [record.outcome, record.downSamples])).toEqual([
      ['ok', 0],
      ['ok', 1],
      ['ok', 1],
      ['ok', 0],
    ]);
  });

  it('drops a disappeared series after retention', async () => {
    const source = createFakeSource('broker', 1_000, [{ entities: ['orders', 'moves'] }, { entities: ['orders'] }]);
    const sink = createSink();
    const polling = startSourcePolling([source], sink, { ...EXACT, seriesRetentionMs: 2_500 });

    await vi.advanceTimersByTimeAsync(5_000);
    await polling.stop();

    const moves = sink.samples().filter((sample) => sample.entity === 'moves');
    // Reported at 0 s, flagged at 1, 2 and 2.5 s or less since, then forgotten.
    expect(moves.map((sample) => sample.observedAt.getTime() - START_MS)).toEqual([0, 1_000, 2_000]);
    expect(polling.stats()[0]?.trackedSeries).toBe(1);
  });
});

describe('startSourcePolling control', () => {
  it('stops polling after stop', async () => {
    const source = createFakeSource('source', 1_000);
    const polling = startSourcePolling([source], createSink(), EXACT);

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
    const polling = startSourcePolling([first, second], sink, EXACT);
    await vi.advanceTimersByTimeAsync(0);

    await vi.advanceTimersByTimeAsync(10_000);
    await polling.pollNow();
    await polling.stop();

    expect(relativeTimes(first)).toEqual([0, 10_000]);
    expect(relativeTimes(second)).toEqual([0, 10_000]);
    expect(sink.results).toHaveLength(4);
  });

  it('flushes the sink on pollNow and stop', async () => {
    const source = createFakeSource('source', 60_000);
    const flush = vi.fn(async () => undefined);
    const polling = startSourcePolling([source], { write: async () => undefined, flush }, EXACT);

    await polling.pollNow();
    await polling.stop();

    expect(flush).toHaveBeenCalledTimes(2);
  });
});
