import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEURISTIC_MODEL_VERSION, PredictionStage } from '../../../analyzer/prediction/index.js';
import { writeWorkflowObjectives, type WorkflowConfig } from '../../../analyzer/workflows/index.js';
import { generateScenario, SCENARIO_KINDS, writeScenarioRuns, type ScenarioRun } from '../../../simulator/scenarios/index.js';
import { migrate, openClickHouse } from '../../../store/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-prediction-stage-'));
const client = openClickHouse({ kind: 'embedded', dataDir });
const logger = pino({ level: 'silent' });

const HISTORY_START = new Date('2026-01-05T00:00:00.000Z');
const RUN_SPACING_MS = 4 * 3_600_000;

const WORKFLOWS: WorkflowConfig[] = [
  ['production_order_release', 'odoo-mes', 60_000],
  ['material_consumption', 'odoo-mes', 120_000],
  ['work_order_completion', 'odoo-mes', 300_000],
  ['quality_hold', 'odoo-qms', 120_000],
  ['stock_move', 'odoo-wms', 300_000],
  ['shipment_milestone', 'odoo-wms', 900_000],
  ['supplier_confirmation', 'odoo-supplier-portal', 1_800_000],
].map(([name, integration, within]) => ({
  name: name as string,
  criticality: 'high',
  syncMode: 'real_time',
  integrations: [integration as string],
  objective: { percentile: 95, within: within as number },
}));

interface PredictionRow {
  ts: string;
  workflow: string;
  probability: number;
  alerted: boolean;
  predicted_breach_at: string | null;
  'indicators.name': string[];
  'indicators.description': string[];
  model_version: string;
  breached_within_horizon: boolean;
}

async function readPredictions(where: string): Promise<PredictionRow[]> {
  const result = await client.query({
    query: `SELECT * FROM prediction_outcomes WHERE ${where} ORDER BY ts`,
    format: 'JSONEachRow',
  });
  return result.json<PredictionRow>();
}

let history: ScenarioRun[] = [];
let live: ScenarioRun;

beforeAll(async () => {
  await migrate(client);
  await writeWorkflowObjectives(client, WORKFLOWS, HISTORY_START);
  for (const seed of [501, 502, 503]) {
    for (const kind of SCENARIO_KINDS) {
      history.push(generateScenario(kind, { seed, startedAt: new Date(HISTORY_START.getTime() + history.length * RUN_SPACING_MS) }));
    }
  }
  live = generateScenario('consumer_crash', {
    seed: 77,
    startedAt: new Date(HISTORY_START.getTime() + (history.length + 1) * RUN_SPACING_MS),
  });
  await writeScenarioRuns(client, [...history, live]);
});

afterAll(async () => {
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('PredictionStage', () => {
  it('predicts nothing on an empty window', async () => {
    const stage = new PredictionStage({ client, logger, trainingWindowMs: 60_000 });
    const events = await stage.run(new Date('2025-12-01T00:00:00.000Z'));
    expect(events).toEqual([]);
    expect(stage.modelVersion).toBe(HEURISTIC_MODEL_VERSION);
    expect(await readPredictions(`ts = '2025-12-01 00:00:00.000'`)).toEqual([]);
  });

  it('trains on history and alerts before a breach', async () => {
    const stage = new PredictionStage({ client, logger });
    const breachAt = live.breachAt!;
    expect(breachAt).not.toBeNull();

    const events = [];
    const firstMinute = live.onsetAt.getTime() - 5 * 60_000;
    for (let at = firstMinute; at < breachAt.getTime(); at += 60_000) {
      events.push(...(await stage.run(new Date(at))));
    }
    expect(stage.modelVersion).toMatch(/^logistic-/);

    const opened = events.find((event) => event.state === 'opened');
    expect(opened).toBeDefined();
    expect(opened?.kind).toBe('prediction');
    expect(opened?.workflow).toBe(live.target.workflow);
    expect(opened?.plant).toBe(live.target.plant);
    expect(opened?.breachProbability).toBeGreaterThanOrEqual(0.5);
    expect(opened!.at.getTime()).toBeLessThan(breachAt.getTime());

    const stored = await readPredictions(`workflow = '${live.target.workflow}' AND plant = '${live.target.plant}' AND alerted`);
    expect(stored.length).toBeGreaterThan(0);
    const first = stored[0]!;
    expect(first.model_version).toBe(stage.modelVersion);
    expect(first['indicators.name'].length).toBeGreaterThan(0);
    expect(first['indicators.description'].length).toBe(first['indicators.name'].length);
    expect(first.breached_within_horizon).toBe(true);
  });
});
