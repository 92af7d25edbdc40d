import type { DecisionOutcome, DecisionRequest, ProposalDecider, Role } from '../../remediation/contract.js';

export interface FakeAuditEntry {
  actor: string;
  event: string;
  proposalId: string;
  code?: string;
}

/**
 * A stand-in for the remediation layer's decider with its approval policy:
 * viewers and analysts may not decide, proposals need two approvals by
 * different users, and every decision it receives is audited.
 */
export class FakeProposalDecider implements ProposalDecider {
  readonly requests: DecisionRequest[] = [];
  readonly audit: FakeAuditEntry[] = [];
  readonly #users: Map<string, { name: string; role: Role }>;
  readonly #approvals = new Map<string, string[]>();
  readonly #closed = new Map<string, DecisionOutcome>();
  readonly #byKey = new Map<string, DecisionOutcome>();
  /** Resolves before a decision is taken; tests replace it to hold the decider back. */
  gate: Promise<void> = Promise.resolve();

  constructor(users: Record<string, { name: string; role: Role }>) {
    this.#users = new Map(Object.entries(users));
  }

  async findUserByChatId(provider: 'slack', chatUserId: string): Promise<string | undefined> {
    return provider === 'slack' ? this.#users.get(chatUserId)?.name : undefined;
  }

  async decide(request: DecisionRequest): Promise<DecisionOutcome> {
    await this.gate;
    this.requests.push(request);
    if (request.idempotencyKey && this.#byKey.has(request.idempotencyKey)) return this.#byKey.get(request.idempotencyKey)!;
    const outcome = this.#evaluate(request);
    this.audit.push({ actor: request.userName, event: `${request.decision}:${outcome.status}`, proposalId: request.proposalId, ...(outcome.code ? { code: outcome.code } : {}) });
    if (request.idempotencyKey) this.#byKey.set(request.idempotencyKey, outcome);
    return outcome;
  }

  #evaluate(request: DecisionRequest): DecisionOutcome {
    const { proposalId } = request;
    const user = [...this.#users.values()].find((candidate) => candidate.name === request.userName);
    if (!user || (user.role !== 'approver' && user.role !== 'admin')) {
      return { status: 'refused', code: 'REMEDIATION_FORBIDDEN_ROLE', message: `${request.userName} may not decide on proposals`, proposalId };
    }
    const closed = this.#closed.get(proposalId);
    if (closed) return { status: 'refused', code: 'REMEDIATION_ALREADY_DECIDED', message: `proposal is ${closed.status}`, proposalId };
    if (request.decision === 'reject') {
      const outcome: DecisionOutcome = { status: 'rejected', message: 'rejected', proposalId };
      this.#closed.set(proposalId, outcome);
      return outcome;
    }
    const approvals = this.#approvals.get(proposalId) ?? [];
    if (approvals.includes(request.userName)) {
      return { status: 'refused', code: 'REMEDIATION_SELF_APPROVAL', message: 'a second approval must come from another user', proposalId };
    }
    approvals.push(request.userName);
    this.#approvals.set(proposalId, approvals);
    if (approvals.length < 2) return { status: 'awaiting_second_approval', message: 'one more approval needed', proposalId };
    const outcome: DecisionOutcome = { status: 'executed', message: 'executed', proposalId, result: 'requeued 12 jobs' };
    this.#closed.set(proposalId, outcome);
    return outcome;
  }
}
