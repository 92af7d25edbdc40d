/** Scenario generators of the demo network, each with a known outcome. */
export const SCENARIO_KINDS = [
  'partner_slowdown',
  'consumer_crash',
  'shift_change_burst',
  'month_end_batch',
  'plant_network_outage',
  'expiring_credentials',
  'dead_letter_leak',
] as const;
export type ScenarioKind = (typeof SCENARIO_KINDS)[number];

/** Scenarios whose load is normal for a plant and must not raise an alert. */
export const BENIGN_SCENARIO_KINDS: readonly ScenarioKind[] = ['shift_change_burst', 'month_end_batch'];

/** The integration, workflow and plant a scenario run disturbs, with the workflow's objective. */
export interface ScenarioTarget {
  integration: string;
  workflow: string;
  plant: string;
  /** Lag at or above which the workflow breaks its objective, in seconds. */
  objectiveSeconds: number;
}

/**
 * Indicators of one simulated minute, as a queue source and a partner probe
 * would report them at the end of that minute.
 */
export interface ScenarioMinute {
  /** End of the minute, when the sources report it. */
  at: Date;
  /** Minutes since the start of the run. */
  minute: number;
  /** Age of the oldest waiting message, in seconds. */
  lagSeconds: number;
  depth: number;
  inFlight: number;
  consumers: number;
  inflowPerSecond: number;
  outflowPerSecond: number;
  /** Messages held by consumers that stopped making progress. */
  stuck: number;
  /** Messages in the dead-letter queue. */
  deadLetters: number;
  /** Processing attempts that failed in this minute and were retried or dead-lettered. */
  failedAttempts: number;
  /** Response time of the partner endpoint, in milliseconds. */
  partnerLatencyMs: number;
  /** HTTP status of the partner probe, 0 when no response arrived. */
  partnerStatusCode: number;
  /** Days until the integration's client credential expires; negative once expired. */
  credentialDaysLeft: number;
}

/** A generated run with its ground truth. */
export interface ScenarioRun {
  kind: ScenarioKind;
  seed: number;
  target: ScenarioTarget;
  startedAt: Date;
  /** Time the disturbance begins. */
  onsetAt: Date;
  /** End of the first minute whose lag reached the objective, or null when the run never breaches. */
  breachAt: Date | null;
  /** What the run simulates, in one sentence with its drawn parameters. */
  description: string;
  minutes: ScenarioMinute[];
}

/** Options of one generated run. */
export interface ScenarioOptions {
  seed: number;
  /** Start of simulated time. Default 2026-01-05T00:00:00Z. */
  startedAt?: Date;
  /** Minutes of normal traffic before the disturbance. Default: drawn from the seed, 30 to 50. */
  onsetMinute?: number;
  /** Length of the run in minutes. Default 150. */
  durationMinutes?: number;
  /** Plant of the run. Default: drawn from the seed among the demo plants. */
  plant?: string;
  /** Minute from which conditions are normal again, so a backlog drains. Default: the disturbance lasts to the end. */
  recoveryMinute?: number;
  /** Seed of the minute-to-minute noise, so runs with one plan can differ. Default: drawn from `seed`. */
  noiseSeed?: number;
  /**
   * Start the disturbance at once, as an injected fault does, instead of
   * growing it from normal. Changes the partner slowdown only: its response
   * time jumps half way to its peak at the onset. Default false.
   */
  injected?: boolean;
}
