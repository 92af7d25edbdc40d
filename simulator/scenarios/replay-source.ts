import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { LagSource, PollResult } from '../../collector/sources/types.js';
import { DEFAULT_SCENARIO_MINUTES, generateScenario } from './generators.js';
import { buildFailures, buildProbeSample, buildQueueSample, writeScenarioRuns } from './samples.js';
import type { ScenarioKind, ScenarioMinute, ScenarioRun } from './types.js';

/** Default minutes of normal traffic a live replay shows before the disturbance. */
export const LIVE_SCENARIO_ONSET_MINUTES = 5;

/** Poll interval of the replay source, which reports each simulated minute once. */
const REPLAY_POLL_INTERVAL_MS = 5_000;

/** Default history written before a live replay: the two days the analyzer reads to learn its baselines. */
export const DEFAULT_SCENARIO_HISTORY_MINUTES = 2 * 1440;

/** Plants change shifts every eight hours, so a shift-change burst recurs with this period in the history. */
const SHIFT_MINUTES = 480;

const MINUTE_MS = 60_000;

/** A live replay picks the first seed whose run breaches within this many minutes, so a demo shows the alert soon. */
const LIVE_BREACH_WITHIN_MINUTES = 30;

export interface ScenarioReplayOptions {
  kind: ScenarioKind;
  /** Default: from `pickLiveSeed`. */
  seed?: number;
  /** Wall-clock start of the replay. Default: the time of creation. */
  startedAt?: Date;
  /** Default `LIVE_SCENARIO_ONSET_MINUTES`. */
  onsetMinute?: number;
  /** Default: the generator's default run length. */
  durationMinutes?: number;
  /** Minute of the live replay from which traffic is normal again. Default: the disturbance lasts to the end. */
  recoveryMinute?: number;
  /**
   * Minutes of normal traffic before `startedAt` that `history()` returns,
   * for the store to hold before the replay starts. A recurring scenario
   * (the shift-change burst) recurs in it. Default 0.
   */
  historyMinutes?: number;
  /** Start the disturbance at once, as an injected fault does (see `ScenarioOptions.injected`). Default true. */
  injected?: boolean;
}

/**
 * A pull source that replays a scenario run in real time, one simulated
 * minute per minute of wall-clock time, so the demo's collector stores it
 * like any polled queue. The demo injects its disturbance, so by default it
 * starts at once. After the last minute it reports nothing more.
 */
export class ScenarioReplaySource implements LagSource {
  readonly name: string;
  readonly kind = 'scenario';
  readonly intervalMs = REPLAY_POLL_INTERVAL_MS;
  readonly integration: string;
  readonly workflow: string;
  readonly run: ScenarioRun;
  readonly #history: ScenarioRun[];
  #nextMinute = 0;
  #reported: ScenarioMinute | undefined;

  constructor(options: ScenarioReplayOptions) {
    const startedAt = options.startedAt ?? new Date();
    const onsetMinute = options.onsetMinute ?? LIVE_SCENARIO_ONSET_MINUTES;
    const historyMinutes = options.historyMinutes ?? 0;
    if (!Number.isInteger(historyMinutes) || historyMinutes < 0) {
      throw new RangeError(`invalid scenario history ${historyMinutes}: expected a whole number of minutes, 0 or more`);
    }
    const injected = options.injected ?? true;
    const seed = options.seed ?? pickLiveSeed(options.kind, onsetMinute, injected);
    const durationMinutes = options.durationMinutes ?? DEFAULT_SCENARIO_MINUTES;
    if (options.kind === 'shift_change_burst') {
      this.run = generateScenario(options.kind, {
        seed,
        startedAt,
        onsetMinute,
        durationMinutes,
        recoveryMinute: options.recoveryMinute,
        injected,
      });
      this.#history = recurringHistory(this.run, onsetMinute, historyMinutes);
    } else {
      // One run from the start of the history, so the live minutes continue its queue state.
      const whole = generateScenario(options.kind, {
        seed,
        startedAt: new Date(startedAt.getTime() - historyMinutes * MINUTE_MS),
        onsetMinute: historyMinutes + onsetMinute,
        durationMinutes: historyMinutes + durationMinutes,
        recoveryMinute: options.recoveryMinute === undefined ? undefined : historyMinutes + options.recoveryMinute,
        injected,
      });
      this.run = { ...whole, startedAt, minutes: whole.minutes.slice(historyMinutes) };
      this.#history = historyMinutes > 0 ? [{ ...whole, minutes: whole.minutes.slice(0, historyMinutes) }] : [];
    }
    this.name = `scenario-${options.kind}`;
    this.integration = this.run.target.integration;
    this.workflow = this.run.target.workflow;
  }

