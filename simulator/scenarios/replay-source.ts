import type { LagSource, PollResult } from '../../collector/sources/types.js';
import { generateScenario } from './generators.js';
import { buildScenarioPoll } from './samples.js';
import type { ScenarioKind, ScenarioMinute, ScenarioRun } from './types.js';

/** Default minutes of normal traffic a live replay shows before the disturbance. */
export const LIVE_SCENARIO_ONSET_MINUTES = 5;

/** Poll interval of the replay source, which reports each simulated minute once. */
const REPLAY_POLL_INTERVAL_MS = 5_000;

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
}

/**
 * A pull source that replays a scenario run in real time, one simulated
 * minute per minute of wall-clock time, so the demo's collector stores it
 * like any polled queue. After the last minute it reports nothing more.
 */
export class ScenarioReplaySource implements LagSource {
  readonly name: string;
  readonly kind = 'scenario';
  readonly intervalMs = REPLAY_POLL_INTERVAL_MS;
  readonly integration: string;
  readonly workflow: string;
  readonly run: ScenarioRun;
  #nextMinute = 0;
  #reported: ScenarioMinute | undefined;

  constructor(options: ScenarioReplayOptions) {
    const startedAt = options.startedAt ?? new Date();
    const onsetMinute = options.onsetMinute ?? LIVE_SCENARIO_ONSET_MINUTES;
    this.run = generateScenario(options.kind, {
      seed: options.seed ?? pickLiveSeed(options.kind, onsetMinute),
      startedAt,
      onsetMinute,
      ...(options.durationMinutes === undefined ? {} : { durationMinutes: options.durationMinutes }),
    });
    this.name = `scenario-${options.kind}`;
    this.integration = this.run.target.integration;
    this.workflow = this.run.target.workflow;
  }

  /**
   * Reports the latest ended minute on every poll, as a real source reports
   * the current state, so the scheduler never marks its entities as
   * disappeared. Failures of every minute ended since the last poll are
   * reported once.
   */
  async poll(now: Date): Promise<PollResult> {
    const failures: PollResult['failures'] = [];
    while (this.#nextMinute < this.run.minutes.length) {
      const minute = this.run.minutes[this.#nextMinute];
      if (minute === undefined || minute.at.getTime() > now.getTime()) break;
      failures.push(...buildScenarioPoll(this.run, minute, now).failures);
      this.#reported = minute;
      this.#nextMinute += 1;
    }
    const latest = this.#reported;
    // After the run's last minute the source falls silent, one minute later.
    const ended = this.#nextMinute >= this.run.minutes.length && latest !== undefined && now.getTime() > latest.at.getTime() + 60_000;
    if (latest === undefined || ended) return { samples: [], failures };
    return { samples: buildScenarioPoll(this.run, latest, now).samples, failures };
  }

  async close(): Promise<void> {
    // Holds no connection.
  }
}

/**
 * Returns the first seed from 1 to 50 whose run of `kind` breaches within
 * `LIVE_BREACH_WITHIN_MINUTES` of its start, or 1 for a scenario that never
 * breaches or when no seed does.
 */
export function pickLiveSeed(kind: ScenarioKind, onsetMinute: number): number {
  for (let seed = 1; seed <= 50; seed += 1) {
    const run = generateScenario(kind, { seed, onsetMinute, durationMinutes: LIVE_BREACH_WITHIN_MINUTES });
    if (run.breachAt !== null) return seed;
  }
  return 1;
}
