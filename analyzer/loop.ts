import type { Logger } from 'pino';
import type { AlertEvent, AlertSink } from '../alerts/alert.js';
import { LAG_FLUSH_INTERVAL_MS } from '../collector/lag-writer.js';
import type { AnalyzerStage } from './stage.js';

export const DEFAULT_ANALYZER_INTERVAL_MS = 60_000;

/**
 * Time a cycle waits after its interval ends, so the samples polled in the
 * last seconds of a minute are stored before the minute is scored: the lag
 * writer's flush interval and a second for the insert.
 */
export const CYCLE_SETTLE_MS = LAG_FLUSH_INTERVAL_MS + 1_000;

export interface AnalyzerLoopOptions {
  /** Stages in the order they run each cycle. */
  stages: AnalyzerStage[];
  /** Receive every event of every stage, in order. */
  sinks: AlertSink[];
  intervalMs?: number;
  /** Time a cycle runs as of when none is given. Default: the system clock. */
  clock?: () => Date;
  logger?: Logger;
  /** Runs on each event before any sink receives it, such as attaching remediation proposals; a failure leaves the event unchanged. */
  enrich?: (event: AlertEvent) => Promise<AlertEvent>;
}

/** Outcome of one cycle. */
export interface AnalyzerCycleResult {
  events: AlertEvent[];
  /** Stages that failed, with their error; the others still ran. */
  failures: Array<{ stage: string; error: unknown }>;
  elapsedMs: number;
}

/**
 * Runs the analyzer stages every `intervalMs`, one cycle at a time: a cycle
 * that outlasts the interval delays the next one instead of overlapping it.
 * Cycles start `CYCLE_SETTLE_MS` after each multiple of the interval since
 * the epoch, so with the default interval every minute is scored a few
 * seconds after it ends. A failing stage or sink is logged and does not stop
 * the others.
 */
export class AnalyzerLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<AnalyzerCycleResult> | undefined;
  private stopped = false;
  readonly intervalMs: number;

  constructor(private readonly options: AnalyzerLoopOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_ANALYZER_INTERVAL_MS;
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Runs one cycle as of `now`, after any cycle in progress. */
  async runCycle(now: Date = this.options.clock?.() ?? new Date()): Promise<AnalyzerCycleResult> {
    while (this.running) await this.running.catch(() => undefined);
    this.running = this.cycle(now);
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  /** Stops scheduling and waits for a cycle in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped) return;
    // Timers run on the system clock even when cycles take their time from `clock`.
    const delay = this.intervalMs - ((Date.now() - CYCLE_SETTLE_MS) % this.intervalMs);
    this.timer = setTimeout(() => {
      this.runCycle().then(
        () => this.schedule(),
        () => this.schedule(),
      );
    }, delay);
    this.timer.unref();
  }

  private async enrichEvents(events: AlertEvent[]): Promise<void> {
    const enrich = this.options.enrich;
    if (!enrich) return;
    for (const [index, event] of events.entries()) {
      try {
        events[index] = await enrich(event);
      } catch (error) {
        this.options.logger?.error({ err: error, incidentId: event.incidentId }, 'alert event enrichment failed; the event goes out unchanged');
      }
    }
  }

  private async cycle(now: Date): Promise<AnalyzerCycleResult> {
    const started = performance.now();
    const events: AlertEvent[] = [];
    const failures: AnalyzerCycleResult['failures'] = [];
    for (const stage of this.options.stages) {
      try {
        events.push(...(await stage.run(now)));
      } catch (error) {
        failures.push({ stage: stage.name, error });
        this.options.logger?.error({ err: error, stage: stage.name }, 'analyzer stage failed; the next cycle retries it');
      }
    }
    await this.enrichEvents(events);
    for (const event of events) {
      for (const sink of this.options.sinks) {
        try {
          await sink.send(event);
        } catch (error) {
          this.options.logger?.error(
            { err: error, sink: sink.name, incidentId: event.incidentId, state: event.state },
            'alert sink failed to send an event',
          );
        }
      }
    }
    const elapsedMs = performance.now() - started;
    this.options.logger?.info(
      { events: events.length, failedStages: failures.length, elapsedMs: Math.round(elapsedMs) },
      'analyzer cycle done',
    );
    return { events, failures, elapsedMs };
  }
}
