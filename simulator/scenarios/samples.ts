import type { ClickHouseClient } from '@clickhouse/client';
import { createLagWriter } from '../../collector/lag-writer.js';
import type { FailureRecord, LagSample, PollResult } from '../../collector/sources/types.js';
import type { ScenarioKind, ScenarioMinute, ScenarioRun } from './types.js';

/** Source names of the samples a scenario writes, one for the queue and one for the partner probe. */
export const SCENARIO_QUEUE_SOURCE = 'scenario-queues';
export const SCENARIO_PROBE_SOURCE = 'scenario-probes';

/**
 * Failure rows written per minute at most. The failed attempts beyond it are
 * still counted in the queue sample's `failed` column when they dead-letter,
 * but not as rows, as a source that reads a page of failures would.
 */
export const MAX_FAILURE_ROWS_PER_MINUTE = 50;

/** Exception each scenario's failed attempts raise. */
const EXCEPTIONS: Readonly<Record<ScenarioKind, { name: string; message: string }>> = {
  partner_slowdown: { name: 'TimeoutError', message: 'partner did not answer within 2000 ms' },
  consumer_crash: { name: 'ConsumerCancelled', message: 'consumer exited, message returned for redelivery' },
  shift_change_burst: { name: 'TimeoutError', message: 'partner did not answer within 2000 ms' },
  month_end_batch: { name: 'TimeoutError', message: 'partner did not answer within 2000 ms' },
  plant_network_outage: { name: 'ConnectionResetError', message: 'connection to plant gateway reset' },
  expiring_credentials: { name: 'HTTPError', message: '401 Unauthorized: token refresh rejected' },
  dead_letter_leak: { name: 'ValidationError', message: 'unknown unit of measure on line 3' },
};

/**
 * Builds the samples and failures the collector would store for one minute
 * of a run: a queue sample as a RabbitMQ source reports it, a partner probe
 * sample as an `http_probe` source reports it, and one failure row per failed
 * attempt up to `MAX_FAILURE_ROWS_PER_MINUTE`. `observedAt` replaces the
 * simulated time when a run is replayed live.
 */
export function buildScenarioPoll(run: ScenarioRun, minute: ScenarioMinute, observedAt: Date = minute.at): PollResult {
  return {
    samples: [buildQueueSample(run, minute, observedAt), buildProbeSample(run, minute, observedAt)],
    failures: buildFailures(run, minute, observedAt),
  };
}

/** Builds the queue sample a RabbitMQ source reports at the end of `minute`. */
export function buildQueueSample(run: ScenarioRun, minute: ScenarioMinute, observedAt: Date = minute.at): LagSample {
  const { integration, workflow, plant } = run.target;
  const queue: LagSample = {
    observedAt,
    integration,
    workflow,
    source: SCENARIO_QUEUE_SOURCE,
    sourceKind: 'rabbitmq',
    entity: queueEntity(run),
    status: 'ok',
    lagSeconds: minute.lagSeconds,
    depth: minute.depth,
    inFlight: minute.inFlight,
    consumers: minute.consumers,
    inflowPerSecond: minute.inflowPerSecond,
    outflowPerSecond: minute.outflowPerSecond,
    stuck: minute.stuck,
    failed: minute.deadLetters,
    attributes: { plant, scenario: run.kind },
  };
  if (minute.consumers === 0 && minute.depth > 0) queue.conditions = ['no_consumers'];
  return queue;
}

/** Builds the partner sample an `http_probe` source reports during `minute`. */
export function buildProbeSample(run: ScenarioRun, minute: ScenarioMinute, observedAt: Date = minute.at): LagSample {
  const { integration, workflow, plant } = run.target;
  const reachable = minute.partnerStatusCode !== 0;
  const probe: LagSample = {
    observedAt,
    integration,
    workflow,
    source: SCENARIO_PROBE_SOURCE,
    sourceKind: 'http_probe',
    entity: `partner ${integration}`,
    status: reachable && minute.partnerStatusCode < 400 ? 'ok' : 'source_down',
    attributes: {
      plant,
      scenario: run.kind,
      latency_ms: minute.partnerLatencyMs.toFixed(1),
      tls_days_left: minute.credentialDaysLeft.toFixed(5),
      ...(reachable ? { status_code: String(minute.partnerStatusCode) } : {}),
    },
  };
  if (!reachable) probe.detail = 'connect ETIMEDOUT';
  else if (minute.partnerStatusCode >= 400) probe.detail = `unexpected status ${minute.partnerStatusCode}, expected 200`;
  return probe;
}

/** Builds one failure row per failed attempt of `minute`, up to `MAX_FAILURE_ROWS_PER_MINUTE`. */
export function buildFailures(run: ScenarioRun, minute: ScenarioMinute, observedAt: Date = minute.at): FailureRecord[] {
  const { integration, workflow, plant } = run.target;
  const exception = EXCEPTIONS[run.kind];
  const failures: FailureRecord[] = [];
  const rows = Math.min(minute.failedAttempts, MAX_FAILURE_ROWS_PER_MINUTE);
  for (let index = 0; index < rows; index += 1) {
    failures.push({
      observedAt,
      failedAt: new Date(observedAt.getTime() - 1000 * ((index * 7) % 60)),
      integration,
      workflow,
      source: SCENARIO_QUEUE_SOURCE,
      sourceKind: 'rabbitmq',
      entity: queueEntity(run),
      failureId: `${run.kind}-${run.seed}-${observedAt.getTime()}-${index}`,
      exceptionName: exception.name,
      exceptionMessage: exception.message,
      retryCount: 1 + (index % 3),
      attributes: { plant },
    });
  }
  return failures;
}

function queueEntity(run: ScenarioRun): string {
  return `${run.target.workflow}.${run.target.plant}`;
}

/** When the samples of a written minute are observed. */
export type ScenarioTiming =
  /** Every sample of a minute at its end, as the evaluation stores runs. */
  | 'minute_end'
  /** As a live replay reports them: the probe half way through the minute it measures, the queue at the minute's end. */
  | 'replay';

/** Offset of a probe inside its minute under the `replay` timing. */
const PROBE_OFFSET_MS = 30_000;

/**
 * Writes whole runs into `integration_lag` and `integration_failures` through
 * the collector's lag writer, so the analyzer reads them exactly as it reads
 * polled data.
 */
export async function writeScenarioRuns(
  client: ClickHouseClient,
  runs: readonly ScenarioRun[],
  timing: ScenarioTiming = 'minute_end',
): Promise<void> {
  const writer = createLagWriter(client, { flushIntervalMs: 60_000, maxBatchRows: 50_000, maxPendingRows: 1_000_000 });
  const writes: Promise<void>[] = [];
  for (const run of runs) {
    for (const minute of run.minutes) {
      const probeAt = timing === 'replay' ? new Date(minute.at.getTime() - 60_000 + PROBE_OFFSET_MS) : minute.at;
      const samples = [buildQueueSample(run, minute), buildProbeSample(run, minute, probeAt)];
      writes.push(writer.write({ samples, failures: buildFailures(run, minute) }));
    }
  }
  await writer.flush();
  await Promise.all(writes);
}
