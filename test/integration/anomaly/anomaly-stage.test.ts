import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../../alerts/alert.js';
import { AnomalyStage } from '../../../analyzer/anomaly/stage.js';
import { migrate, MIGRATIONS, openClickHouse } from '../../../store/index.js';

// Accelerated time: lag samples are written straight into integration_lag
// (two per minute per integration), and the stage runs once per simulated
// minute with `now` set one second after that minute ends. Three days of
// history teach it the shift-change bursts at 06:00, 14:00 and 22:00.

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-anomaly-stage-'));
const client = openClickHouse({ kind: 'embedded', dataDir });
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const T0 = Date.UTC(2026, 2, 4, 13, 0);
const SLOWDOWN_START = T0 + 100 * MINUTE; // 14:40
const SLOWDOWN_END = SLOWDOWN_START + 20 * MINUTE;
const INTEGRATIONS = ['odoo-edi-partner', 'mes-plant-1-orders'];

function noise(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 4294967296 - 0.5;
  };
}
const rnd = noise(11);

/** Normal lag: a few seconds, with a ten-minute burst after each shift change. */
function normalLag(ts: number): number {
  const minuteOfDay = ((ts % DAY) + DAY) % DAY / MINUTE;
  const inBurst = [360, 840, 1320].some((start) => minuteOfDay >= start && minuteOfDay < start + 10);
  return (inBurst ? 40 : 4) + 2 * rnd();
}

function lagAt(integration: string, ts: number): number {
  const base = normalLag(ts);
  if (integration === 'odoo-edi-partner' && ts >= SLOWDOWN_START && ts < SLOWDOWN_END) {
    return base + 30 + (15 * (ts - SLOWDOWN_START)) / MINUTE;
  }
  return base;
}

async function writeMinutes(from: number, to: number): Promise<void> {
  const rows = [];
  for (let ts = from; ts < to; ts += MINUTE) {
    for (const integration of INTEGRATIONS) {
      for (const offset of [5_000, 35_000]) {
        rows.push({
          observed_at: ts + offset,
          integration,
          workflow: 'shipment-milestones',
          source: `${integration}-queue`,
          source_kind: 'rabbitmq',
          entity: 'outbound',
          status: 'ok',
          lag_seconds: lagAt(integration, ts + offset),
          lag_estimated: false,
          attributes: { plant: 'plant-1' },
        });
      }
    }
  }
  await client.insert({ table: 'integration_lag', format: 'JSONEachRow', values: rows });
}

const stage = new AnomalyStage({ client, restoreWindowMs: 3 * DAY });
const events: Array<AlertEvent & { cycleMinute: number }> = [];

beforeAll(async () => {
  await migrate(client, MIGRATIONS);
  await writeMinutes(T0 - 3 * DAY, T0);
  events.push(...(await stage.run(new Date(T0 + 1_000))).map((e) => ({ ...e, cycleMinute: T0 })));
  for (let minute = T0; minute < T0 + 150 * MINUTE; minute += MINUTE) {
    await writeMinutes(minute, minute + MINUTE);
    const cycleEvents = await stage.run(new Date(minute + MINUTE + 1_000));
    events.push(...cycleEvents.map((e) => ({ ...e, cycleMinute: minute })));
  }
}, 120_000);

afterAll(async () => {
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('anomaly stage on a simulated network', () => {
  it('opens no incident for the shift-change burst', () => {
    const burst = events.filter((e) => e.at.getTime() >= T0 + 60 * MINUTE && e.at.getTime() < T0 + 75 * MINUTE);
    expect(burst).toEqual([]);
  });

  it('opens one incident within two minutes of the slowdown', () => {
    const opened = events.filter((e) => e.state === 'opened');
    expect(opened.map((e) => e.integration)).toEqual(['odoo-edi-partner']);
    const delay = opened[0]!.at.getTime() - SLOWDOWN_START;
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThanOrEqual(2 * MINUTE);
    expect(opened[0]!.metric?.name).toBe('lag_seconds');
    expect(opened[0]!.metric?.observed).toBeGreaterThan(opened[0]!.metric!.upper!);
  });

  it('resolves the incident after recovery', () => {
    const opened = events.find((e) => e.state === 'opened')!;
    const resolved = events.filter((e) => e.state === 'resolved');
    expect(resolved.map((e) => e.incidentId)).toEqual([opened.incidentId]);
    expect(resolved[0]!.at.getTime()).toBeGreaterThan(SLOWDOWN_END);
    expect(resolved[0]!.at.getTime()).toBeLessThanOrEqual(SLOWDOWN_END + 15 * MINUTE);
  });

  it('stores the alarms and the incident versions', async () => {
    const anomalies = await client.query({
      query: `SELECT integration, metric, count() AS n, min(ts) AS first FROM anomalies GROUP BY integration, metric`,
      format: 'JSONEachRow',
    });
    const rows = await anomalies.json<{ integration: string; metric: string; n: string }>();
    expect(rows.map((r) => `${r.integration} ${r.metric}`)).toEqual(['odoo-edi-partner lag_seconds']);

    const incidents = await client.query({
      query: `SELECT incident_id, state, cause_key, resolved_at IS NOT NULL AS has_resolved_at FROM incidents FINAL`,
      format: 'JSONEachRow',
    });
    const final = await incidents.json<{ incident_id: string; state: string; cause_key: string; has_resolved_at: boolean | number }>();
    expect(final).toHaveLength(1);
    expect(final[0]!.state).toBe('resolved');
    expect(final[0]!.cause_key).toBe('anomaly:integration:odoo-edi-partner');
    expect(Boolean(final[0]!.has_resolved_at)).toBe(true);
  });
});
