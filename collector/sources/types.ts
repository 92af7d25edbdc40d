/**
 * Health of one observation. `source_down` means the source could not be read,
 * which is never reported as zero lag. An entity that a source stopped
 * reporting is `source_down` too, with the `series_disappeared` condition.
 */
export type LagStatus = 'ok' | 'source_down';

/**
 * Monitoring pitfall found on a sample, stored in the `conditions` column.
 * - `no_consumers`: items are waiting and no consumer is attached.
 * - `clock_skew`: the lag came out negative because the clock that stamped the
 *   item runs ahead of ours, so it was clamped to zero.
 * - `series_disappeared`: a successful poll no longer returns an entity that
 *   earlier polls reported.
 * - `unacked_stalled`: consumers hold delivered messages and no
 *   acknowledgement has arrived across polls.
 */
export type LagCondition = 'no_consumers' | 'clock_skew' | 'series_disappeared' | 'unacked_stalled';

/**
 * One observation of one entity (a queue, a job channel and function) taken
 * by a pull source. Optional numbers are left undefined when the source cannot
 * report them; they are stored as NULL, never as zero.
 */
export interface LagSample {
  observedAt: Date;
  integration: string;
  workflow: string;
  source: string;
  sourceKind: string;
  entity: string;
  status: LagStatus;
  /** Age of the oldest waiting item, in seconds. */
  lagSeconds?: number;
  /** True when `lagSeconds` is estimated from rates rather than read from the oldest item. */
  lagEstimated?: boolean;
  /** Items waiting to be delivered or started. */
  depth?: number;
  /** Items delivered or started but not yet acknowledged or done. */
  inFlight?: number;
  consumers?: number;
  inflowPerSecond?: number;
  outflowPerSecond?: number;
  /** Items in progress for longer than the source's stuck threshold, or held unacknowledged by a stalled consumer. */
  stuck?: number;
  failed?: number;
  stateCounts?: Record<string, number>;
  /** Reason the source is down, or other short context. */
  detail?: string;
  attributes?: Record<string, string>;
  /** Pitfalls found on this sample; the scheduler adds the ones it can derive from the fields above. */
  conditions?: LagCondition[];
}

/** One failure read from an integration, such as a failed Odoo job. */
export interface FailureRecord {
  observedAt: Date;
  failedAt: Date;
  integration: string;
  workflow: string;
  source: string;
  sourceKind: string;
  entity: string;
  /** Stable id of the failure in its system (a job uuid, a message id). */
  failureId: string;
  exceptionName: string;
  exceptionMessage: string;
  retryCount: number;
  attributes?: Record<string, string>;
}

/** Result of one poll of a source. */
export interface PollResult {
  samples: LagSample[];
  failures: FailureRecord[];
}

/**
 * A pull source: something syncwatch polls for event lag. A poll that cannot
 * reach its system resolves with `source_down` samples instead of rejecting.
 */
export interface LagSource {
  readonly name: string;
  readonly kind: string;
  /** Poll interval in milliseconds. */
  readonly intervalMs: number;
  /** Integration the source belongs to, used when a poll rejects and the scheduler reports the source down. */
  readonly integration?: string;
  /** Workflow the source belongs to, used the same way as `integration`. */
  readonly workflow?: string;
  /** Time limit of one whole poll in milliseconds, after which the scheduler abandons it; defaults to the scheduler's. */
  readonly pollTimeoutMs?: number;
  poll(now: Date): Promise<PollResult>;
  close(): Promise<void>;
}
