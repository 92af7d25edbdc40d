import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiServer } from '../../../server/api-server.js';
import { openClickHouse } from '../../../store/index.js';
import { RemediationDouble } from '../../support/remediation-double.js';

/** Debian's Chromium, which .ci/run installs; the test skips itself where it is missing. */
const CHROMIUM = '/usr/bin/chromium';
/** Set to 1 to save a screenshot of the console to docs/images/console.png. */
const SCREENSHOT_ENV = 'SYNCWATCH_CONSOLE_SCREENSHOT';
const SCREENSHOT_PATH = fileURLToPath(new URL('../../../docs/images/console.png', import.meta.url));

const APPROVER_TOKEN = 'approver-console-token-0123456789';
const VIEWER_TOKEN = 'viewer-console-token-0123456789';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-console-'));
const profileDir = mkdtempSync(join(tmpdir(), 'syncwatch-console-chromium-'));
const client = openClickHouse({ kind: 'embedded', dataDir });

const remediation = new RemediationDouble({
  // Long enough that the console shows "executing" before the result arrives.
  executionDelayMs: 400,
  execute: (proposal) => `requeued ${proposal.targets.length} of ${proposal.targets.length} queue_job rows; all finished on the first attempt`,
})
  .addUser('alice', 'approver')
  .addUser('victor', 'viewer');

remediation.addProposal({ id: 'prop-requeue-mes-a' });
remediation.addProposal({
  id: 'prop-replay-dlq-wms',
  action: 'replay_dead_letters',
  integration: 'wms-odoo',
  workflow: 'shipment_execution',
  plant: 'plant-b',
  rationale: 'Shipment milestones went to the dead-letter queue while the WMS endpoint returned 503; it answers again.',
  targets: [{ kind: 'rabbitmq_dlq', ref: 'wms.shipments.dlq', detail: '37 messages', state: 'pending' }],
  blastRadius: { events: 37, orders: 12, plants: ['plant-b'] },
  duplicateRisk: 'Low: the WMS drops milestones whose idempotency key it has seen.',
  requiredApprovals: 2,
});

const app = buildApiServer({
  client,
  tokens: [
    { name: 'alice-console', token: APPROVER_TOKEN, scopes: ['approve'], user: 'alice' },
    { name: 'victor-console', token: VIEWER_TOKEN, scopes: ['read'], user: 'victor' },
  ],
  logger: pino({ level: 'silent' }),
  storeDescription: 'test store',
  remediation,
});

let baseUrl = '';
let browser: BrowserContext | undefined;

async function seedIncidents(): Promise<void> {
  await client.command({
    query: `CREATE TABLE incidents (
      incident_id String, state String, severity String, title String, explanation String,
      integration String, workflow String, plant String, updated_at DateTime64(3, 'UTC')
    ) ENGINE = MergeTree ORDER BY incident_id`,
  });
  await client.insert({
    table: 'incidents',
    format: 'JSONEachRow',
    values: [
      {
        incident_id: 'incident-prop-requeue-mes-a',
        state: 'opened',
        severity: 'critical',
        title: 'Material consumption from MES plant-a fails with lock conflicts',
        explanation: '14 queue_job rows failed in 10 minutes with a database lock conflict.',
        integration: 'odoo-mes-plant-a',
        workflow: 'material_consumption',
        plant: 'plant-a',
        updated_at: Date.now() - 120_000,
      },
      {
        incident_id: 'incident-prop-replay-dlq-wms',
        state: 'opened',
        severity: 'warning',
        title: 'Shipment milestones from WMS wait in the dead-letter queue',
        explanation: '37 messages since 14:02.',
        integration: 'wms-odoo',
        workflow: 'shipment_execution',
        plant: 'plant-b',
        updated_at: Date.now() - 300_000,
      },
    ],
  });
}

async function openConsole(token: string): Promise<Page> {
  const page = await browser!.newPage();
  await page.goto(`${baseUrl}/console?token=${token}`);
  await page.locator('#identity').filter({ hasText: 'Signed in as' }).waitFor();
  return page;
}

