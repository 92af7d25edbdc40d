import { buildSample, type SampleOrigin } from './common.js';
import { WHOLE_SOURCE_ENTITY } from './lag-conditions.js';
import type { FailureRecord, LagSample } from './types.js';

/**
 * States counted per channel and job function. `done` and `cancelled` are
 * left out because the table keeps finished jobs for weeks and counting them
 * would scan that history on every poll.
 */
export const COUNTED_JOB_STATES = ['wait_dependencies', 'pending', 'enqueued', 'started', 'failed'] as const;
export type CountedJobState = (typeof COUNTED_JOB_STATES)[number];

/** Maximum length of a stored exception message, in characters. */
export const MAX_EXCEPTION_MESSAGE_CHARS = 4_000;

/** Channel and job function of a queue_job job, which together name the entity of its samples. */
export interface JobGroup {
  channel: string;
  jobFunction: string;
}

/** Figures of one job group from one read, the same whether read with SQL or through Odoo's API. */
export interface JobGroupStats extends JobGroup {
  counts: Record<CountedJobState, number>;
  /** Pending jobs whose `eta` is still in the future. */
  scheduled: number;
  stuckStarted: number;
  stuckEnqueued: number;
  /** Age of the oldest `pending` or `enqueued` job from `max(eta, date_created)`; null when none has a date. */
  oldestWaitingSeconds: number | null;
  oldestPendingSeconds: number | null;
  /** True when the search for the oldest waiting job stopped early, so its age may be short. */
  oldestTruncated?: boolean;
}

/** One failed job as either source reads it. */
export interface FailedJob extends JobGroup {
  uuid: string;
  name: string | undefined;
  excName: string | undefined;
  excMessage: string | undefined;
  /** Python traceback, read only when `excName` is missing. */
  excInfo: string | undefined;
  failedAtMs: number | undefined;
  retry: number;
  maxRetries: number | undefined;
}

/** Builds the key of a group, which is the entity of its samples: `channel/job function`. */
export function buildJobGroupKey(group: JobGroup): string {
  return `${group.channel}/${group.jobFunction}`;
}

/**
 * Builds the samples and failure records of a source that reads Odoo's job
 * queue. It remembers every group it has reported, so a group with no jobs
 * left reports zeros instead of vanishing.
 */
export class JobQueueSampleBuilder {
  readonly #origin: SampleOrigin;
  readonly #workflow: string;
  readonly #knownGroups = new Map<string, JobGroup>();

  constructor(origin: SampleOrigin, workflow: string) {
    this.#origin = origin;
    this.#workflow = workflow;
  }

