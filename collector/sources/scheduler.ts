import type { Logger } from 'pino';
import { describeError } from './common.js';
import { ConcurrencyLimiter } from './concurrency-limiter.js';
import {
  applySampleConditions,
  DEFAULT_SERIES_RETENTION_MS,
  SeriesTracker,
  WHOLE_SOURCE_ENTITY,
  type SeriesChanges,
} from './lag-conditions.js';
import {
  addJitter,
  computeBaseDelayMs,
  computeFirstPollDelayMs,
  MAX_BACKOFF_MS,
  POLL_JITTER_RATIO,
  type RandomFunction,
} from './poll-timing.js';
import type { FailureRecord, LagSample, LagSource, PollResult } from './types.js';

/** Polls allowed to run at once across all sources; the rest wait in the order they fell due. */
export const MAX_CONCURRENT_POLLS = 16;

/** Time limit of one poll when neither the source nor the options set one, in milliseconds. */
export const DEFAULT_POLL_TIMEOUT_MS = 30_000;

/**
 * Result of one poll:
 * - `ok`: the poll returned and no sample of the source is `source_down`;
 * - `down`: the poll returned with at least one `source_down` sample;
 * - `error`: the poll rejected;
 * - `timeout`: the poll did not settle within its time limit and was
 *   abandoned, or an earlier abandoned poll of the source is still running.
 */
export type PollOutcome = 'ok' | 'down' | 'error' | 'timeout';

/** One poll of one source, stored in `source_polls`. */
export interface PollRecord {
  source: string;
  sourceKind: string;
  integration: string;
  startedAt: Date;
  /** Time from the start of the poll until it returned, rejected or was abandoned, in milliseconds. */
  durationMs: number;
  outcome: PollOutcome;
  /** Samples written for the poll, including the ones the scheduler added. */
  samples: number;
  /** Those of `samples` with status `source_down`. */
  downSamples: number;
  failures: number;
  /** Failed polls in a row up to and including this one; 0 when this poll read the source. */
  consecutiveFailures: number;
  /** Reason the poll failed or the source is down; empty for an `ok` poll. */
  error: string;
}

/** Samples, failures and poll records handed to the sink together. */
export interface LagBatch extends PollResult {
  polls?: PollRecord[];
}

/** Destination of polled samples and failures, such as the ClickHouse lag writer. */
export interface LagSink {
  /** Stores a batch; the promise settles once the batch is stored or has failed. */
  write(batch: LagBatch): Promise<void>;
  /** Stores whatever the sink buffers, now. */
  flush?(): Promise<void>;
}

export interface SourcePollingOptions {
  logger?: Logger;
  /** Polls allowed at once across all sources. Default `MAX_CONCURRENT_POLLS`. */
  maxConcurrentPolls?: number;
  /** Time limit of one poll for sources that set no `pollTimeoutMs`. Default `DEFAULT_POLL_TIMEOUT_MS`. */
  pollTimeoutMs?: number;
  /** Maximum delay between polls of a failing source. Default `MAX_BACKOFF_MS`. */
  maxBackoffMs?: number;
  /** Share of the delay by which each delay between polls varies at random. Default `POLL_JITTER_RATIO`. */
  jitterRatio?: number;
  /** Time an entity that is no longer reported keeps getting `series_disappeared` samples. Default `DEFAULT_SERIES_RETENTION_MS`. */
  seriesRetentionMs?: number;
  /** When true (the default), each source's first poll starts at a random point of its first interval; otherwise at once. */
  spreadFirstPolls?: boolean;
  /** Random numbers in [0, 1) for jitter and first-poll delays. Default `Math.random`. */
  random?: RandomFunction;
  /** Time passed to each poll and stamped on its samples. Default: the system clock. Delays and timeouts always run on the system clock. */
  clock?: () => Date;
}

