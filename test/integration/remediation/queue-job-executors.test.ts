import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProposalView } from '../../../remediation/contract.js';
import type { RemediationConfigInput } from '../../../remediation/config.js';
import type { Remediation } from '../../../remediation/index.js';
import { createQueueJobTable } from '../../../simulator/odoo-queue-job.js';
import { startOdooRpcServer, type OdooRpcServer } from '../../../simulator/odoo-rpc-server.js';
import { ControlPlaneHarness, exceptionIncident, POSTGRES_URL } from './harness.js';

const schema = `sw_jobs_${randomBytes(4).toString('hex')}`;
const table = `${schema}.queue_job`;
const harness = new ControlPlaneHarness('pglite');
/** A second control plane, because one PGlite directory takes one process-local instance at a time. */
const odooHarness = new ControlPlaneHarness('pglite');
let admin: pg.Client;
let odoo: OdooRpcServer;
let sqlRemediation: Remediation;
let odooRemediation: Remediation;

const failureQueues: RemediationConfigInput['failureQueues'] = [{ kind: 'queue_job', integration: 'odoo-mes', table, channel: 'root.mes' }];

beforeAll(async () => {
  admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await createQueueJobTable(admin, table);
  odoo = await startOdooRpcServer({ databaseUrl: POSTGRES_URL, table, database: 'odoo', login: 'syncwatch', apiKey: 'odoo-test-key' });
  sqlRemediation = await harness.open({
    executeInBackground: false,
    remediation: { failureQueues, executors: { queueJob: { url: POSTGRES_URL } } },
  });
});

