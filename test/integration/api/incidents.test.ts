import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiServer } from '../../../server/api-server.js';
import { migrate, openClickHouse } from '../../../store/index.js';

const TOKEN = 'incident-reader-token-0123456789';
const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-incidents-api-'));
const client = openClickHouse({ kind: 'embedded', dataDir });
const app = buildApiServer({
  client,
  tokens: [{ name: 'reader', token: TOKEN, scopes: ['read'], user: 'victor' }],
  logger: pino({ level: 'silent' }),
  storeDescription: 'test store',
});

function getIncidents(query = '') {
  return app.inject({ method: 'GET', url: `/api/v1/incidents${query}`, headers: { authorization: `Bearer ${TOKEN}` } });
}

beforeAll(async () => {
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('GET /api/v1/incidents', () => {
  it('returns an empty list with a note before the table exists', async () => {
    const response = await getIncidents();
    expect(response.statusCode).toBe(200);
    expect(response.json().incidents).toEqual([]);
    expect(response.json().note).toContain('no incidents table');
  });

  it('returns the latest version of each open incident', async () => {
    // The analyzer's migration creates the table; each change of an incident inserts a row with a higher version.
    await migrate(client);
    const base = { kind: 'anomaly', explanation: 'lag above the seasonal band', workflow: 'quality_hold', plant: 'plant-2' };
    await client.insert({
      table: 'incidents',
      format: 'JSONEachRow',
      values: [
        { ...base, incident_id: 'inc-1', state: 'opened', severity: 'warning', title: 'QMS lag 4 min', integration: 'qms-odoo', opened_at: 1_000, updated_at: 1_000, version: 1 },
        { ...base, incident_id: 'inc-1', state: 'updated', severity: 'critical', title: 'QMS lag 14 min', integration: 'qms-odoo', opened_at: 1_000, updated_at: 5_000, version: 2 },
        { ...base, incident_id: 'inc-2', state: 'opened', severity: 'warning', title: 'WMS picks late', integration: 'wms-odoo', opened_at: 2_000, updated_at: 2_000, version: 1 },
        { ...base, incident_id: 'inc-2', state: 'resolved', severity: 'warning', title: 'WMS picks late', integration: 'wms-odoo', opened_at: 2_000, updated_at: 6_000, resolved_at: 6_000, version: 2 },
        { ...base, incident_id: 'inc-3', state: 'opened', severity: 'info', title: 'Supplier portal slow', integration: 'portal-odoo', opened_at: 3_000, updated_at: 3_000, version: 1 },
      ],
    });

    const response = await getIncidents();
    expect(response.statusCode).toBe(200);
    const incidents = response.json().incidents;
    expect(incidents.map((incident: { id: string }) => incident.id)).toEqual(['inc-1', 'inc-3']);
    expect(incidents[0]).toEqual({
      id: 'inc-1',
      state: 'updated',
      kind: 'anomaly',
      severity: 'critical',
      title: 'QMS lag 14 min',
      explanation: 'lag above the seasonal band',
      integration: 'qms-odoo',
      workflow: 'quality_hold',
      plant: 'plant-2',
      openedAt: '1970-01-01T00:00:01.000Z',
      updatedAt: '1970-01-01T00:00:05.000Z',
    });
    expect(response.json().note).toBeUndefined();
  });

  it('applies the limit', async () => {
    const response = await getIncidents('?limit=1');
    expect(response.json().incidents).toHaveLength(1);
  });

  it('rejects a limit above 1000 as 422', async () => {
    const response = await getIncidents('?limit=5000');
    expect(response.statusCode).toBe(422);
    expect(response.json().error.message).toContain('querystring.limit must be <= 1000');
  });
});
