import { appendAudit, AUDIT_EVENTS } from './audit.js';
import type { DecisionOutcome, DecisionRequest } from './contract.js';
import type { ControlStore, SqlRunner } from './control-store.js';
import { REMEDIATION_CODES } from './errors.js';
import { checkDecision } from './policy.js';
import { loadProposal, loadUser, type StoredProposal } from './proposals.js';

/** Maximum length of a stored rejection reason, in characters. */
const MAX_REASON_LENGTH = 2_000;

/**
 * Records one decision in one transaction that locks the proposal row, so
 * concurrent decisions on a proposal are applied one after another. Every
 * outcome, refusals included, is committed with its audit row. An outcome of
 * `executing` means the proposal is now approved; the caller starts the
 * execution, which claims it in a transaction of its own.
 */
export async function recordDecision(store: ControlStore, request: DecisionRequest, now: Date): Promise<DecisionOutcome> {
  return store.transaction(async (tx) => {
    if (request.refusal !== undefined) return refuse(tx, request, request.refusal.code, request.refusal.message);
    const storedKey = request.idempotencyKey === undefined ? undefined : scopedIdempotencyKey(request.userName, request.idempotencyKey);
    if (storedKey !== undefined) {
      const previous = await readPreviousOutcome(tx, request, storedKey);
      if (previous !== undefined) return previous;
    }
    const outcome = await decideLocked(tx, request, now);
    if (storedKey !== undefined) {
      const stored: StoredOutcome = { ...outcome, decision: request.decision, reason: request.reason ?? null };
      await tx.query(
        `INSERT INTO decision_requests (idempotency_key, proposal_id, user_name, outcome) VALUES ($1, $2, $3, $4)`,
        [storedKey, request.proposalId, request.userName, JSON.stringify(stored)],
      );
    }
    return outcome;
  });
}

/** An outcome as `decision_requests` stores it, with the decision and reason of its request. */
type StoredOutcome = DecisionOutcome & { decision: string; reason?: string | null };

/**
 * Returns the key under which `decision_requests` stores a user's
 * idempotency key. Keys are scoped per user, so two users who pick the same
 * key never see each other's outcome. The JSON array keeps the pair
 * unambiguous whatever characters either part contains.
 */
function scopedIdempotencyKey(userName: string, key: string): string {
  return JSON.stringify([userName, key]);
}

async function readPreviousOutcome(tx: SqlRunner, request: DecisionRequest, storedKey: string): Promise<DecisionOutcome | undefined> {
  // The advisory lock makes a second request with the same key wait for the first one's commit.
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`decision:${storedKey}`]);
  const { rows } = await tx.query<{ proposal_id: string; outcome: StoredOutcome | string }>(
    'SELECT proposal_id, outcome FROM decision_requests WHERE idempotency_key = $1',
    [storedKey],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  const stored = typeof row.outcome === 'string' ? (JSON.parse(row.outcome) as StoredOutcome) : row.outcome;
  const sameRequest =
    row.proposal_id === request.proposalId && stored.decision === request.decision && (stored.reason ?? null) === (request.reason ?? null);
  if (!sameRequest) {
    // The key belongs to this user, so the message may name the user's own earlier request.
    const message =
      `idempotency key "${request.idempotencyKey}" was already used for ${stored.decision} of proposal ${row.proposal_id}` +
      `${stored.decision === request.decision && row.proposal_id === request.proposalId ? ' with another reason' : ''}; ` +
      `send a new key for a different request`;
    return refuse(tx, request, REMEDIATION_CODES.idempotencyConflict, message);
  }
  const { decision: _decision, reason: _reason, ...outcome } = stored;
  return outcome;
}

