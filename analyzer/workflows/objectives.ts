import type { ClickHouseClient } from '@clickhouse/client';
import type { SyncwatchConfig } from '../../config/index.js';

export const WORKFLOW_OBJECTIVES_TABLE = 'workflow_objectives';

/** A workflow as the configuration defines it, after defaults and duration parsing. */
export type WorkflowConfig = SyncwatchConfig['workflows'][number];

/** Workflows written as active, and those marked inactive because the configuration no longer has them. */
export interface ObjectivesWriteResult {
  active: string[];
  deactivated: string[];
}

/** A `workflow_objectives` row in its ClickHouse column names. */
interface WorkflowObjectiveRow {
  workflow: string;
  criticality: string;
  sync_mode: string;
  percentile: number | null;
  objective_ms: number | null;
  integrations: string[];
  active: boolean;
  updated_at: string;
}

/**
 * Writes the configured workflows and their objectives to
 * `workflow_objectives`, so SQL can join them with transactions, and marks
 * every active workflow that the configuration no longer lists inactive.
 * The new rows get a version above every stored one, so they replace the
 * previous start's rows even when the clock went back.
 */
export async function writeWorkflowObjectives(
  client: ClickHouseClient,
  workflows: readonly WorkflowConfig[],
  now: Date = new Date(),
): Promise<ObjectivesWriteResult> {
  const stored = await readStoredObjectives(client);
  const version = formatDateTime64Milli(Math.max(now.getTime(), stored.latestVersionMs + 1));
  const configured = new Set(workflows.map((workflow) => workflow.name));
  const deactivated = stored.activeWorkflows.filter((name) => !configured.has(name));

  if (deactivated.length > 0) {
    // Copies the last version of each removed workflow, so its objective stays readable.
    await client.command({
      query: `INSERT INTO ${WORKFLOW_OBJECTIVES_TABLE}
        SELECT workflow, criticality, sync_mode, percentile, objective_ms, integrations, false, {version:DateTime64(3)}
        FROM ${WORKFLOW_OBJECTIVES_TABLE} FINAL
        WHERE active AND has({deactivated:Array(String)}, workflow)`,
      query_params: { version, deactivated },
    });
  }
  if (workflows.length > 0) {
    await client.insert({
      table: WORKFLOW_OBJECTIVES_TABLE,
      values: workflows.map((workflow) => toObjectiveRow(workflow, version)),
      format: 'JSONEachRow',
    });
  }
  return { active: [...configured], deactivated };
}

function toObjectiveRow(workflow: WorkflowConfig, version: string): WorkflowObjectiveRow {
  return {
    workflow: workflow.name,
    criticality: workflow.criticality,
    sync_mode: workflow.syncMode,
    percentile: workflow.objective?.percentile ?? null,
    objective_ms: workflow.objective?.within ?? null,
    integrations: workflow.integrations,
    active: true,
    updated_at: version,
  };
}

async function readStoredObjectives(
  client: ClickHouseClient,
): Promise<{ activeWorkflows: string[]; latestVersionMs: number }> {
  const result = await client.query({
    query: `SELECT
        groupArrayIf(workflow, active) AS active_workflows,
        toUnixTimestamp64Milli(max(updated_at)) AS latest_version_ms
      FROM ${WORKFLOW_OBJECTIVES_TABLE} FINAL`,
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ active_workflows: string[]; latest_version_ms: number | string }>();
  const row = rows[0];
  return {
    activeWorkflows: row?.active_workflows ?? [],
    latestVersionMs: Number(row?.latest_version_ms ?? 0),
  };
}

/** Formats epoch milliseconds as the `seconds.milliseconds` text a DateTime64(3) column parses. */
function formatDateTime64Milli(epochMs: number): string {
  const seconds = Math.floor(epochMs / 1000);
  const milliseconds = epochMs - seconds * 1000;
  return `${seconds}.${String(milliseconds).padStart(3, '0')}`;
}
