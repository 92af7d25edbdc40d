import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProposalDraft } from '../../../remediation/proposals.js';
import { configSchema } from '../../../config/index.js';
import { openRemediation, type Remediation } from '../../../remediation/index.js';
import type { ActionExecutor } from '../../../remediation/executors/types.js';
import { buildApiServer } from '../../../server/api-server.js';
import { openClickHouse } from '../../../store/index.js';

/** Debian's Chromium, which .ci/run installs; the test skips itself where it is missing. */
const CHROMIUM = '/usr/bin/chromium';
/** Set to 1 to save a screenshot of the console to docs/images/console-browser-test.png. */
const SCREENSHOT_ENV = 'SYNCWATCH_CONSOLE_SCREENSHOT';
const SCREENSHOT_PATH = fileURLToPath(new URL('../../../docs/images/console-browser-test.png', import.meta.url));

/** PostgreSQL on loopback for the control plane; embedded PGlite would add about 8 s of start-up. */
const POSTGRES_URL = process.env.SYNCWATCH_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONTROL_SCHEMA = `sw_console_${randomBytes(5).toString('hex')}`;

const APPROVER_TOKEN = 'approver-console-token-0123456789';
const VIEWER_TOKEN = 'viewer-console-token-0123456789';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-console-'));
const profileDir = mkdtempSync(join(tmpdir(), 'syncwatch-console-chromium-'));
const client = openClickHouse({ kind: 'embedded', dataDir });

/**
 * Stands in for the queue_job executor, which needs an Odoo database. It
 * waits long enough that the console shows `executing` before the result.
 */
const requeueExecutor: ActionExecutor = {
  async runTarget({ target }) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { state: 'done', result: `requeued ${target.ref}` };
  },
  async close() {},
};

const REQUEUE_DRAFT: ProposalDraft = {
  id: 'prop-requeue-mes-a',
  incidentId: 'incident-mes-a-locks',
  action: 'requeue_failed_jobs',
  integration: 'odoo-mes-plant-a',
  workflow: 'material_consumption',
  plant: 'plant-a',
  rationale: 'Material consumption jobs failed with a database lock conflict; the lock is gone and the jobs are safe to retry.',
  params: {},
  targets: [
    { kind: 'queue_job', ref: '7c1e9a52-4f0b-4a8e-9d53-2a1f0e6b8c11', detail: 'mrp.production(4711) consume' },
    { kind: 'queue_job', ref: '0b9f3d27-8e64-4c5a-b1f2-6d7e8a9c0d22', detail: 'mrp.production(4712) consume' },
  ],
  blastRadius: { events: 2, orders: 2, plants: ['plant-a'] },
  duplicateRisk: 'None: each job carries an idempotency key that Odoo checks before posting the stock move.',
  requiredApprovals: 1,
  requestedBy: 'syncwatch',
  expiresAt: new Date(Date.now() + 30 * 60_000),
};

const REPLAY_DRAFT: ProposalDraft = {
  ...REQUEUE_DRAFT,
  id: 'prop-replay-dlq-wms',
  incidentId: 'incident-wms-dlq',
  action: 'replay_dead_letters',
  integration: 'wms-odoo',
  workflow: 'shipment_execution',
  plant: 'plant-b',
  rationale: 'Shipment milestones went to the dead-letter queue while the WMS endpoint returned 503; it answers again.',
  targets: [{ kind: 'rabbitmq_dlq', ref: 'wms.shipments.dlq', detail: '137 messages' }],
  blastRadius: { events: 137, orders: 42, plants: ['plant-b'] },
  duplicateRisk: 'Low: the WMS drops milestones whose idempotency key it has seen.',
  requiredApprovals: 2,
};

const REJECT_DRAFT: ProposalDraft = {
  ...REQUEUE_DRAFT,
  id: 'prop-requeue-qms-c',
  incidentId: 'incident-qms-c',
  integration: 'qms-odoo-plant-c',
  workflow: 'quality_hold',
  plant: 'plant-c',
};

let remediation: Remediation;
let app: ReturnType<typeof buildApiServer>;
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
        incident_id: 'incident-mes-a-locks',
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
        incident_id: 'incident-wms-dlq',
        state: 'opened',
        severity: 'warning',
        title: 'Shipment milestones from WMS wait in the dead-letter queue',
        explanation: '137 messages since 14:02.',
        integration: 'wms-odoo',
        workflow: 'shipment_execution',
        plant: 'plant-b',
        updated_at: Date.now() - 300_000,
      },
    ],
  });
}

