import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../../alerts/alert.js';
import { IncidentRecorder } from '../../../analyzer/incident-recorder.js';
import { listOpenIncidents } from '../../../server/incidents.js';
import { migrate, openClickHouse } from '../../../store/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-incident-recorder-'));
const client = openClickHouse({ kind: 'embedded', dataDir });
const recorder = new IncidentRecorder(client);

function predictionEvent(state: AlertEvent['state'], at: string): AlertEvent {
  return {
    incidentId: 'prediction:quality_hold:qms-odoo:plant-2',
    state,
    kind: 'prediction',
    severity: 'critical',
    title: 'Quality holds from QMS to Odoo will breach their objective in 12 min',
    explanation: 'lag grows 0.8 s per second with one consumer left',
    integration: 'qms-odoo',
    workflow: 'quality_hold',
    plant: 'plant-2',
    breachProbability: 0.91,
    at: new Date(at),
  };
}

interface IncidentRow {
  incident_id: string;
  state: string;
  kind: string;
  opened_at: string;
  resolved_at: string | null;
  peak_score: number;
}

async function readIncidents(): Promise<IncidentRow[]> {
  const result = await client.query({
    query: 'SELECT incident_id, state, kind, opened_at, resolved_at, peak_score FROM incidents FINAL ORDER BY incident_id',
    format: 'JSONEachRow',
  });
  return result.json<IncidentRow>();
}

beforeAll(async () => {
  await migrate(client);
});

afterAll(async () => {
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('IncidentRecorder', () => {
  it('records an opened prediction incident', async () => {
    await recorder.send(predictionEvent('opened', '2026-12-04T10:00:00Z'));

    const rows = await readIncidents();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.state).toBe('open');
    expect(rows[0]!.kind).toBe('prediction');
    expect(Number(rows[0]!.peak_score)).toBeCloseTo(0.91);
  });

  it('lists it among open incidents', async () => {
    const list = await listOpenIncidents(client, 50);

    expect(list.incidents.map((incident) => incident.id)).toContain('prediction:quality_hold:qms-odoo:plant-2');
  });

  it('keeps the opening time on resolution', async () => {
    await recorder.send(predictionEvent('updated', '2026-12-04T10:05:00Z'));
    await recorder.send(predictionEvent('resolved', '2026-12-04T10:20:00Z'));

    const rows = await readIncidents();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.state).toBe('resolved');
    expect(rows[0]!.opened_at).toMatch(/^2026-12-04 10:00:00/);
    expect(rows[0]!.resolved_at).toMatch(/^2026-12-04 10:20:00/);
  });

  it('skips anomaly events', async () => {
    await recorder.send({ ...predictionEvent('opened', '2026-12-04T11:00:00Z'), kind: 'anomaly', incidentId: 'anomaly-1' });

    const rows = await readIncidents();
    expect(rows.map((row) => row.incident_id)).not.toContain('anomaly-1');
  });
});
