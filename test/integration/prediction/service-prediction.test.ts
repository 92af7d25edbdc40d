import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANONICAL_WORKFLOWS, parseConfigObject } from '../../../config/index.js';
import { startService, type RunningService } from '../../../server/index.js';
import {
  generateScenario,
  SCENARIO_WORKFLOW_INTEGRATIONS,
  writeScenarioRuns,
  type ScenarioRun,
} from '../../../simulator/scenarios/index.js';
import { createRecordingSink } from '../../support/alert-events.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-service-prediction-'));
const recorder = createRecordingSink();
const received = recorder.events;
let service: RunningService;
let run: ScenarioRun;

beforeAll(async () => {
  const integrations = [...new Set(Object.values(SCENARIO_WORKFLOW_INTEGRATIONS))].map((name) => ({ name, systems: ['odoo'] }));
  const workflows = CANONICAL_WORKFLOWS.filter((workflow) => SCENARIO_WORKFLOW_INTEGRATIONS[workflow.name] !== undefined).map(
    (workflow) => ({ ...workflow, integrations: [SCENARIO_WORKFLOW_INTEGRATIONS[workflow.name]] }),
  );
  const config = parseConfigObject({
    store: { dataDir },
    collector: { otlp: { port: 0 } },
    api: { port: 0 },
    integrations,
    workflows,
    analyzer: { interval: '1h' },
  });
  service = await startService({ config, logger: pino({ level: 'silent' }), alertSinks: [recorder] });
  run = generateScenario('consumer_crash', { seed: 11, startedAt: new Date('2026-02-02T06:00:00.000Z') });
  await writeScenarioRuns(service.client, [run]);
}, 60_000);

afterAll(async () => {
  await service?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('prediction through the analyzer loop', () => {
  it('sends a prediction alert before the breach', async () => {
    const breachAt = run.breachAt!;
    expect(breachAt).not.toBeNull();

    for (let at = run.onsetAt.getTime(); at < breachAt.getTime(); at += 60_000) {
      const cycle = await service.runAnalyzerCycle(new Date(at));
      expect(cycle.failures).toEqual([]);
      if (received.some((event) => event.kind === 'prediction')) break;
    }

    const opened = received.find((event) => event.kind === 'prediction' && event.state === 'opened');
    expect(opened).toBeDefined();
    expect(opened?.workflow).toBe(run.target.workflow);
    expect(opened?.integration).toBe(run.target.integration);
    expect(opened?.plant).toBe(run.target.plant);
    expect(opened?.breachProbability).toBeGreaterThanOrEqual(0.5);
    expect(opened!.at.getTime()).toBeLessThan(breachAt.getTime());
    expect(opened?.predictedBreachAt).toBeInstanceOf(Date);
    expect(opened?.explanation).toMatch(/consumers/);
  });
});
