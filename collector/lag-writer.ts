import type { ClickHouseClient } from '@clickhouse/client';
import type { FailureRecord, LagSample, PollResult } from './sources/types.js';

export const LAG_TABLE = 'integration_lag';
export const FAILURES_TABLE = 'integration_failures';

/** Row of `integration_lag`; optional numbers are NULL, not zero, when a source cannot report them. */
export interface LagRow {
  observed_at: string;
  integration: string;
  workflow: string;
  source: string;
  source_kind: string;
  entity: string;
  status: string;
  lag_seconds: number | null;
  lag_estimated: boolean;
  depth: number | null;
  in_flight: number | null;
  consumers: number | null;
  inflow_per_second: number | null;
  outflow_per_second: number | null;
  stuck: number | null;
  failed: number | null;
  state_counts: Record<string, number>;
  detail: string;
  attributes: Record<string, string>;
}

/** Row of `integration_failures`. */
export interface FailureRow {
  observed_at: string;
  failed_at: string;
  integration: string;
  workflow: string;
  source: string;
  source_kind: string;
  entity: string;
  failure_id: string;
  exception_name: string;
  exception_message: string;
  retry_count: number;
  attributes: Record<string, string>;
}

/** Writes the results of source polls to ClickHouse. */
export interface LagWriter {
  write(result: PollResult): Promise<void>;
}

/**
 * Creates a writer that inserts samples into `integration_lag` and failures
 * into `integration_failures`, one insert per table and poll.
 */
export function createLagWriter(client: ClickHouseClient): LagWriter {
  return {
    async write(result) {
      if (result.samples.length > 0) {
        await client.insert({
          table: LAG_TABLE,
          values: result.samples.map(toLagRow),
          format: 'JSONEachRow',
        });
      }
      if (result.failures.length > 0) {
        await client.insert({
          table: FAILURES_TABLE,
          values: result.failures.map(toFailureRow),
          format: 'JSONEachRow',
        });
      }
    },
  };
}

/** Converts a sample to its `integration_lag` row. */
export function toLagRow(sample: LagSample): LagRow {
  return {
    observed_at: formatDateTime64(sample.observedAt),
    integration: sample.integration,
    workflow: sample.workflow,
    source: sample.source,
    source_kind: sample.sourceKind,
    entity: sample.entity,
    status: sample.status,
    lag_seconds: toNullableFloat(sample.lagSeconds),
    lag_estimated: sample.lagEstimated ?? false,
    depth: toNullableCount(sample.depth),
    in_flight: toNullableCount(sample.inFlight),
    consumers: toNullableCount(sample.consumers),
    inflow_per_second: toNullableFloat(sample.inflowPerSecond),
    outflow_per_second: toNullableFloat(sample.outflowPerSecond),
    stuck: toNullableCount(sample.stuck),
    failed: toNullableCount(sample.failed),
    state_counts: sample.stateCounts ?? {},
    detail: sample.detail ?? '',
    attributes: sample.attributes ?? {},
  };
}

/** Converts a failure to its `integration_failures` row. */
export function toFailureRow(failure: FailureRecord): FailureRow {
  return {
    observed_at: formatDateTime64(failure.observedAt),
    failed_at: formatDateTime64(failure.failedAt),
    integration: failure.integration,
    workflow: failure.workflow,
    source: failure.source,
    source_kind: failure.sourceKind,
    entity: failure.entity,
    failure_id: failure.failureId,
    exception_name: failure.exceptionName,
    exception_message: failure.exceptionMessage,
    retry_count: Math.max(0, Math.trunc(failure.retryCount)),
    attributes: failure.attributes ?? {},
  };
}

/**
 * Formats a date for a DateTime64(3) column as `seconds.milliseconds` since
 * the epoch, which ClickHouse's default input format reads the same way in
 * every server time zone. No per-insert setting is needed, which matters on
 * chDB, where settings persist for the rest of the session.
 */
function formatDateTime64(date: Date): string {
  const epochMs = date.getTime();
  const seconds = Math.floor(epochMs / 1000);
  const milliseconds = epochMs - seconds * 1000;
  return `${seconds}.${String(milliseconds).padStart(3, '0')}`;
}

function toNullableFloat(value: number | undefined): number | null {
  return value === undefined || !Number.isFinite(value) ? null : value;
}

/** Counts go to UInt columns: a value that is not a finite, non-negative number is stored as NULL. */
function toNullableCount(value: number | undefined): number | null {
  if (value === undefined || !Number.isFinite(value) || value < 0) return null;
  return Math.round(value);
}
