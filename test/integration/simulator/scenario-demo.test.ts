import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CYCLE_SETTLE_MS } from '../../../analyzer/loop.js';
import { parseConfigObject } from '../../../config/index.js';
import { startService, type RunningService } from '../../../server/index.js';
import { ScenarioReplaySource, writeScenarioHistory } from '../../../simulator/scenarios/index.js';
import { createRecordingSink } from '../../support/alert-events.js';

// The service as `syncwatch demo --scenario` runs it: two days of scenario
// history written before start, then the replay sources polled by the
// collector and scored by the analyzer. A simulated clock moves one minute
// per step, so the test polls and runs cycles itself instead of waiting.
// A shift-change burst hits one integration ten minutes in, as it did every
// eight hours of the history. A partner slowdown is injected into another
// twenty minutes in and its conditions return to normal thirty minutes later.

const MINUTE = 60_000;
const HISTORY_MINUTES = 2 * 1440;
const SLOWDOWN_ONSET = 20;
const SLOWDOWN_RECOVERY = SLOWDOWN_ONSET + 30;
const STEPS = SLOWDOWN_RECOVERY + 15;

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-scenario-demo-'));
const logger = pino({ level: 'silent' });
// The burst comes at 06:00, when plants change shifts.
const startedAt = new Date('2026-03-02T05:50:00.000Z');
let simulatedNow = startedAt;

const slowdown = new ScenarioReplaySource({
  kind: 'partner_slowdown',
  seed: 1,
  startedAt,
  onsetMinute: SLOWDOWN_ONSET,
  recoveryMinute: SLOWDOWN_RECOVERY,
  durationMinutes: STEPS,
  historyMinutes: HISTORY_MINUTES,
});
const burst = new ScenarioReplaySource({
  kind: 'shift_change_burst',
  seed: 1,
  startedAt,
  onsetMinute: 10,
  durationMinutes: STEPS,
  historyMinutes: HISTORY_MINUTES,
});

const recorder = createRecordingSink();
const events = recorder.events;
let service: RunningService;

beforeAll(async () => {
  const config = parseConfigObject({
    store: { dataDir },
    collector: { otlp: { port: 0 } },
    api: { port: 0 },
    analyzer: { interval: '1h' },
  });
  service = await startService({
    config,
    logger,
    extraSources: [slowdown, burst],
    alertSinks: [recorder],
    beforeStart: (client) => writeScenarioHistory(client, [slowdown, burst], logger),
    clock: () => simulatedNow,
  });
  for (let step = 0; step < STEPS; step++) {
    // Polls mid-minute, as the collector does every few seconds, then scores the minute once it has ended.
    simulatedNow = new Date(startedAt.getTime() + step * MINUTE + 30_000);
    await service.pollNow();
    await service.ingest.drain();
    simulatedNow = new Date(startedAt.getTime() + (step + 1) * MINUTE + CYCLE_SETTLE_MS);
    await service.runAnalyzerCycle();
  }
}, 300_000);

afterAll(async () => {
  await service?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const anomalyEvents = () => events.filter((event) => event.kind === 'anomaly');

describe('demo scenarios on a simulated clock', () => {
  it('uses two different integrations', () => {
    expect(slowdown.integration).not.toBe(burst.integration);
  });

  it('writes two days of history', () => {
    const minutes = (source: ScenarioReplaySource) => source.history().reduce((sum, run) => sum + run.minutes.length, 0);
    expect(minutes(slowdown)).toBe(HISTORY_MINUTES);
    expect(minutes(burst)).toBe(HISTORY_MINUTES);
  });

  it('opens no incident for the shift-change burst', () => {
    const raised = anomalyEvents().filter((event) => event.integration === burst.integration);
    expect(raised.map((event) => `${event.state} ${event.title}`)).toEqual([]);
  });

  it('opens one incident for the partner slowdown', () => {
    const opened = anomalyEvents().filter((event) => event.state === 'opened');
    expect(opened.map((event) => event.integration)).toEqual([slowdown.integration]);

    const delayMinutes = (opened[0]!.at.getTime() - slowdown.run.onsetAt.getTime()) / MINUTE;
    console.log(`partner slowdown: incident opened ${delayMinutes.toFixed(2)} min after onset: ${opened[0]!.title}`);
    expect(delayMinutes).toBeGreaterThan(0);
    expect(delayMinutes).toBeLessThanOrEqual(2);
  });

  it('resolves it after recovery', () => {
    const opened = anomalyEvents().find((event) => event.state === 'opened')!;
    const resolved = anomalyEvents().filter((event) => event.state === 'resolved');
    expect(resolved.map((event) => event.incidentId)).toEqual([opened.incidentId]);

    const recoveredAt = startedAt.getTime() + SLOWDOWN_RECOVERY * MINUTE;
    expect(resolved[0]!.at.getTime()).toBeGreaterThan(recoveredAt);
    console.log(`partner slowdown: resolved ${((resolved[0]!.at.getTime() - recoveredAt) / MINUTE).toFixed(2)} min after recovery`);
  });

  it('stores the incident for the console', async () => {
    const opened = anomalyEvents().find((event) => event.state === 'opened')!;
    const result = await service.client.query({
      query: 'SELECT state FROM incidents FINAL WHERE incident_id = {id:String}',
      query_params: { id: opened.incidentId },
      format: 'JSONEachRow',
    });
    expect(await result.json()).toEqual([{ state: 'resolved' }]);
  });
});
