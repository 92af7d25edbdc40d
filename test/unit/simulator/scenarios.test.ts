import { describe, expect, it } from 'vitest';
import {
  BENIGN_SCENARIO_KINDS,
  buildScenarioPoll,
  generateScenario,
  pickLiveSeed,
  SCENARIO_KINDS,
  ScenarioReplaySource,
} from '../../../simulator/scenarios/index.js';

const SEEDS = Array.from({ length: 30 }, (_, index) => index + 1);

describe('generateScenario', () => {
  it('repeats a run for the same seed', () => {
    const first = generateScenario('partner_slowdown', { seed: 7 });
    const second = generateScenario('partner_slowdown', { seed: 7 });
    expect(second).toEqual(first);
  });

  it('differs between seeds', () => {
    const first = generateScenario('consumer_crash', { seed: 1 });
    const second = generateScenario('consumer_crash', { seed: 2 });
    expect(second.minutes).not.toEqual(first.minutes);
  });

  it.each(BENIGN_SCENARIO_KINDS)('%s never breaches', (kind) => {
    for (const seed of SEEDS) {
      const run = generateScenario(kind, { seed });
      expect(run.breachAt, `${kind} seed ${seed}`).toBeNull();
    }
  });

  it.each(SCENARIO_KINDS.filter((kind) => !BENIGN_SCENARIO_KINDS.includes(kind)))('%s breaches after its onset', (kind) => {
    let breaches = 0;
    for (const seed of SEEDS) {
      const run = generateScenario(kind, { seed });
      if (run.breachAt === null) continue;
      breaches += 1;
      expect(run.breachAt.getTime(), `${kind} seed ${seed}`).toBeGreaterThan(run.onsetAt.getTime());
    }
    expect(breaches).toBeGreaterThanOrEqual(SEEDS.length * 0.9);
  });

  it('sets the breach at the first minute over the objective', () => {
    const run = generateScenario('dead_letter_leak', { seed: 3 });
    const first = run.minutes.find((minute) => minute.lagSeconds >= run.target.objectiveSeconds);
    expect(run.breachAt).toEqual(first?.at ?? null);
    const before = run.minutes.filter((minute) => run.breachAt !== null && minute.at < run.breachAt);
    expect(before.every((minute) => minute.lagSeconds < run.target.objectiveSeconds)).toBe(true);
  });

  it('keeps a quiet baseline before the onset', () => {
    const run = generateScenario('consumer_crash', { seed: 4 });
    const quiet = run.minutes.filter((minute) => minute.at <= run.onsetAt);
    expect(Math.max(...quiet.map((minute) => minute.lagSeconds))).toBeLessThan(run.target.objectiveSeconds / 2);
  });

  it('changes only the plant when given', () => {
    const drawn = generateScenario('partner_slowdown', { seed: 5 });
    const chosen = generateScenario('partner_slowdown', { seed: 5, plant: 'plant-z' });
    expect(chosen.target).toEqual({ ...drawn.target, plant: 'plant-z' });
    expect(chosen.minutes).toEqual(drawn.minutes);
  });

  it('rejects an unknown kind', () => {
    expect(() => generateScenario('meteor_strike' as never, { seed: 1 })).toThrow(/invalid scenario "meteor_strike"/);
  });
});

describe('buildScenarioPoll', () => {
  it('reports the queue and the partner probe', () => {
    const run = generateScenario('expiring_credentials', { seed: 5 });
    const last = run.minutes.at(-1)!;
    const poll = buildScenarioPoll(run, last);
    const [queue, probe] = poll.samples;
    expect(queue?.sourceKind).toBe('rabbitmq');
    expect(queue?.lagSeconds).toBe(last.lagSeconds);
    expect(queue?.attributes?.plant).toBe(run.target.plant);
    expect(probe?.sourceKind).toBe('http_probe');
    expect(probe?.status).toBe('source_down');
    expect(probe?.attributes?.status_code).toBe('401');
    expect(Number(probe?.attributes?.tls_days_left)).toBeLessThan(0);
  });
});

describe('ScenarioReplaySource', () => {
  it('reports ended queue and current probe', async () => {
    const startedAt = new Date('2026-03-02T06:00:00.000Z');
    const source = new ScenarioReplaySource({ kind: 'shift_change_burst', startedAt, durationMinutes: 10 });
    const latency = (minute: number) => source.run.minutes[minute]?.partnerLatencyMs.toFixed(1);
    const early = await source.poll(new Date(startedAt.getTime() + 30_000));
    expect(early.samples.map((sample) => sample.sourceKind)).toEqual(['http_probe']);
    expect(early.samples[0]?.attributes?.latency_ms).toBe(latency(0));

    const afterThree = await source.poll(new Date(startedAt.getTime() + 3 * 60_000 + 1_000));
    expect(afterThree.samples.map((sample) => sample.sourceKind)).toEqual(['rabbitmq', 'http_probe']);
    expect(afterThree.samples[0]?.lagSeconds).toBe(source.run.minutes[2]?.lagSeconds);
    expect(afterThree.samples[1]?.attributes?.latency_ms).toBe(latency(3));

    const again = await source.poll(new Date(startedAt.getTime() + 3 * 60_000 + 6_000));
    expect(again.samples).toHaveLength(2);
    expect(again.samples[0]?.lagSeconds).toBe(source.run.minutes[2]?.lagSeconds);
    expect(again.failures).toHaveLength(0);

    const pastEnd = await source.poll(new Date(startedAt.getTime() + 60 * 60_000));
    expect(pastEnd.samples).toHaveLength(0);
  });

  it('reports failures of every ended minute once', async () => {
    const startedAt = new Date('2026-03-02T06:00:00.000Z');
    const source = new ScenarioReplaySource({ kind: 'expiring_credentials', startedAt, onsetMinute: 1, durationMinutes: 40 });
    const expected = source.run.minutes.reduce((sum, minute) => sum + Math.min(minute.failedAttempts, 50), 0);
    const first = await source.poll(new Date(startedAt.getTime() + 40 * 60_000));
    const second = await source.poll(new Date(startedAt.getTime() + 40 * 60_000 + 5_000));
    expect(first.failures).toHaveLength(expected);
    expect(second.failures).toHaveLength(0);
  });
});

