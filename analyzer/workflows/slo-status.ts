import type { ClickHouseClient } from '@clickhouse/client';

/** Values of the `status` column of `workflow_slo_status`. */
export const WORKFLOW_SLO_STATUSES = ['ok', 'breaching', 'no_data', 'no_objective'] as const;
export type WorkflowSloStatusValue = (typeof WORKFLOW_SLO_STATUSES)[number];

/** One workflow's service level over a time window, as `workflow_slo_status_between` computes it. */
export interface WorkflowSloStatus {
  workflow: string;
  /** Empty for a workflow seen in spans but not configured. */
  criticality: string;
  syncMode: string;
  /** Completed transactions that started in the window. */
  transactions: number;
  transactionsWithErrors: number;
  inFlight: number;
  inFlightOverObjective: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  percentile: number | null;
  objectiveMs: number | null;
  /** Share of completed and overdue transactions within the objective, from 0 to 1. */
  shareWithinObjective: number | null;
  status: WorkflowSloStatusValue;
}

/** A half-open time window `[start, end)` of transaction start times. */
export interface TimeWindow {
  start: Date;
  end: Date;
}

interface WorkflowSloStatusRow {
  workflow: string;
  criticality: string;
  sync_mode: string;
  transactions: number | string;
  transactions_with_errors: number | string;
  in_flight: number | string;
  in_flight_over_objective: number | string;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  percentile: number | null;
  objective_ms: number | string | null;
  share_within_objective: number | null;
  status: WorkflowSloStatusValue;
}

/**
 * Reads every workflow's service level for transactions that started in
 * `window`. The `workflow_slo_status` view gives the same for the last hour.
 */
export async function readWorkflowSloStatus(client: ClickHouseClient, window: TimeWindow): Promise<WorkflowSloStatus[]> {
  if (!(window.start.getTime() < window.end.getTime())) {
    throw new RangeError(
      `invalid window ${window.start.toISOString()} to ${window.end.toISOString()}: expected a start before the end`,
    );
  }
  const result = await client.query({
    query: `SELECT * FROM workflow_slo_status_between(
        window_start = fromUnixTimestamp64Milli({windowStartMs:Int64}),
        window_end = fromUnixTimestamp64Milli({windowEndMs:Int64}))`,
    query_params: { windowStartMs: window.start.getTime(), windowEndMs: window.end.getTime() },
    format: 'JSONEachRow',
  });
  const rows = await result.json<WorkflowSloStatusRow>();
  return rows.map(toWorkflowSloStatus);
}

function toWorkflowSloStatus(row: WorkflowSloStatusRow): WorkflowSloStatus {
  return {
    workflow: row.workflow,
    criticality: row.criticality,
    syncMode: row.sync_mode,
    transactions: Number(row.transactions),
    transactionsWithErrors: Number(row.transactions_with_errors),
    inFlight: Number(row.in_flight),
    inFlightOverObjective: Number(row.in_flight_over_objective),
    p50Ms: row.p50_ms,
    p95Ms: row.p95_ms,
    p99Ms: row.p99_ms,
    percentile: row.percentile,
    objectiveMs: row.objective_ms === null ? null : Number(row.objective_ms),
    shareWithinObjective: row.share_within_objective,
    status: row.status,
  };
}