describe.skipIf(!existsSync(CHROMIUM))(`console in Chromium (skipped without ${CHROMIUM})`, () => {
  beforeAll(async () => {
    await seedIncidents();
    baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1360, height: 900 },
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app.close();
    await client.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profileDir, { recursive: true, force: true });
  });

  it('lets an approver approve and see the result', async () => {
    const page = await openConsole(APPROVER_TOKEN);
    expect(new URL(page.url()).searchParams.has('token')).toBe(false);
    await expect(page.locator('#identity').textContent()).resolves.toContain('alice (approver)');
    await page.locator('#incidents tbody tr').first().waitFor();
    await expect(page.locator('#incidents tbody tr').count()).resolves.toBe(2);

    await page.locator('[data-proposal-id="prop-requeue-mes-a"]').click();
    await page.locator('#detail-title').filter({ hasText: 'requeue_failed_jobs on odoo-mes-plant-a' }).waitFor();
    await expect(page.locator('#detail-rationale').textContent()).resolves.toContain('database lock conflict');
    await expect(page.locator('#detail-blast-radius').textContent()).resolves.toBe('2 events, 2 orders, plants: plant-a');
    await expect(page.locator('#detail-duplicate-risk').textContent()).resolves.toContain('idempotency key');
    await expect(page.locator('#detail-targets tbody tr').count()).resolves.toBe(2);
    await expect(page.locator('#detail-facts').textContent()).resolves.toContain('0 of 1');

    const approve = page.getByRole('button', { name: 'Approve' });
    await expect(approve.isVisible()).resolves.toBe(true);
    await approve.click();

    const result = page.locator('#result').filter({ hasText: 'Execution result:' });
    await result.waitFor({ timeout: 10_000 });
    await expect(result.textContent()).resolves.toContain('requeued 2 of 2 queue_job rows');
    await expect(page.locator('#detail-status').textContent()).resolves.toBe('Status: executed');
    await expect(page.locator('#outcome').textContent()).resolves.toContain('Approved');
    await expect(page.locator('#detail-audit').textContent()).resolves.toContain('alice via console');
    await expect(approve.isVisible()).resolves.toBe(false);

    const decision = remediation.decisions.find((request) => request.proposalId === 'prop-requeue-mes-a');
    expect(decision?.channel).toBe('console');
    expect(decision?.userName).toBe('alice');
    expect(decision?.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);

    if (process.env[SCREENSHOT_ENV] === '1') {
      mkdirSync(dirname(SCREENSHOT_PATH), { recursive: true });
      await page.screenshot({ path: SCREENSHOT_PATH, fullPage: true });
    }
    await page.close();
  });

  it('shows a viewer no approve button', async () => {
    const page = await browser!.newPage();
    await page.goto(`${baseUrl}/console`);
    await page.getByLabel('API token').fill(VIEWER_TOKEN);
    await page.getByRole('button', { name: 'Open the console' }).click();
    await page.locator('#identity').filter({ hasText: 'victor (viewer)' }).waitFor();

    await page.locator('[data-proposal-id="prop-replay-dlq-wms"]').click();
    await page.locator('#detail-title').filter({ hasText: 'replay_dead_letters on wms-odoo' }).waitFor();
    await expect(page.getByRole('button', { name: 'Approve' }).isVisible()).resolves.toBe(false);
    await expect(page.getByRole('button', { name: 'Reject' }).isVisible()).resolves.toBe(false);
    await expect(page.locator('#decision-note').textContent()).resolves.toContain('viewer');
    await page.close();
  });

  it('refuses a viewer approval through the API', async () => {
    const response = await fetch(`${baseUrl}/api/v1/proposals/prop-replay-dlq-wms/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${VIEWER_TOKEN}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(403);
    const body = (await response.json()) as { error: { code: string } };
    expect(body.error.code).toBe('API_ERR_FORBIDDEN_SCOPE');
    expect((await remediation.getProposal('prop-replay-dlq-wms'))?.approvals).toEqual([]);
  });
});