describe('ScenarioReplaySource history', () => {
  const startedAt = new Date('2026-03-02T06:00:00.000Z');

  it('ends the history where the replay starts', () => {
    const source = new ScenarioReplaySource({ kind: 'partner_slowdown', seed: 3, startedAt, historyMinutes: 600, durationMinutes: 60 });
    const [history] = source.history();
    expect(source.history()).toHaveLength(1);
    expect(history?.minutes).toHaveLength(600);
    expect(history?.minutes.at(-1)?.at.getTime()).toBe(startedAt.getTime());
    expect(source.run.minutes[0]?.at.getTime()).toBe(startedAt.getTime() + 60_000);
    expect(source.run.minutes).toHaveLength(60);
  });

  it('keeps the onset in the replay', () => {
    const source = new ScenarioReplaySource({ kind: 'partner_slowdown', seed: 3, startedAt, onsetMinute: 5, historyMinutes: 600 });
    expect(source.run.onsetAt.getTime()).toBe(startedAt.getTime() + 5 * 60_000);
    const latencies = source.history()[0]!.minutes.map((minute) => minute.partnerLatencyMs);
    expect(Math.max(...latencies)).toBeLessThan(2 * Math.min(...latencies));
  });

  it('repeats a shift-change burst every eight hours', () => {
    const source = new ScenarioReplaySource({ kind: 'shift_change_burst', seed: 2, startedAt, onsetMinute: 10, historyMinutes: 1000 });
    const runs = source.history();
    expect(runs.map((run) => run.onsetAt.getTime() - startedAt.getTime())).toEqual([-3, -2, -1].map((k) => (k * 480 + 10) * 60_000));
    expect(runs.reduce((sum, run) => sum + run.minutes.length, 0)).toBe(1000);
    expect(new Set(runs.map((run) => run.target.integration))).toEqual(new Set([source.integration]));
  });

  it('ends a disturbance at its recovery minute', () => {
    const source = new ScenarioReplaySource({ kind: 'consumer_crash', seed: 4, startedAt, onsetMinute: 5, recoveryMinute: 40, durationMinutes: 120 });
    expect(source.run.minutes[30]?.consumers).toBeLessThan(source.run.minutes[0]!.consumers);
    expect(source.run.minutes[119]?.consumers).toBe(source.run.minutes[0]?.consumers);
    expect(source.run.minutes[119]?.lagSeconds).toBeLessThan(60);
  });

  it('rejects a negative history', () => {
    expect(() => new ScenarioReplaySource({ kind: 'partner_slowdown', seed: 1, historyMinutes: -5 })).toThrow(/invalid scenario history -5/);
  });
});

describe('an injected partner slowdown', () => {
  it('jumps at onset, then climbs', () => {
    const gradual = generateScenario('partner_slowdown', { seed: 7, onsetMinute: 10 });
    const injected = generateScenario('partner_slowdown', { seed: 7, onsetMinute: 10, injected: true });
    const ratio = (minute: number) => injected.minutes[minute]!.partnerLatencyMs / gradual.minutes[minute]!.partnerLatencyMs;
    expect(ratio(9)).toBe(1);
    expect(ratio(10)).toBeGreaterThan(1.5);
    expect(ratio(120)).toBeCloseTo(1, 5);
    expect(injected.description).toMatch(/jumps .*x at minute 10/);
  });

  it('is the live replay default', () => {
    const startedAt = new Date('2026-03-02T06:00:00.000Z');
    const replay = new ScenarioReplaySource({ kind: 'partner_slowdown', seed: 7, startedAt, onsetMinute: 10 });
    const injected = generateScenario('partner_slowdown', { seed: 7, startedAt, onsetMinute: 10, injected: true });
    expect(replay.run.minutes).toEqual(injected.minutes);
  });
});

describe('pickLiveSeed', () => {
  it('picks a seed that breaches soon', () => {
    const seed = pickLiveSeed('partner_slowdown', 5);
    const run = generateScenario('partner_slowdown', { seed, onsetMinute: 5, injected: true });
    expect(run.breachAt).not.toBeNull();
    expect(run.breachAt!.getTime() - run.startedAt.getTime()).toBeLessThanOrEqual(30 * 60_000);
  });

  it('returns 1 for a benign scenario', () => {
    expect(pickLiveSeed('shift_change_burst', 5)).toBe(1);
  });
});