/** Poll counters of one source since polling started. */
export interface SourcePollStats {
  source: string;
  /** Polls started, including those skipped because an abandoned poll was still running. */
  polls: number;
  /** Polls that rejected instead of resolving. */
  pollErrors: number;
  /** Polls abandoned after their time limit, or skipped while an abandoned poll was still running. */
  timeouts: number;
  /** Polls whose outcome was not `ok`. */
  downPolls: number;
  /** Batches of this source that the sink failed to store. */
  writeErrors: number;
  /** Failed polls in a row; a failed poll could not read the source at all. */
  consecutiveFailures: number;
  lastOutcome?: PollOutcome;
  lastDurationMs?: number;
  /** Delay from the start of the last poll to the next one, with jitter and backoff, in milliseconds. */
  nextPollDelayMs?: number;
  /** Entities remembered for `series_disappeared`. */
  trackedSeries: number;
}

/** Handle of running polls. */
export interface SourcePolling {
  /** Stops the timers, waits for polls in flight and flushes the sink. The sources stay open; their owner closes them. */
  stop(): Promise<void>;
  /**
   * Polls every source now, regardless of backoff, and waits for the results
   * to be stored; a poll in flight is awaited, not repeated.
   */
  pollNow(): Promise<void>;
  stats(): SourcePollStats[];
}

interface SourceState {
  source: LagSource;
  stats: SourcePollStats;
  series: SeriesTracker;
  timer: NodeJS.Timeout | undefined;
  /** The current poll, until its batch is handed to the sink. */
  polling: Promise<void> | undefined;
  /** A poll that timed out and is still running; the source is not polled again until it settles. */
  abandoned: Promise<void> | undefined;
  abandonedAtMs: number;
  /** True while some, but not all, entities of the source are down. */
  partlyDown: boolean;
}

/** Result of one poll attempt, before the scheduler adds its own samples. */
type PollAttempt =
  | { kind: 'returned'; startedAtMs: number; observedAt: Date; durationMs: number; result: PollResult }
  | { kind: 'error' | 'timeout'; startedAtMs: number; observedAt: Date; durationMs: number; detail: string };

/** A finished poll: the batch to store and whether it counts towards backoff. */
interface FinishedPoll {
  batch: LagBatch;
  record: PollRecord;
  failed: boolean;
}

const TIMED_OUT = Symbol('timed out');

/** Entities named in one log line about series that disappeared or reappeared. */
const MAX_LOGGED_ENTITIES = 5;

/**
 * Polls each source on its own interval and writes samples, failures and one
 * poll record per poll to `sink`.
 *
 * - The first poll of each source starts at a random point of its first
 *   interval (see `spreadFirstPolls`). Each later poll starts one interval,
 *   varied by `jitterRatio`, after the previous one started, or right after
 *   that poll ends when it took longer, so polls of one source never overlap.
 * - A poll fails when it rejects, times out, or returns only `source_down`
 *   samples. Each failed poll in a row multiplies the delay (see
 *   `computeBaseDelayMs`) up to `maxBackoffMs`, and the first poll that reads
 *   the source resets it. Every failed poll writes `source_down` samples for
 *   the source's known entities, so a source in backoff never looks healthy.
 * - A poll that does not settle within its time limit is abandoned: other
 *   sources keep their schedule, and this source is not polled again until the
 *   abandoned poll settles, each skipped turn counting as a timeout.
 * - At most `maxConcurrentPolls` polls run at once. A poll that waits for a
 *   slot starts, and its time limit begins, when it gets one.
 * - Every sample gets the shared conditions (`applySampleConditions`), and an
 *   entity missing from a poll gets a `series_disappeared` sample (`SeriesTracker`).
 *
 * Timers are unref'ed and do not keep the process alive.
 */
export function startSourcePolling(
  sources: readonly LagSource[],
  sink: LagSink,
  options: SourcePollingOptions = {},
): SourcePolling {
  return new SourceScheduler(sources, sink, options);
}