  /** Returns the runs of the history before the replay, for `writeScenarioRuns`. */
  history(): ScenarioRun[] {
    return this.#history;
  }

  /**
   * Reports the current state on every poll, as a real source does, so the
   * scheduler never marks its entities as disappeared. The queue is reported
   * as the latest ended minute left it, and the partner probe as it responds
   * in the minute under way. Failures of every minute ended since the last
   * poll are reported once.
   */
  async poll(now: Date): Promise<PollResult> {
    const failures: PollResult['failures'] = [];
    while (this.#nextMinute < this.run.minutes.length) {
      const minute = this.run.minutes[this.#nextMinute];
      if (minute === undefined || minute.at.getTime() > now.getTime()) break;
      failures.push(...buildFailures(this.run, minute, now));
      this.#reported = minute;
      this.#nextMinute += 1;
    }
    const latest = this.#reported;
    // After the run's last minute the source falls silent, one minute later.
    const ended = this.#nextMinute >= this.run.minutes.length && latest !== undefined && now.getTime() > latest.at.getTime() + 60_000;
    if (ended) return { samples: [], failures };
    const samples: PollResult['samples'] = [];
    if (latest !== undefined) samples.push(buildQueueSample(this.run, latest, now));
    const underWay = this.run.minutes[this.#nextMinute] ?? latest;
    if (underWay !== undefined) samples.push(buildProbeSample(this.run, underWay, now));
    return { samples, failures };
  }

  async close(): Promise<void> {
    // Holds no connection.
  }
}

/**
 * Writes the history of each scenario replay, so the analyzer starts with
 * learned baselines instead of hours of warm-up. Its samples are timed as the
 * replay reports them, so the live minutes continue the history's pattern.
 */
export async function writeScenarioHistory(client: ClickHouseClient, replays: readonly ScenarioReplaySource[], logger: Logger): Promise<void> {
  for (const replay of replays) {
    const runs = replay.history();
    if (runs.length === 0) continue;
    await writeScenarioRuns(client, runs, 'replay');
    const minutes = runs.reduce((sum, run) => sum + run.minutes.length, 0);
    logger.info({ source: replay.name, integration: replay.integration, minutes }, 'scenario history written');
  }
}

/**
 * Returns the runs of a recurring scenario before `live`: the same burst
 * every `SHIFT_MINUTES`, at the same minute of each period as in the live
 * run, covering `historyMinutes` before it.
 */
function recurringHistory(live: ScenarioRun, onsetMinute: number, historyMinutes: number): ScenarioRun[] {
  const runs: ScenarioRun[] = [];
  const liveStart = live.startedAt.getTime();
  for (let period = Math.ceil(historyMinutes / SHIFT_MINUTES); period >= 1; period -= 1) {
    const run = generateScenario(live.kind, {
      seed: live.seed,
      startedAt: new Date(liveStart - period * SHIFT_MINUTES * MINUTE_MS),
      onsetMinute,
      durationMinutes: SHIFT_MINUTES,
      // The same burst each shift, with its own arrivals and response times.
      noiseSeed: live.seed * 1_000 + period,
    });
    const skipped = Math.max(0, period * SHIFT_MINUTES - historyMinutes);
    runs.push({ ...run, minutes: run.minutes.slice(skipped) });
  }
  return runs;
}

/**
 * Returns the first seed from 1 to 50 whose run of `kind` breaches within
 * `LIVE_BREACH_WITHIN_MINUTES` of its start, or 1 for a scenario that never
 * breaches or when no seed does.
 */
export function pickLiveSeed(kind: ScenarioKind, onsetMinute: number, injected = true): number {
  for (let seed = 1; seed <= 50; seed += 1) {
    const run = generateScenario(kind, { seed, onsetMinute, durationMinutes: LIVE_BREACH_WITHIN_MINUTES, injected });
    if (run.breachAt !== null) return seed;
  }
  return 1;
}
