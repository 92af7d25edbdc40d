import type {
  AuditEntry,
  AuditFilter,
  DecisionOutcome,
  DecisionRequest,
  ProposalView,
  Role,
  UserView,
} from '../../remediation/contract.js';
import type { RemediationAccess } from '../../server/api-v1/views.js';

/**
 * An in-memory remediation layer for API and console tests. It applies the
 * approval rules the surfaces depend on (roles, expiry, distinct approvers,
 * a reason for rejections, idempotency keys) and runs an approved proposal
 * after `executionDelayMs`, so a client sees `executing` before `executed`.
 */
export class RemediationDouble implements RemediationAccess {
  readonly proposals = new Map<string, ProposalView>();
  readonly users = new Map<string, UserView>();
  readonly audit: AuditEntry[] = [];
  readonly decisions: DecisionRequest[] = [];
  private readonly outcomesByKey = new Map<string, { request: DecisionRequest; outcome: DecisionOutcome }>();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly options: {
      executionDelayMs?: number;
      /** Runs an approved proposal and returns its one-line result; a throw marks it failed. */
      execute?: (proposal: ProposalView) => Promise<string> | string;
    } = {},
  ) {}

  addUser(name: string, role: Role): this {
    this.users.set(name, { name, role });
    return this;
  }

  addProposal(overrides: Partial<ProposalView> & { id: string }): ProposalView {
    const now = Date.now();
    const proposal: ProposalView = {
      incidentId: `incident-${overrides.id}`,
      action: 'requeue_failed_jobs',
      integration: 'odoo-mes-plant-a',
      workflow: 'material_consumption',
      plant: 'plant-a',
      rationale: 'Material consumption jobs failed with a database lock conflict; the lock is gone and the jobs are safe to retry.',
      targets: [
        { kind: 'queue_job', ref: '7c1e9a52-4f0b-4a8e-9d53-2a1f0e6b8c11', detail: 'mrp.production(4711) consume', state: 'pending' },
        { kind: 'queue_job', ref: '0b9f3d27-8e64-4c5a-b1f2-6d7e8a9c0d22', detail: 'mrp.production(4712) consume', state: 'pending' },
      ],
      blastRadius: { events: 2, orders: 2, plants: ['plant-a'] },
      duplicateRisk: 'None: each job carries an idempotency key that Odoo checks before posting the stock move.',
      status: 'pending',
      requiredApprovals: 1,
      approvals: [],
      createdAt: new Date(now - 60_000),
      expiresAt: new Date(now + 30 * 60_000),
      ...overrides,
    };
    this.proposals.set(proposal.id, proposal);
    return proposal;
  }

  /** Waits until every started execution has finished. */
  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  async listProposals(filter?: { status?: ProposalView['status'] }): Promise<ProposalView[]> {
    return [...this.proposals.values()].filter((proposal) => !filter?.status || proposal.status === filter.status).map(copy);
  }

  async getProposal(id: string): Promise<ProposalView | undefined> {
    const proposal = this.proposals.get(id);
    return proposal ? copy(proposal) : undefined;
  }

  async listAudit(filter?: AuditFilter): Promise<AuditEntry[]> {
    const entries = this.audit.filter(
      (entry) => (!filter?.proposalId || entry.proposalId === filter.proposalId) && (filter?.before === undefined || entry.seq < filter.before),
    );
    if (filter?.newestFirst) entries.reverse();
    return entries.slice(0, filter?.limit ?? entries.length);
  }

  async findUser(name: string): Promise<UserView | undefined> {
    return this.users.get(name);
  }

  async findUserByChatId(): Promise<string | undefined> {
    return undefined;
  }

  async decide(request: DecisionRequest): Promise<DecisionOutcome> {
    // A refusal from the surface is only audited, so `decisions` keeps the requests the policy saw.
    if (request.refusal) return this.refuse(request, request.refusal.code, request.refusal.message);
    this.decisions.push(request);
    // Keys are scoped per user, as in the remediation core.
    const key = request.idempotencyKey === undefined ? undefined : `${request.userName}\n${request.idempotencyKey}`;
    if (key !== undefined) {
      const previous = this.outcomesByKey.get(key);
      if (previous) {
        const same =
          previous.request.proposalId === request.proposalId &&
          previous.request.decision === request.decision &&
          previous.request.reason === request.reason;
        return same ? previous.outcome : this.refuse(request, 'REMEDIATION_IDEMPOTENCY_CONFLICT', 'the key was used for another decision');
      }
    }
    const outcome = this.decideOnce(request);
    if (key !== undefined) this.outcomesByKey.set(key, { request, outcome });
    return outcome;
  }

  private decideOnce(request: DecisionRequest): DecisionOutcome {
    const proposal = this.proposals.get(request.proposalId);
    if (!proposal) return this.refuse(request, 'REMEDIATION_PROPOSAL_NOT_FOUND', `proposal ${request.proposalId} not found`);
    const user = this.users.get(request.userName);
    if (!user) return this.refuse(request, 'REMEDIATION_UNKNOWN_USER', `user "${request.userName}" not found`);
    if (user.role !== 'approver' && user.role !== 'admin') {
      return this.refuse(request, 'REMEDIATION_FORBIDDEN_ROLE', `role ${user.role} may not decide on proposals`);
    }
    if (proposal.status === 'pending' && proposal.expiresAt.getTime() <= Date.now()) {
      proposal.status = 'expired';
      return this.refuse(request, 'REMEDIATION_EXPIRED', `proposal expired at ${proposal.expiresAt.toISOString()}`);
    }
    if (proposal.status !== 'pending') {
      return this.refuse(request, 'REMEDIATION_NOT_PENDING', `proposal is ${proposal.status}`);
    }
    if (request.decision === 'reject') {
      if (!request.reason?.trim()) return this.refuse(request, 'REMEDIATION_REASON_REQUIRED', 'a rejection needs a reason');
      proposal.status = 'rejected';
      proposal.rejection = { userName: user.name, reason: request.reason, at: new Date() };
      const message = `rejected by "${user.name}": ${request.reason}`;
      this.record(request, 'rejected', message);
      return { status: 'rejected', proposalId: proposal.id, message };
    }
    if (proposal.approvals.some((approval) => approval.userName === user.name)) {
      return this.refuse(request, 'REMEDIATION_SAME_APPROVER', `"${user.name}" already approved`);
    }
    proposal.approvals.push({ userName: user.name, at: new Date() });
    const count = proposal.approvals.length;
    if (count < proposal.requiredApprovals) {
      const message = `approval ${count} of ${proposal.requiredApprovals} by "${user.name}"; waiting for a second, distinct approver`;
      this.record(request, 'approved', message);
      return { status: 'awaiting_second_approval', proposalId: proposal.id, message };
    }
    proposal.status = 'executing';
    const message = `approval ${count} of ${proposal.requiredApprovals} by "${user.name}"; execution starts`;
    this.record(request, 'approved', message);
    this.startExecution(proposal);
    return { status: 'executing', proposalId: proposal.id, message };
  }

  private startExecution(proposal: ProposalView): void {
    const run = (async () => {
      await new Promise((resolve) => setTimeout(resolve, this.options.executionDelayMs ?? 0));
      try {
        const result = (await this.options.execute?.(proposal)) ?? `requeued ${proposal.targets.length} jobs`;
        proposal.status = 'executed';
        proposal.result = result;
        for (const target of proposal.targets) target.state = 'done';
      } catch (error) {
        proposal.status = 'failed';
        proposal.result = error instanceof Error ? error.message : String(error);
      }
      this.append({ actor: 'syncwatch', channel: 'system', event: proposal.status, proposalId: proposal.id, detail: proposal.result ?? '' });
    })();
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  private refuse(request: DecisionRequest, code: string, message: string): DecisionOutcome {
    this.append({
      actor: request.userName,
      channel: request.channel,
      event: 'refused',
      proposalId: request.proposalId,
      code,
      detail: `${request.decision} refused: ${message}`,
    });
    return { status: 'refused', code, proposalId: request.proposalId, message };
  }

  private record(request: DecisionRequest, event: string, detail: string): void {
    this.append({ actor: request.userName, channel: request.channel, event, proposalId: request.proposalId, detail });
  }

  private append(entry: Omit<AuditEntry, 'seq' | 'at'>): void {
    this.audit.push({ seq: this.audit.length + 1, at: new Date(), ...entry });
  }
}

function copy(proposal: ProposalView): ProposalView {
  return structuredClone(proposal);
}