/** The polling loop behind `startSourcePolling`. */
class SourceScheduler implements SourcePolling {
  readonly #sink: LagSink;
  readonly #options: SourcePollingOptions;
  readonly #logger: Logger | undefined;
  readonly #limiter: ConcurrencyLimiter;
  readonly #maxBackoffMs: number;
  readonly #jitterRatio: number;
  readonly #random: RandomFunction;
  readonly #clock: () => Date;
  readonly #states: SourceState[];
  readonly #pendingWrites = new Set<Promise<void>>();
  #failedWritesInRow = 0;
  #stopped = false;

  constructor(sources: readonly LagSource[], sink: LagSink, options: SourcePollingOptions) {
    this.#sink = sink;
    this.#options = options;
    this.#logger = options.logger;
    this.#limiter = new ConcurrencyLimiter(options.maxConcurrentPolls ?? MAX_CONCURRENT_POLLS);
    this.#maxBackoffMs = options.maxBackoffMs ?? MAX_BACKOFF_MS;
    this.#jitterRatio = options.jitterRatio ?? POLL_JITTER_RATIO;
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? (() => new Date());
    const retentionMs = options.seriesRetentionMs ?? DEFAULT_SERIES_RETENTION_MS;
    this.#states = sources.map((source) => ({
      source,
      stats: {
        source: source.name,
        polls: 0,
        pollErrors: 0,
        timeouts: 0,
        downPolls: 0,
        writeErrors: 0,
        consecutiveFailures: 0,
        trackedSeries: 0,
      },
      series: new SeriesTracker(source.name, source.kind, retentionMs),
      timer: undefined,
      polling: undefined,
      abandoned: undefined,
      abandonedAtMs: 0,
      partlyDown: false,
    }));

    const spread = options.spreadFirstPolls ?? true;
    for (const state of this.#states) {
      this.#schedule(state, spread ? computeFirstPollDelayMs(state.source.intervalMs, this.#random) : 0);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const state of this.#states) {
      clearTimeout(state.timer);
      state.timer = undefined;
    }
    await Promise.allSettled(this.#states.map((state) => state.polling));
    await this.#flushSink();
  }

  async pollNow(): Promise<void> {
    await Promise.all(this.#states.map((state) => this.#runPoll(state)));
    await this.#flushSink();
  }

  stats(): SourcePollStats[] {
    return this.#states.map((state) => ({ ...state.stats }));
  }

  #schedule(state: SourceState, delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      state.timer = undefined;
      void this.#runPoll(state);
    }, delayMs);
    state.timer.unref();
  }

  #runPoll(state: SourceState): Promise<void> {
    if (state.polling) return state.polling;
    clearTimeout(state.timer);
    state.timer = undefined;
    state.polling = this.#pollOnce(state).finally(() => {
      state.polling = undefined;
    });
    return state.polling;
  }

  async #pollOnce(state: SourceState): Promise<void> {
    await this.#limiter.acquire();
    let attempt: PollAttempt;
    try {
      if (this.#stopped) return;
      attempt = await this.#attemptPoll(state);
    } finally {
      this.#limiter.release();
    }

    const finished = this.#finishPoll(state, attempt);
    const failures = state.stats.consecutiveFailures;
    const baseDelayMs = computeBaseDelayMs(state.source.intervalMs, failures, this.#maxBackoffMs);
    const delayMs = addJitter(baseDelayMs, this.#jitterRatio, this.#random);
    state.stats.nextPollDelayMs = delayMs;
    this.#schedule(state, Math.max(0, attempt.startedAtMs + delayMs - Date.now()));
    if (finished.failed) this.#logFailure(state, finished.record, delayMs);
    this.#writeBatch(state, finished.batch);
  }

  async #attemptPoll(state: SourceState): Promise<PollAttempt> {
    const { source } = state;
    const startedAtMs = Date.now();
    const observedAt = this.#clock();
    if (state.abandoned) {
      const runningMs = startedAtMs - state.abandonedAtMs;
      const detail = `poll skipped: an earlier poll timed out and is still running after ${runningMs} ms`;
      return { kind: 'timeout', startedAtMs, observedAt, durationMs: 0, detail };
    }

    const timeoutMs = source.pollTimeoutMs ?? this.#options.pollTimeoutMs ?? DEFAULT_POLL_TIMEOUT_MS;
    // A poll that throws synchronously becomes a rejection like any other.
    const poll = Promise.resolve().then(() => source.poll(observedAt));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
      timer.unref();
    });
    try {
      const result = await Promise.race([poll, deadline]);
      const durationMs = Date.now() - startedAtMs;
      if (result === TIMED_OUT) {
        this.#abandonPoll(state, poll, startedAtMs);
        return { kind: 'timeout', startedAtMs, observedAt, durationMs, detail: `poll timed out after ${timeoutMs} ms` };
      }
      return { kind: 'returned', startedAtMs, observedAt, durationMs, result };
    } catch (error) {
      const detail = `poll failed: ${describeError(error)}`;
      return { kind: 'error', startedAtMs, observedAt, durationMs: Date.now() - startedAtMs, detail };
    } finally {
      clearTimeout(timer);
    }
  }

  #abandonPoll(state: SourceState, poll: Promise<PollResult>, startedAtMs: number): void {
    state.abandonedAtMs = startedAtMs;
    const settled = poll.then(
      () => undefined,
      () => undefined,
    );
    state.abandoned = settled.finally(() => {
      state.abandoned = undefined;
      this.#logger?.info(
        { source: state.source.name, durationMs: Date.now() - startedAtMs },
        'abandoned source poll settled',
      );
    });
  }

  #finishPoll(state: SourceState, attempt: PollAttempt): FinishedPoll {
    const { source, stats } = state;
    const { observedAt } = attempt;
    let samples: LagSample[];
    let failures: FailureRecord[] = [];
    let outcome: PollOutcome;
    let error: string;
    let failed: boolean;

    if (attempt.kind === 'returned') {
      failures = attempt.result.failures;
      const sourceSamples = attempt.result.samples;
      for (const sample of sourceSamples) applySampleConditions(sample);
      const downSamples = sourceSamples.filter((sample) => sample.status === 'source_down');
      outcome = downSamples.length === 0 ? 'ok' : 'down';
      // A poll that returns only down samples could not read the source at all.
      failed = downSamples.length > 0 && downSamples.length === sourceSamples.length;
      error = downSamples.length === 0 ? '' : (downSamples[0]?.detail ?? 'source reported entities down');
      const changes = state.series.recordPoll(sourceSamples, observedAt, failed, error);
      this.#logSeriesChanges(state, changes);
      samples = [...sourceSamples, ...changes.samples];
      this.#notePartlyDown(state, !failed && downSamples.length > 0, downSamples[0]);
    } else {
      outcome = attempt.kind;
      error = attempt.detail;
      failed = true;
      samples = state.series.buildUnreadSamples(observedAt, attempt.detail);
      if (samples.length === 0) samples = [buildWholeSourceDownSample(source, observedAt, attempt.detail)];
      if (attempt.kind === 'error') stats.pollErrors += 1;
      else stats.timeouts += 1;
    }

    if (!failed && stats.consecutiveFailures > 0) {
      this.#logger?.info({ source: source.name, failedPolls: stats.consecutiveFailures }, 'source poll recovered');
    }
    stats.consecutiveFailures = failed ? stats.consecutiveFailures + 1 : 0;
    stats.polls += 1;
    if (outcome !== 'ok') stats.downPolls += 1;
    stats.lastOutcome = outcome;
    stats.lastDurationMs = attempt.durationMs;
    stats.trackedSeries = state.series.size;

    const record: PollRecord = {
      source: source.name,
      sourceKind: source.kind,
      integration: source.integration ?? samples[0]?.integration ?? '',
      startedAt: observedAt,
      durationMs: attempt.durationMs,
      outcome,
      samples: samples.length,
      downSamples: samples.filter((sample) => sample.status === 'source_down').length,
      failures: failures.length,
      consecutiveFailures: stats.consecutiveFailures,
      error,
    };
    return { batch: { samples, failures, polls: [record] }, record, failed };
  }

  /** Logs the first failed poll of a streak; the following ones are counted and reported on recovery. */
  #logFailure(state: SourceState, record: PollRecord, nextPollDelayMs: number): void {
    if (record.consecutiveFailures !== 1) return;
    this.#logger?.warn(
      {
        source: state.source.name,
        kind: state.source.kind,
        outcome: record.outcome,
        detail: record.error,
        nextPollDelayMs,
      },
      'source poll failed',
    );
  }

  #notePartlyDown(state: SourceState, partlyDown: boolean, downSample: LagSample | undefined): void {
    if (partlyDown && !state.partlyDown) {
      this.#logger?.warn(
        { source: state.source.name, entity: downSample?.entity, detail: downSample?.detail },
        'source entity down',
      );
    } else if (!partlyDown && state.partlyDown) {
      this.#logger?.info({ source: state.source.name }, 'source entities up again');
    }
    state.partlyDown = partlyDown;
  }

  #logSeriesChanges(state: SourceState, changes: SeriesChanges): void {
    const source = state.source.name;
    if (changes.disappeared.length > 0) {
      const entities = changes.disappeared.slice(0, MAX_LOGGED_ENTITIES);
      this.#logger?.warn({ source, count: changes.disappeared.length, entities }, 'series disappeared');
    }
    if (changes.reappeared.length > 0) {
      const entities = changes.reappeared.slice(0, MAX_LOGGED_ENTITIES);
      this.#logger?.info({ source, count: changes.reappeared.length, entities }, 'series reappeared');
    }
    if (changes.expired.length > 0) {
      const entities = changes.expired.slice(0, MAX_LOGGED_ENTITIES);
      this.#logger?.info({ source, count: changes.expired.length, entities }, 'series no longer tracked after retention');
    }
  }

  #writeBatch(state: SourceState, batch: LagBatch): void {
    const write = Promise.resolve()
      .then(() => this.#sink.write(batch))
      .then(
        () => this.#noteWriteSuccess(),
        (error: unknown) => this.#noteWriteFailure(state, batch, error),
      );
    this.#pendingWrites.add(write);
    void write.finally(() => this.#pendingWrites.delete(write));
  }

  #noteWriteSuccess(): void {
    if (this.#failedWritesInRow > 0) {
      this.#logger?.info({ failedWrites: this.#failedWritesInRow }, 'writing source samples recovered');
    }
    this.#failedWritesInRow = 0;
  }

  #noteWriteFailure(state: SourceState, batch: LagBatch, error: unknown): void {
    state.stats.writeErrors += 1;
    this.#failedWritesInRow += 1;
    // One failed flush of a batching sink rejects the batches of many sources, so it is logged once.
    if (this.#failedWritesInRow !== 1) return;
    this.#logger?.error(
      { source: state.source.name, samples: batch.samples.length, failures: batch.failures.length, err: error },
      'writing source samples failed',
    );
  }

  async #flushSink(): Promise<void> {
    const writes = [...this.#pendingWrites];
    if (this.#sink.flush) {
      try {
        await this.#sink.flush();
      } catch {
        // A failed flush also rejects the writes it contained, which count and log the error.
      }
    }
    await Promise.allSettled(writes);
  }
}

function buildWholeSourceDownSample(source: LagSource, observedAt: Date, detail: string): LagSample {
  return {
    observedAt,
    integration: source.integration ?? '',
    workflow: source.workflow ?? '',
    source: source.name,
    sourceKind: source.kind,
    entity: WHOLE_SOURCE_ENTITY,
    status: 'source_down',
    detail,
  };
}
