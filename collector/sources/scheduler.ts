import type { Logger } from 'pino';
import { describeError } from './common.js';
import type { LagSample, LagSource, PollResult } from './types.js';

/** Destination of polled samples and failures, such as the ClickHouse lag writer. */
export interface LagSink {
  write(result: PollResult): Promise<void>;
}

export interface SourcePollingOptions {
  logger?: Logger;
}

/** Poll counters of one source since polling started. */
export interface SourcePollStats {
  source: string;
  polls: number;
  /** Polls that rejected instead of resolving. */
  pollErrors: number;
  /** Polls that reported at least one `source_down` sample, including rejected ones. */
  downPolls: number;
  writeErrors: number;
  lastDurationMs?: number;
}

/** Handle of running polls. */
export interface SourcePolling {
  /** Stops the timers and waits for polls in flight. The sources stay open; their owner closes them. */
  stop(): Promise<void>;
  /** Polls every source now and waits for the results to be written; a poll in flight is awaited, not repeated. */
  pollNow(): Promise<void>;
  stats(): SourcePollStats[];
}

interface SourceState {
  source: LagSource;
  stats: SourcePollStats;
  timer: NodeJS.Timeout | undefined;
  inFlight: Promise<void> | undefined;
  /** Consecutive rejected polls; the first is logged, the rest are counted. */
  failureStreak: number;
  down: boolean;
  writeFailureStreak: number;
}

/** Entity of the `source_down` sample that stands for a whole source whose poll rejected. */
export const WHOLE_SOURCE_ENTITY = '*';

/**
 * Polls each source on its own interval and writes the results to `sink`.
 * The first poll of every source runs right away. The next one starts
 * `intervalMs` after the previous one started, or right after it ends when it
 * took longer, so polls of one source never overlap. A poll that rejects is
 * written as a `source_down` sample. Timers are unref'ed and do not keep the
 * process alive.
 */
export function startSourcePolling(
  sources: readonly LagSource[],
  sink: LagSink,
  options: SourcePollingOptions = {},
): SourcePolling {
  const logger = options.logger;
  let stopped = false;
  const states: SourceState[] = sources.map((source) => ({
    source,
    stats: { source: source.name, polls: 0, pollErrors: 0, downPolls: 0, writeErrors: 0 },
    timer: undefined,
    inFlight: undefined,
    failureStreak: 0,
    down: false,
    writeFailureStreak: 0,
  }));

  const schedule = (state: SourceState, delayMs: number): void => {
    if (stopped) return;
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      state.timer = undefined;
      void runPoll(state);
    }, delayMs);
    state.timer.unref();
  };

  const runPoll = (state: SourceState): Promise<void> => {
    if (state.inFlight) return state.inFlight;
    clearTimeout(state.timer);
    state.timer = undefined;
    const startedAtMs = Date.now();
    state.inFlight = pollAndWrite(state, startedAtMs).finally(() => {
      state.inFlight = undefined;
      const durationMs = Date.now() - startedAtMs;
      state.stats.lastDurationMs = durationMs;
      schedule(state, Math.max(0, state.source.intervalMs - durationMs));
    });
    return state.inFlight;
  };

  const pollAndWrite = async (state: SourceState, startedAtMs: number): Promise<void> => {
    const { source, stats } = state;
    const observedAt = new Date(startedAtMs);
    stats.polls += 1;
    let result: PollResult;
    try {
      result = await source.poll(observedAt);
      if (state.failureStreak > 0) {
        logger?.info({ source: source.name, failedPolls: state.failureStreak }, 'source poll recovered');
      }
      state.failureStreak = 0;
    } catch (error) {
      stats.pollErrors += 1;
      state.failureStreak += 1;
      if (state.failureStreak === 1) {
        logger?.warn({ source: source.name, kind: source.kind, err: error }, 'source poll failed');
      }
      result = { samples: [buildPollFailedSample(source, observedAt, error)], failures: [] };
    }
    noteStatus(state, result.samples);

    try {
      await sink.write(result);
      state.writeFailureStreak = 0;
    } catch (error) {
      stats.writeErrors += 1;
      state.writeFailureStreak += 1;
      if (state.writeFailureStreak === 1) {
        logger?.error(
          { source: source.name, samples: result.samples.length, failures: result.failures.length, err: error },
          'writing source samples failed',
        );
      }
    }
  };

  const noteStatus = (state: SourceState, samples: LagSample[]): void => {
    const downSample = samples.find((sample) => sample.status === 'source_down');
    if (downSample) state.stats.downPolls += 1;
    if (downSample && !state.down) {
      logger?.warn({ source: state.source.name, entity: downSample.entity, detail: downSample.detail }, 'source down');
    } else if (!downSample && state.down) {
      logger?.info({ source: state.source.name, downPolls: state.stats.downPolls }, 'source up again');
    }
    state.down = downSample !== undefined;
  };

  for (const state of states) schedule(state, 0);

  return {
    async stop() {
      stopped = true;
      for (const state of states) {
        clearTimeout(state.timer);
        state.timer = undefined;
      }
      await Promise.allSettled(states.map((state) => state.inFlight));
    },
    async pollNow() {
      await Promise.all(states.map((state) => runPoll(state)));
    },
    stats() {
      return states.map((state) => ({ ...state.stats }));
    },
  };
}

function buildPollFailedSample(source: LagSource, observedAt: Date, error: unknown): LagSample {
  return {
    observedAt,
    integration: source.integration ?? '',
    workflow: source.workflow ?? '',
    source: source.name,
    sourceKind: source.kind,
    entity: WHOLE_SOURCE_ENTITY,
    status: 'source_down',
    detail: `poll failed: ${describeError(error)}`,
  };
}