async function dropControlSchema(): Promise<void> {
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${CONTROL_SCHEMA}" CASCADE`);
  } finally {
    await admin.end();
  }
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
    const config = configSchema.parse({
      store: { dataDir },
      remediation: {
        database: { url: POSTGRES_URL },
        users: [
          { name: 'alice', role: 'approver' },
          { name: 'victor', role: 'viewer' },
        ],
      },
    });
    remediation = await openRemediation({
      config,
      logger: pino({ level: 'silent' }),
      schema: CONTROL_SCHEMA,
      executors: { requeue_failed_jobs: requeueExecutor },
    });
    await remediation.storeProposal(REQUEUE_DRAFT);
    await remediation.storeProposal(REPLAY_DRAFT);
    await remediation.storeProposal(REJECT_DRAFT);
    app = buildApiServer({
      client,
      tokens: [
        { name: 'alice-console', token: APPROVER_TOKEN, scopes: ['approve'], user: 'alice' },
        { name: 'victor-console', token: VIEWER_TOKEN, scopes: ['read'], user: 'victor' },
      ],
      logger: pino({ level: 'silent' }),
      storeDescription: 'test store',
      remediation,
    });
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
    await app?.close();
    await remediation?.close();
    await dropControlSchema();
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

    await page.locator('#proposals [data-proposal-id="prop-requeue-mes-a"]').click();
    await page.locator('#detail-title').filter({ hasText: 'requeue_failed_jobs on odoo-mes-plant-a' }).waitFor();
    await expect(page.locator('#detail-facts').textContent()).resolves.toContain('Material consumption from MES plant-a fails');
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
    await expect(result.textContent()).resolves.toContain('Execution result:');
    await expect(page.locator('#detail-status').textContent()).resolves.toBe('Status: executed');
    await expect(page.locator('#outcome').textContent()).resolves.toContain('Approved');
    await expect(page.locator('#detail-audit').textContent()).resolves.toContain('alice via console');
    await expect(approve.isVisible()).resolves.toBe(false);

    const proposal = await remediation.getProposal('prop-requeue-mes-a');
    expect(proposal?.status).toBe('executed');
    expect(proposal?.targets.map((target) => target.state)).toEqual(['done', 'done']);
    expect(proposal?.approvals.map((approval) => approval.userName)).toEqual(['alice']);
    const approval = (await remediation.listAudit({ proposalId: 'prop-requeue-mes-a' })).find(
      (entry) => entry.event === 'decision.approved',
    );
    expect(approval?.channel).toBe('console');
    expect(approval?.actor).toBe('alice');

    if (process.env[SCREENSHOT_ENV] === '1') {
      mkdirSync(dirname(SCREENSHOT_PATH), { recursive: true });
      await page.screenshot({ path: SCREENSHOT_PATH, fullPage: true });
    }
    await page.close();
  });

  it('lets an approver reject with a reason', async () => {
    const page = await openConsole(APPROVER_TOKEN);
    await page.locator('#proposals [data-proposal-id="prop-requeue-qms-c"]').click();
    await page.locator('#detail-title').filter({ hasText: 'on qms-odoo-plant-c' }).waitFor();

    // The browser's own form validation stops a rejection without a reason.
    await page.getByRole('button', { name: 'Reject' }).click();
    await expect(page.locator('#reject-reason:invalid').count()).resolves.toBe(1);
    await expect(page.locator('#detail-status').textContent()).resolves.toBe('Status: pending');
    await page.getByLabel('Reason for rejecting').fill('plant-c quality lab is re-inspecting the lot');
    await page.getByRole('button', { name: 'Reject' }).click();

    await page.locator('#detail-status').filter({ hasText: 'Status: rejected' }).waitFor();
    await expect(page.locator('#outcome').textContent()).resolves.toBe('Rejected.');
    await expect(page.locator('#detail-facts').textContent()).resolves.toContain('plant-c quality lab is re-inspecting the lot');
    // The pending list reloads after the decision and drops the proposal.
    await page.locator('#proposals [data-proposal-id="prop-requeue-qms-c"]').waitFor({ state: 'detached' });
    await page.close();
  });

  it('shows a viewer no approve button', async () => {
    const page = await browser!.newPage();
    await page.goto(`${baseUrl}/console`);
    await page.getByLabel('API token').fill(VIEWER_TOKEN);
    await page.getByRole('button', { name: 'Open the console' }).click();
    await page.locator('#identity').filter({ hasText: 'victor (viewer)' }).waitFor();

    await page.locator('#proposals [data-proposal-id="prop-replay-dlq-wms"]').click();
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

  it('waits for a second approver', async () => {
    const page = await openConsole(APPROVER_TOKEN);
    await page.locator('#proposals [data-proposal-id="prop-replay-dlq-wms"]').click();
    await page.locator('#detail-title').filter({ hasText: 'replay_dead_letters on wms-odoo' }).waitFor();
    await page.getByRole('button', { name: 'Approve' }).click();

    await page.locator('#outcome').filter({ hasText: 'approval 1 of 2' }).waitFor();
    await expect(page.locator('#detail-status').textContent()).resolves.toBe('Status: pending');
    await expect(page.getByRole('button', { name: 'Approve' }).isVisible()).resolves.toBe(false);
    await expect(page.locator('#decision-note').textContent()).resolves.toContain('waits for another approver');
    await page.close();
  });
});
