import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionOutcome } from '../../../remediation/contract.js';
import { REMEDIATION_CODES, type Remediation } from '../../../remediation/index.js';
import { ControlPlaneHarness, exceptionIncident, routeDraft, type StoreKind } from './harness.js';

const KINDS: StoreKind[] = ['pglite', 'postgres'];

describe.each(KINDS)('decisions on %s', (kind) => {
  const harness = new ControlPlaneHarness(kind);
  let now = new Date();
  let remediation: Remediation;

  beforeAll(async () => {
    remediation = await harness.open({ executeInBackground: false, clock: () => now });
  });

  afterAll(() => harness.cleanup());

  async function countExecutions(proposalId: string): Promise<number> {
    const { rows } = await remediation.store.query<{ count: number }>('SELECT count(*)::int AS count FROM executions WHERE proposal_id = $1', [proposalId]);
    return rows[0]?.count ?? 0;
  }

  async function auditCodes(proposalId: string): Promise<string[]> {
    const entries = await remediation.listAudit({ proposalId });
    return entries.flatMap((entry) => (entry.code ? [entry.code] : []));
  }

  it('executes a single approval and audits each step', async () => {
    const proposal = await remediation.storeProposal(routeDraft());
    const outcome = await remediation.decide({ proposalId: proposal.id, decision: 'approve', userName: 'alice', channel: 'api' });

    expect(outcome.status).toBe('executed');
    const view = await remediation.getProposal(proposal.id);
    expect(view?.status).toBe('executed');
    expect(view?.targets[0]?.state).toBe('done');
    expect(view?.approvals.map((approval) => approval.userName)).toEqual(['alice']);
    const events = (await remediation.listAudit({ proposalId: proposal.id })).map((entry) => entry.event);
    expect(events).toEqual(['proposal.created', 'decision.approved', 'execution.started', 'execution.target', 'execution.finished']);
    const route = await remediation.store.query<{ route: string }>('SELECT route FROM workflow_routes WHERE workflow = $1', ['production_order_release']);
    expect(route.rows[0]?.route).toBe('mes-secondary');
  });

  it('runs one execution for 100 concurrent approvals', async () => {
    const proposal = await remediation.storeProposal(routeDraft());
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, (_, index) =>
        remediation.decide({ proposalId: proposal.id, decision: 'approve', userName: `approver-${index}`, channel: 'api' }),
      ),
    );

    expect(await countExecutions(proposal.id)).toBe(1);
    expect(outcomes.filter((outcome) => outcome.status === 'executed')).toHaveLength(1);
    const refused = outcomes.filter((outcome) => outcome.status === 'refused');
    expect(refused).toHaveLength(99);
    expect(new Set(refused.map((outcome) => outcome.code))).toEqual(new Set([REMEDIATION_CODES.notPending]));
    expect((await remediation.getProposal(proposal.id))?.approvals).toHaveLength(1);
  });

  it('runs one execution for 100 concurrent approvals needing two', async () => {
    const proposal = await remediation.storeProposal(routeDraft({ requiredApprovals: 2, blastRadius: { events: 5_000, orders: 400, plants: ['plant-1'] } }));
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, (_, index) =>
        remediation.decide({ proposalId: proposal.id, decision: 'approve', userName: `approver-${index}`, channel: 'slack' }),
      ),
    );

    expect(await countExecutions(proposal.id)).toBe(1);
    expect(outcomes.filter((outcome) => outcome.status === 'awaiting_second_approval')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.status === 'executed')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.status === 'refused')).toHaveLength(98);
    expect((await remediation.getProposal(proposal.id))?.approvals).toHaveLength(2);
  });

  it('refuses a viewer and an analyst', async () => {
    const proposal = await remediation.storeProposal(routeDraft());
    const viewer = await remediation.decide({ proposalId: proposal.id, decision: 'approve', userName: 'vera', channel: 'console' });
    const analyst = await remediation.decide({ proposalId: proposal.id, decision: 'reject', userName: 'ana', channel: 'console', reason: 'no' });

    expect(viewer.status).toBe('refused');
    expect(viewer.code).toBe(REMEDIATION_CODES.forbiddenRole);
    expect(viewer.message).toContain('role "viewer"');
    expect(analyst.code).toBe(REMEDIATION_CODES.forbiddenRole);
    expect(await auditCodes(proposal.id)).toEqual([REMEDIATION_CODES.forbiddenRole, REMEDIATION_CODES.forbiddenRole]);
    expect((await remediation.getProposal(proposal.id))?.status).toBe('pending');
  });

  it('refuses self-approval', async () => {
    const proposal = await remediation.storeProposal(routeDraft({ requestedBy: 'alice' }));
    const outcome = await remediation.decide({ proposalId: proposal.id, decision: 'approve', userName: 'alice', channel: 'api' });

    expect(outcome.code).toBe(REMEDIATION_CODES.selfApproval);
    expect(outcome.message).toContain('requested proposal');
    expect(await auditCodes(proposal.id)).toEqual([REMEDIATION_CODES.selfApproval]);
  });

  it('refuses an expired proposal and marks it expired', async () => {
    const proposal = await remediation.storeProposal(routeDraft({ expiresAt: new Date(now.getTime() + 60_000) }));
    now = new Date(now.getTime() + 61_000);
    const outcome = await remediation.decide({ proposalId: proposal.id, decision: 'approve', userName: 'bob', channel: 'api' });
    now = new Date();

    expect(outcome.code).toBe(REMEDIATION_CODES.expired);
    expect((await remediation.getProposal(proposal.id))?.status).toBe('expired');
    expect(await auditCodes(proposal.id)).toEqual([REMEDIATION_CODES.expired]);
    expect(await countExecutions(proposal.id)).toBe(0);
  });

  it('refuses an under-approved execution and a repeated approver', async () => {
    const proposal = await remediation.storeProposal(routeDraft({ requiredApprovals: 2 }));
    const first = await remediation.decide({ proposalId: proposal.id, decision: 'approve', userName: 'bob', channel: 'api' });
    const again = await remediation.decide({ proposalId: proposal.id, decision: 'approve', userName: 'bob', channel: 'slack' });
    const forced = await remediation.execute(proposal.id, 'bob');

    expect(first.status).toBe('awaiting_second_approval');
    expect(again.code).toBe(REMEDIATION_CODES.sameApprover);
    expect(forced).toMatchObject({ claimed: false, code: REMEDIATION_CODES.underApproved });
    expect(await auditCodes(proposal.id)).toEqual([REMEDIATION_CODES.sameApprover, REMEDIATION_CODES.underApproved]);
    expect(await countExecutions(proposal.id)).toBe(0);
  });

  it('refuses an approver outside their plants', async () => {
    const proposal = await remediation.storeProposal(routeDraft());
    const outcome = await remediation.decide({ proposalId: proposal.id, decision: 'approve', userName: 'pat', channel: 'api' });

    expect(outcome.code).toBe(REMEDIATION_CODES.outOfScope);
    expect(outcome.message).toContain('plant-1');
  });

  it('refuses unknown users and rejections without reason', async () => {
    const proposal = await remediation.storeProposal(routeDraft());
    const unknown = await remediation.decide({ proposalId: proposal.id, decision: 'approve', userName: 'mallory', channel: 'api' });
    const noReason = await remediation.decide({ proposalId: proposal.id, decision: 'reject', userName: 'bob', channel: 'api', reason: ' ' });
    const missing = await remediation.decide({ proposalId: 'rp-missing', decision: 'approve', userName: 'bob', channel: 'api' });

    expect(unknown.code).toBe(REMEDIATION_CODES.unknownUser);
    expect(noReason.code).toBe(REMEDIATION_CODES.reasonRequired);
    expect(missing.code).toBe(REMEDIATION_CODES.proposalNotFound);
    expect(await auditCodes('rp-missing')).toEqual([REMEDIATION_CODES.proposalNotFound]);
  });

  it('records a rejection with its reason', async () => {
    const proposal = await remediation.storeProposal(routeDraft());
    const outcome = await remediation.decide({
      proposalId: proposal.id,
      decision: 'reject',
      userName: 'carol',
      channel: 'console',
      reason: 'secondary MES is in maintenance',
    });
    const late = await remediation.decide({ proposalId: proposal.id, decision: 'approve', userName: 'bob', channel: 'api' });

    expect(outcome.status).toBe('rejected');
    const view = await remediation.getProposal(proposal.id);
    expect(view?.rejection).toMatchObject({ userName: 'carol', reason: 'secondary MES is in maintenance' });
    expect(late.code).toBe(REMEDIATION_CODES.notPending);
  });

  it('returns the first outcome for a repeated idempotency key', async () => {
    const proposal = await remediation.storeProposal(routeDraft({ requiredApprovals: 2 }));
    const request = { proposalId: proposal.id, decision: 'approve' as const, userName: 'alice', channel: 'slack' as const, idempotencyKey: `key-${proposal.id}` };
    const outcomes: DecisionOutcome[] = await Promise.all([remediation.decide(request), remediation.decide(request), remediation.decide(request)]);
    const conflict = await remediation.decide({ ...request, decision: 'reject', reason: 'changed my mind' });

    expect(outcomes.map((outcome) => outcome.status)).toEqual(['awaiting_second_approval', 'awaiting_second_approval', 'awaiting_second_approval']);
    expect((await remediation.getProposal(proposal.id))?.approvals).toHaveLength(1);
    expect(conflict.code).toBe(REMEDIATION_CODES.idempotencyConflict);
  });

  it('expires overdue proposals on a sweep', async () => {
    const proposal = await remediation.storeProposal(routeDraft({ expiresAt: new Date(now.getTime() + 60_000) }));
    now = new Date(now.getTime() + 61_000);
    const expired = await remediation.expireOverdue();
    now = new Date();

    expect(expired).toBeGreaterThanOrEqual(1);
    expect((await remediation.getProposal(proposal.id))?.status).toBe('expired');
    const events = (await remediation.listAudit({ proposalId: proposal.id })).map((entry) => entry.event);
    expect(events).toEqual(['proposal.created', 'proposal.expired']);
  });

  it('attaches pending proposals to an alert', async () => {
    const event = await remediation.attachProposals(exceptionIncident());
    const resolved = await remediation.attachProposals(exceptionIncident({ state: 'resolved' }));
    const informational = await remediation.attachProposals(exceptionIncident({ severity: 'info' }));

    expect(event.proposals?.map((proposal) => proposal.action)).toEqual(['hold_channel']);
    expect(event.proposals?.[0]?.summary).toContain('hold the channel');
    expect(resolved.proposals).toBeUndefined();
    expect(informational.proposals).toBeUndefined();
  });

  it('raises required approvals to the policy', async () => {
    const proposal = await remediation.storeProposal(routeDraft({ requiredApprovals: 1, blastRadius: { events: 5_000, orders: 400, plants: ['plant-1'] } }));

    expect(proposal.requiredApprovals).toBe(2);
  });

  it('shares one proposal between incidents of one cause', async () => {
    const first = await remediation.attachProposals(exceptionIncident({ integration: 'odoo-wms' }));
    const second = await remediation.attachProposals(exceptionIncident({ integration: 'odoo-wms' }));
    const pending = (await remediation.listProposals({ status: 'pending' })).filter((proposal) => proposal.integration === 'odoo-wms');

    expect(first.proposals?.map((proposal) => proposal.proposalId)).toEqual(second.proposals?.map((proposal) => proposal.proposalId));
    expect(pending).toHaveLength(1);
  });

  it('maps Slack user ids and lists users', async () => {
    expect(await remediation.findUserByChatId('slack', 'U0ALICE')).toBe('alice');
    expect(await remediation.findUserByChatId('slack', 'U0NOBODY')).toBeUndefined();
    expect(await remediation.findUser('carol')).toEqual({ name: 'carol', role: 'admin' });
  });

  it('keeps the audit log append-only', async () => {
    await expect(remediation.store.query(`UPDATE audit_log SET detail = 'changed'`)).rejects.toThrow(/REMEDIATION_ERR_AUDIT_APPEND_ONLY/);
    await expect(remediation.store.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
    await expect(remediation.store.query('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
    const entries = await remediation.listAudit({ limit: 10_000 });
    const sequences = entries.map((entry) => entry.seq);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
  });
});
