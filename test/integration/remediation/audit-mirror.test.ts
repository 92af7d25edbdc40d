import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Remediation } from '../../../remediation/index.js';
import { migrate, openClickHouse } from '../../../store/index.js';
import { ControlPlaneHarness, routeDraft } from './harness.js';

const clickhouseDir = mkdtempSync(join(tmpdir(), 'syncwatch-audit-mirror-'));
const client = openClickHouse({ kind: 'embedded', dataDir: clickhouseDir });
const harness = new ControlPlaneHarness('pglite');
let remediation: Remediation;

beforeAll(async () => {
  await migrate(client);
  remediation = await harness.open({ client, executeInBackground: false });
});

afterAll(async () => {
  await harness.cleanup();
  await client.close();
  rmSync(clickhouseDir, { recursive: true, force: true });
});

async function mirroredRows(): Promise<Array<{ seq: string; event: string; code: string; actor: string }>> {
  const result = await client.query({ query: 'SELECT seq, event, code, actor FROM remediation_audit FINAL ORDER BY seq', format: 'JSONEachRow' });
  return result.json();
}

describe('audit mirror', () => {
  it('copies new rows once and resumes', async () => {
    const proposal = await remediation.storeProposal(routeDraft({ requestedBy: 'alice' }));
    await remediation.decide({ proposalId: proposal.id, decision: 'approve', userName: 'alice', channel: 'api' });
    await remediation.decide({ proposalId: proposal.id, decision: 'approve', userName: 'bob', channel: 'console' });

    expect(await remediation.mirrorAudit()).toBe(6);
    expect(await remediation.mirrorAudit()).toBe(0);
    const rows = await mirroredRows();
    expect(rows.map((row) => row.event)).toEqual([
      'proposal.created',
      'decision.refused',
      'decision.approved',
      'execution.started',
      'execution.target',
      'execution.finished',
    ]);
    expect(rows[1]).toMatchObject({ code: 'REMEDIATION_SELF_APPROVAL', actor: 'alice' });

    await remediation.close();
    harness.opened.length = 0;
    const reopened = await harness.open({ client, executeInBackground: false });
    await reopened.storeProposal(routeDraft());
    expect(await reopened.mirrorAudit()).toBe(1);
    expect((await mirroredRows()).map((row) => Number(row.seq))).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});