  /**
   * Builds one sample per group in `groups` and per known group missing from
   * them. `extraAttributes` are added to every sample.
   */
  buildSamples(now: Date, groups: readonly JobGroupStats[], extraAttributes: Record<string, string> = {}): LagSample[] {
    const samples: LagSample[] = [];
    const seen = new Set<string>();
    for (const stats of groups) {
      const group = { channel: stats.channel, jobFunction: stats.jobFunction };
      const key = buildJobGroupKey(group);
      seen.add(key);
      this.#knownGroups.set(key, group);
      samples.push(this.#buildGroupSample(now, group, stats, extraAttributes));
    }
    for (const [key, group] of this.#knownGroups) {
      if (!seen.has(key)) samples.push(this.#buildGroupSample(now, group, undefined, extraAttributes));
    }
    if (samples.length === 0) samples.push(this.#buildEmptySample(now, extraAttributes));
    return samples;
  }

  /** Builds a `source_down` sample with `detail` for every known group, or for the whole source before the first group. */
  buildDownSamples(now: Date, detail: string): LagSample[] {
    const groups = [...this.#knownGroups.values()];
    const entities = groups.length > 0 ? groups.map(buildJobGroupKey) : [WHOLE_SOURCE_ENTITY];
    return entities.map((entity) => {
      const sample = buildSample(this.#origin, now, entity, this.#workflow, 'source_down');
      sample.detail = detail;
      return sample;
    });
  }

  /** Builds the failure record of a failed job, reading the exception from its traceback when the name is missing. */
  buildFailure(now: Date, job: FailedJob): FailureRecord {
    const parsed = job.excInfo ? parseExceptionInfo(job.excInfo) : undefined;
    const attributes: Record<string, string> = { channel: job.channel, job_function: job.jobFunction };
    if (job.name) attributes.job_name = job.name;
    if (job.maxRetries !== undefined) attributes.max_retries = String(job.maxRetries);
    if (job.failedAtMs === undefined) attributes.failed_at_unknown = 'true';
    return {
      observedAt: now,
      failedAt: new Date(job.failedAtMs ?? now.getTime()),
      integration: this.#origin.integration,
      workflow: this.#workflow,
      source: this.#origin.source,
      sourceKind: this.#origin.sourceKind,
      entity: buildJobGroupKey(job),
      failureId: job.uuid,
      exceptionName: job.excName ?? parsed?.name ?? '',
      exceptionMessage: truncate(job.excMessage ?? parsed?.message ?? '', MAX_EXCEPTION_MESSAGE_CHARS),
      retryCount: job.retry,
      attributes,
    };
  }

  #buildGroupSample(
    now: Date,
    group: JobGroup,
    stats: JobGroupStats | undefined,
    extraAttributes: Record<string, string>,
  ): LagSample {
    const sample = buildSample(this.#origin, now, buildJobGroupKey(group), this.#workflow, 'ok');
    const counts = stats?.counts ?? { wait_dependencies: 0, pending: 0, enqueued: 0, started: 0, failed: 0 };
    sample.stateCounts = { ...counts };
    sample.depth = counts.pending + counts.enqueued;
    sample.inFlight = counts.started;
    sample.failed = counts.failed;
    sample.stuck = (stats?.stuckStarted ?? 0) + (stats?.stuckEnqueued ?? 0);
    sample.lagEstimated = false;

    const attributes: Record<string, string> = {
      channel: group.channel,
      job_function: group.jobFunction,
      ...extraAttributes,
    };
    if (sample.depth === 0) {
      sample.lagSeconds = 0;
    } else if (stats?.oldestWaitingSeconds !== null && stats?.oldestWaitingSeconds !== undefined) {
      // A future eta gives a negative age: that job is scheduled, not late.
      sample.lagSeconds = Math.max(0, stats.oldestWaitingSeconds);
      if (stats.oldestPendingSeconds !== null) {
        attributes.oldest_pending_seconds = Math.max(0, stats.oldestPendingSeconds).toFixed(3);
      }
      if (stats.oldestTruncated) attributes.oldest_search_truncated = 'true';
    } else {
      sample.detail = 'waiting jobs have neither eta nor date_created';
    }
    if (stats !== undefined) {
      attributes.scheduled = String(stats.scheduled);
      attributes.stuck_started = String(stats.stuckStarted);
      attributes.stuck_enqueued = String(stats.stuckEnqueued);
    }
    sample.attributes = attributes;
    return sample;
  }

  /** Builds the sample of a queue with no jobs, which is healthy and keeps the source's series from vanishing. */
  #buildEmptySample(now: Date, extraAttributes: Record<string, string>): LagSample {
    const sample = buildSample(this.#origin, now, WHOLE_SOURCE_ENTITY, this.#workflow, 'ok');
    sample.depth = 0;
    sample.inFlight = 0;
    sample.lagSeconds = 0;
    sample.lagEstimated = false;
    sample.stuck = 0;
    sample.failed = 0;
    sample.stateCounts = Object.fromEntries(COUNTED_JOB_STATES.map((state) => [state, 0]));
    if (Object.keys(extraAttributes).length > 0) sample.attributes = { ...extraAttributes };
    return sample;
  }
}

/**
 * Reads the exception name and message from the last line of a Python
 * traceback (`module.Error: message`), for tables without `exc_name`.
 */
export function parseExceptionInfo(excInfo: string): { name: string; message: string } | undefined {
  const lines = excInfo.split('\n').map((line) => line.trim()).filter((line) => line.length > 0);
  const last = lines.at(-1);
  if (last === undefined) return undefined;
  const match = /^([A-Za-z_][\w.]*):\s?(.*)$/.exec(last);
  if (!match) return { name: last, message: '' };
  return { name: match[1] ?? '', message: match[2] ?? '' };
}

function truncate(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1)}…`;
}
