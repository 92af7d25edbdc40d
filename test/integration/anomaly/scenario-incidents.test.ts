import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../../alerts/alert.js';
import { AnomalyStage } from '../../../analyzer/anomaly/stage.js';
import { generateScenario, writeScenarioRuns, type ScenarioMinute, type ScenarioRun } from '../../../simulator/scenarios/index.js';
import { migrate, MIGRATIONS, openClickHouse } from '../../../store/index.js';

// Accelerated time on the demo network's scenario generators: two days of
// history, then the stage runs once per simulated minute with `now` set one
// second after the minute with the new samples ends. The shift-change
// burst of one integration repeats at 06:00, 14:00 and 22:00 every day, as
// plants change shifts. A partner slowdown hits another integration on the
// third day and its traffic returns to normal 30 minutes later.

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-scenario-incidents-'));
const client = openClickHouse({ kind: 'embedded', dataDir });
const MINUTE = 60_000;
const HISTORY = 2 * 1440;
const ONSET = HISTORY + 100;
const RECOVERY = ONSET + 30;
const END = RECOVERY + 60;
const START = new Date(Date.UTC(2026, 0, 5, 5, 0));
const SHIFT_MINUTES = 480;

const slowdown = generateScenario('partner_slowdown', { seed: 1, startedAt: START, onsetMinute: ONSET, durationMinutes: RECOVERY });
const calm = generateScenario('partner_slowdown', { seed: 1, startedAt: START, onsetMinute: 10 * END, durationMinutes: END });
const slowdownMinutes = [...slowdown.minutes, ...calm.minutes.slice(RECOVERY)];
const shifts: ScenarioRun[] = [];
for (let k = 0; k * SHIFT_MINUTES < END; k++) {
  shifts.push(
    generateScenario('shift_change_burst', {
      seed: 1,
      startedAt: new Date(START.getTime() + k * SHIFT_MINUTES * MINUTE),
      onsetMinute: 60,
      durationMinutes: SHIFT_MINUTES,
    }),
  );
}
const burstMinutes = shifts.flatMap((run) => run.minutes.map((minute) => ({ run, minute })));

function slice(from: number, to: number): ScenarioRun[] {
  const runs: ScenarioRun[] = [{ ...slowdown, minutes: slowdownMinutes.slice(from, to) }];
  const byRun = new Map<ScenarioRun, ScenarioMinute[]>();
  for (const { run, minute } of burstMinutes.slice(from, to)) byRun.set(run, [...(byRun.get(run) ?? []), minute]);
  for (const [run, minutes] of byRun) runs.push({ ...run, minutes });
  return runs;
}

const stage = new AnomalyStage({ client, restoreWindowMs: (HISTORY + 1) * MINUTE });
const events: AlertEvent[] = [];

beforeAll(async () => {
  await migrate(client, MIGRATIONS);
  await writeScenarioRuns(client, slice(0, HISTORY));
  events.push(...(await stage.run(new Date(slowdownMinutes[HISTORY - 1]!.at.getTime() + MINUTE + 1_000))));
  for (let m = HISTORY; m < END; m++) {
    await writeScenarioRuns(client, slice(m, m + 1));
    events.push(...(await stage.run(new Date(slowdownMinutes[m]!.at.getTime() + MINUTE + 1_000))));
  }
}, 240_000);

afterAll(async () => {
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('anomaly incidents on scenario traffic', () => {
  it('uses two different integrations', () => {
    expect(slowdown.target.integration).not.toBe(shifts[0]!.target.integration);
  });

  it('opens no incident for the shift-change bursts', () => {
    const burst = events.filter((e) => e.integration === shifts[0]!.target.integration);
    expect(burst.map((e) => `${e.state} ${e.at.toISOString()} ${e.explanation}`)).toEqual([]);
  });

  it('opens one incident for the partner slowdown', () => {
    const opened = events.filter((e) => e.state === 'opened');
    expect(opened.map((e) => e.integration)).toEqual([slowdown.target.integration]);
    const delayMinutes = (opened[0]!.at.getTime() - slowdown.onsetAt.getTime()) / MINUTE;
    console.log(`partner slowdown: incident opened ${delayMinutes.toFixed(2)} min after onset: ${opened[0]!.title}`);
    expect(delayMinutes).toBeGreaterThan(0);
    // NOTE: a minute's sample is stamped at the minute's end and scored once the next minute is complete,
    // so even an alarm on the onset minute opens the incident 2.02 min after onset. This run's latency is
    // 1.12x and 1.27x on its first two samples (1.4 and 3.0 sigmas of its 8 % noise), and the third alarms.
    expect(delayMinutes).toBeLessThanOrEqual(4.1);
  });

  it('resolves it after the traffic recovers', () => {
    const opened = events.find((e) => e.state === 'opened')!;
    const resolved = events.filter((e) => e.state === 'resolved');
    expect(resolved.map((e) => e.incidentId)).toEqual([opened.incidentId]);
    const recoveredAt = slowdownMinutes[RECOVERY]!.at.getTime();
    expect(resolved[0]!.at.getTime()).toBeGreaterThan(recoveredAt);
    console.log(`partner slowdown: resolved ${((resolved[0]!.at.getTime() - recoveredAt) / MINUTE).toFixed(2)} min after recovery`);
  });
});
