import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeWorkflowObjectives, type WorkflowConfig } from '../../../analyzer/workflows/index.js';
import { migrate, openClickHouse } from '../../../store/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-workflow-objectives-'));
const client = openClickHouse({ kind: 'embedded', dataDir });

const RELEASE: WorkflowConfig = {
  name: 'production_order_release',
  criticality: 'critical',
  syncMode: 'real_time',
  integrations: ['odoo-mes'],
  objective: { percentile: 95, within: 60_000 },
};
const HOLD: WorkflowConfig = {
  name: 'quality_hold',
  criticality: 'critical',
  syncMode: 'real_time',
  integrations: ['odoo-qms', 'odoo-wms'],
  objective: { percentile: 99, within: 120_000 },
};
const MASTER_DATA: WorkflowConfig = { name: 'master_data_sync', criticality: 'low', syncMode: 'batch', integrations: [] };

interface ObjectiveRow {
  workflow: string;
  criticality: string;
  sync_mode: string;
  percentile: number | null;
  objective_ms: number | string | null;
  integrations: string[];
  active: boolean;
  updated_ms: number | string;
}

async function readObjectives(): Promise<ObjectiveRow[]> {
  const result = await client.query({
    query: 'SELECT *, toUnixTimestamp64Milli(updated_at) AS updated_ms FROM workflow_objectives FINAL ORDER BY workflow',
    format: 'JSONEachRow',
  });
  return result.json<ObjectiveRow>();
}

beforeAll(async () => {
  await migrate(client);
});

afterAll(async () => {
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('writeWorkflowObjectives', () => {
  it('stores configured workflows in column names', async () => {
    const result = await writeWorkflowObjectives(client, [RELEASE, HOLD, MASTER_DATA], new Date('2026-01-05T08:00:00.000Z'));
    expect(result).toEqual({ active: ['production_order_release', 'quality_hold', 'master_data_sync'], deactivated: [] });

    const rows = await readObjectives();
    expect(rows.map((row) => row.workflow)).toEqual(['master_data_sync', 'production_order_release', 'quality_hold']);
    const hold = rows.find((row) => row.workflow === 'quality_hold');
    expect(hold?.criticality).toBe('critical');
    expect(hold?.sync_mode).toBe('real_time');
    expect(hold?.percentile).toBe(99);
    expect(Number(hold?.objective_ms)).toBe(120_000);
    expect(hold?.integrations).toEqual(['odoo-qms', 'odoo-wms']);
    expect(hold?.active).toBe(true);
    const masterData = rows.find((row) => row.workflow === 'master_data_sync');
    expect(masterData?.percentile).toBeNull();
    expect(masterData?.objective_ms).toBeNull();
  });

  it('replaces objectives on the next start', async () => {
    const changed: WorkflowConfig = { ...RELEASE, objective: { percentile: 90, within: 30_000 } };
    const result = await writeWorkflowObjectives(client, [changed, MASTER_DATA], new Date('2026-01-05T09:00:00.000Z'));
    expect(result.deactivated).toEqual(['quality_hold']);

    const rows = await readObjectives();
    const release = rows.find((row) => row.workflow === 'production_order_release');
    expect(release?.percentile).toBe(90);
    expect(Number(release?.objective_ms)).toBe(30_000);
    expect(release?.active).toBe(true);
    // A removed workflow stays readable, marked inactive, with its last objective.
    const hold = rows.find((row) => row.workflow === 'quality_hold');
    expect(hold?.active).toBe(false);
    expect(Number(hold?.objective_ms)).toBe(120_000);
  });

  it('wins over older versions after a clock step back', async () => {
    const result = await writeWorkflowObjectives(client, [RELEASE, HOLD], new Date('2026-01-01T00:00:00.000Z'));
    expect(result.deactivated).toEqual(['master_data_sync']);

    const rows = await readObjectives();
    expect(rows.find((row) => row.workflow === 'quality_hold')?.active).toBe(true);
    expect(Number(rows.find((row) => row.workflow === 'production_order_release')?.objective_ms)).toBe(60_000);
    expect(rows.find((row) => row.workflow === 'master_data_sync')?.active).toBe(false);
    const previousVersionMs = Date.parse('2026-01-05T09:00:00.000Z');
    expect(rows.every((row) => Number(row.updated_ms) > previousVersionMs)).toBe(true);
  });

  it('deactivates every workflow for an empty list', async () => {
    const result = await writeWorkflowObjectives(client, []);
    expect(result.active).toEqual([]);
    expect(result.deactivated.sort()).toEqual(['production_order_release', 'quality_hold']);
    expect((await readObjectives()).filter((row) => row.active)).toEqual([]);
  });
});