afterAll(async () => {
  await harness.cleanup();
  await odooHarness.cleanup();
  await odoo.close();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

beforeEach(async () => {
  await admin.query(`DELETE FROM ${table}`);
});

async function insertJob(state: string, options: { identityKey?: string; records?: string; channel?: string } = {}): Promise<string> {
  const uuid = randomUUID();
  await admin.query(
    `INSERT INTO ${table} (uuid, name, model_name, method_name, channel, state, records, identity_key, exc_name, retry, max_retries, date_created)
     VALUES ($1, 'mrp.production.release', 'mrp.production', 'release', $2, $3, $4, $5, 'requests.exceptions.ReadTimeout', 3, 5,
             now() AT TIME ZONE 'UTC')`,
    [uuid, options.channel ?? 'root.mes', state, options.records ?? null, options.identityKey ?? null],
  );
  return uuid;
}

async function readJob(uuid: string): Promise<{ state: string; retry: number; eta_in_future: boolean | null }> {
  const { rows } = await admin.query<{ state: string; retry: number; eta_in_future: boolean | null }>(
    `SELECT state, retry, eta > now() AT TIME ZONE 'UTC' AS eta_in_future FROM ${table} WHERE uuid = $1`,
    [uuid],
  );
  return rows[0] as { state: string; retry: number; eta_in_future: boolean | null };
}

function pick(proposals: ProposalView[], action: string): ProposalView {
  const proposal = proposals.find((candidate) => candidate.action === action);
  if (!proposal) throw new Error(`no ${action} proposal among ${proposals.map((candidate) => candidate.action).join(', ')}`);
  return proposal;
}

describe('queue_job proposals', () => {
  it('lists failed jobs of the channel as targets', async () => {
    const first = await insertJob('failed', { records: 'mrp.production(17,)' });
    const second = await insertJob('failed', { records: 'mrp.production(17,)' });
    await insertJob('failed', { channel: 'root.wms' });
    await insertJob('pending');

    const proposals = await sqlRemediation.propose(exceptionIncident({ exception: { fingerprint: 'fp', category: 'transient_network', retryable: true, sample: '', count: 2 } }));
    const retry = pick(proposals, 'retry_now');

    expect(retry.targets.map((target) => target.ref).sort()).toEqual([first, second].sort());
    expect(retry.blastRadius).toEqual({ events: 2, orders: 1, plants: ['plant-1'] });
    expect(retry.rationale).toContain('exception class transient_network');
    expect(retry.duplicateRisk).toContain('second picking');
    expect(retry.duplicateRisk).toContain('2 of 2 jobs have no identity key, so a repeat of them cannot be recognised; 2 already ran more than once');
    expect(proposals.map((proposal) => proposal.action)).not.toContain('skip_duplicates');
  });

  it('offers only a hold for a non-retryable class', async () => {
    await insertJob('failed');
    const proposals = await sqlRemediation.propose(exceptionIncident({ exception: { fingerprint: 'fp', category: 'master_data_missing', retryable: true, sample: '', count: 1 } }));

    expect(proposals.map((proposal) => proposal.action)).toEqual(['hold_channel']);
  });
});

describe('queue_job executors', () => {
  it('requeues only jobs that are still failed', async () => {
    const stillFailed = await insertJob('failed');
    const finishedMeanwhile = await insertJob('failed');
    const proposals = await sqlRemediation.propose(exceptionIncident());
    const requeue = pick(proposals, 'requeue_failed_jobs');
    await admin.query(`UPDATE ${table} SET state = 'done' WHERE uuid = $1`, [finishedMeanwhile]);

    const outcome = await sqlRemediation.decide({ proposalId: requeue.id, decision: 'approve', userName: 'alice', channel: 'api' });

    expect(outcome.status).toBe('executed');
    expect(await readJob(stillFailed)).toMatchObject({ state: 'pending', retry: 0 });
    expect((await readJob(finishedMeanwhile)).state).toBe('done');
    const view = await sqlRemediation.getProposal(requeue.id);
    const states = Object.fromEntries(view?.targets.map((target) => [target.ref, target.state]) ?? []);
    expect(states).toEqual({ [stillFailed]: 'done', [finishedMeanwhile]: 'skipped' });
  });

  it('delays a retry by the configured delay', async () => {
    const job = await insertJob('failed');
    const proposals = await sqlRemediation.propose(exceptionIncident());
    const delayed = pick(proposals, 'retry_after_delay');

    await sqlRemediation.decide({ proposalId: delayed.id, decision: 'approve', userName: 'bob', channel: 'console' });

    expect(await readJob(job)).toEqual({ state: 'pending', retry: 3, eta_in_future: true });
  });

  it('cancels confirmed duplicates only', async () => {
    await insertJob('done', { identityKey: 'release:WO-17' });
    const duplicate = await insertJob('failed', { identityKey: 'release:WO-17' });
    const unique = await insertJob('failed', { identityKey: 'release:WO-18' });
    const proposals = await sqlRemediation.propose(exceptionIncident({ exception: { fingerprint: 'fp', category: 'duplicate', retryable: false, sample: '', count: 1 } }));
    const skip = pick(proposals, 'skip_duplicates');

    expect(skip.targets.map((target) => target.ref)).toEqual([duplicate]);
    await sqlRemediation.decide({ proposalId: skip.id, decision: 'approve', userName: 'alice', channel: 'api' });
    expect((await readJob(duplicate)).state).toBe('cancelled');
    expect((await readJob(unique)).state).toBe('failed');
  });

  it('refuses retries on a held channel', async () => {
    const job = await insertJob('failed');
    const incident = exceptionIncident();
    const proposals = await sqlRemediation.propose(incident);
    await sqlRemediation.decide({ proposalId: pick(proposals, 'hold_channel').id, decision: 'approve', userName: 'alice', channel: 'api' });

    const outcome = await sqlRemediation.decide({ proposalId: pick(proposals, 'requeue_failed_jobs').id, decision: 'approve', userName: 'alice', channel: 'api' });

    expect(outcome.status).toBe('failed');
    expect(outcome.result).toContain('REMEDIATION_CHANNEL_HELD');
    expect((await readJob(job)).state).toBe('failed');
    expect(await sqlRemediation.listHolds()).toMatchObject([{ integration: 'odoo-mes', channel: 'root.mes' }]);

    const hold = { integration: 'odoo-mes', channel: 'root.mes', via: 'console' as const, reason: 'MES back online' };
    const byAnalyst = await sqlRemediation.releaseHold({ ...hold, userName: 'ana' });
    const byAdmin = await sqlRemediation.releaseHold({ ...hold, userName: 'carol' });

    expect(byAnalyst).toMatchObject({ released: false, code: 'REMEDIATION_FORBIDDEN_ROLE' });
    expect(byAdmin.released).toBe(true);
    expect(await sqlRemediation.listHolds()).toEqual([]);
    const events = (await sqlRemediation.listAudit({ limit: 10_000 })).map((entry) => entry.event);
    expect(events.slice(-2)).toEqual(['hold.release_refused', 'hold.released']);
  });

  it.each(['jsonrpc', 'json2'] as const)('requeues through the Odoo API over %s', async (protocol) => {
    odooRemediation = await odooHarness.open({
      executeInBackground: false,
      remediation: {
        failureQueues,
        executors: {
          queueJob: { url: POSTGRES_URL },
          odoo: { url: odoo.url, protocol, database: 'odoo', login: 'syncwatch', apiKey: 'odoo-test-key' },
        },
      },
    });
    const job = await insertJob('failed');
    const requeue = pick(await odooRemediation.propose(exceptionIncident()), 'requeue_failed_jobs');

    const outcome = await odooRemediation.decide({ proposalId: requeue.id, decision: 'approve', userName: 'carol', channel: 'api' });

    expect(outcome.status).toBe('executed');
    expect(outcome.result).toContain('requeued through Odoo');
    expect(await readJob(job)).toMatchObject({ state: 'pending', retry: 0 });
    await odooRemediation.close();
    odooHarness.opened.splice(odooHarness.opened.indexOf(odooRemediation), 1);
  });
});