async function decideLocked(tx: SqlRunner, request: DecisionRequest, now: Date): Promise<DecisionOutcome> {
  const proposal = await loadProposal(tx, request.proposalId, true);
  if (proposal === undefined) {
    return refuse(tx, request, REMEDIATION_CODES.proposalNotFound, `proposal ${request.proposalId} not found`);
  }
  const user = await loadUser(tx, request.userName);
  const approvers = await readApprovers(tx, proposal.id);
  const refusal = checkDecision({
    decision: request.decision,
    user,
    userName: request.userName,
    proposal,
    approvers,
    reason: request.reason,
    now,
  });
  if (refusal !== undefined) {
    if (refusal.code === REMEDIATION_CODES.expired && proposal.status === 'pending') await expire(tx, proposal);
    return refuse(tx, request, refusal.code, refusal.message);
  }
  if (request.decision === 'reject') return reject(tx, request, proposal, now);
  return approve(tx, request, proposal, approvers.length + 1);
}

async function readApprovers(tx: SqlRunner, proposalId: string): Promise<string[]> {
  const { rows } = await tx.query<{ user_name: string }>('SELECT user_name FROM approvals WHERE proposal_id = $1', [proposalId]);
  return rows.map((row) => row.user_name);
}

async function approve(tx: SqlRunner, request: DecisionRequest, proposal: StoredProposal, count: number): Promise<DecisionOutcome> {
  await tx.query('INSERT INTO approvals (proposal_id, user_name, channel) VALUES ($1, $2, $3)', [
    proposal.id,
    request.userName,
    request.channel,
  ]);
  const complete = count >= proposal.requiredApprovals;
  if (complete) await tx.query(`UPDATE proposals SET status = 'approved' WHERE id = $1`, [proposal.id]);
  const message = complete
    ? `approval ${count} of ${proposal.requiredApprovals} by "${request.userName}"; execution starts`
    : `approval ${count} of ${proposal.requiredApprovals} by "${request.userName}"; waiting for a second, distinct approver`;
  await appendAudit(tx, {
    actor: request.userName,
    channel: request.channel,
    event: AUDIT_EVENTS.approved,
    proposalId: proposal.id,
    detail: message,
  });
  return { status: complete ? 'executing' : 'awaiting_second_approval', proposalId: proposal.id, message };
}

async function reject(tx: SqlRunner, request: DecisionRequest, proposal: StoredProposal, now: Date): Promise<DecisionOutcome> {
  const reason = (request.reason ?? '').trim().slice(0, MAX_REASON_LENGTH);
  await tx.query(
    `UPDATE proposals SET status = 'rejected', rejected_by = $2, rejection_reason = $3, rejected_at = $4 WHERE id = $1`,
    [proposal.id, request.userName, reason, now],
  );
  const message = `rejected by "${request.userName}": ${reason}`;
  await appendAudit(tx, {
    actor: request.userName,
    channel: request.channel,
    event: AUDIT_EVENTS.rejected,
    proposalId: proposal.id,
    detail: message,
  });
  return { status: 'rejected', proposalId: proposal.id, message };
}

/** Marks a pending proposal expired; expiry fails closed, so nothing runs after it. */
async function expire(tx: SqlRunner, proposal: StoredProposal): Promise<void> {
  await tx.query(`UPDATE proposals SET status = 'expired' WHERE id = $1 AND status = 'pending'`, [proposal.id]);
  await appendAudit(tx, {
    actor: 'syncwatch',
    channel: 'system',
    event: AUDIT_EVENTS.expired,
    proposalId: proposal.id,
    detail: `expired at ${proposal.expiresAt.toISOString()} without the approvals it needed`,
  });
}

async function refuse(tx: SqlRunner, request: DecisionRequest, code: string, message: string): Promise<DecisionOutcome> {
  await appendAudit(tx, {
    actor: request.userName,
    channel: request.channel,
    event: AUDIT_EVENTS.refused,
    proposalId: request.proposalId,
    code,
    detail: `${request.decision} refused: ${message}`,
  });
  return { status: 'refused', code, proposalId: request.proposalId, message };
}
