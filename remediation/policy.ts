import type { BlastRadius, Decision, Role } from './contract.js';
import { REMEDIATION_CODES, type RemediationCode } from './errors.js';
import type { StoredProposal, StoredUser } from './proposals.js';

/** Roles that may approve or reject a proposal. */
export const DECIDING_ROLES: ReadonlySet<Role> = new Set<Role>(['approver', 'admin']);

export interface ApprovalLimits {
  events: number;
  orders: number;
}

/** Returns 2 when the blast radius passes either limit, else 1. */
export function requiredApprovalsFor(blast: BlastRadius, limits: ApprovalLimits): 1 | 2 {
  return blast.events > limits.events || blast.orders > limits.orders ? 2 : 1;
}

/** Why a decision is refused: a stable code and a message that names the offending value. */
export interface Refusal {
  code: RemediationCode;
  message: string;
}

export interface DecisionCheck {
  decision: Decision;
  user: StoredUser | undefined;
  userName: string;
  proposal: StoredProposal;
  /** Users who approved so far. */
  approvers: readonly string[];
  reason?: string | undefined;
  now: Date;
}

/**
 * Checks a decision against the approval policy, in the order a person would
 * want to hear about the problems: who they are, what they may do, then the
 * state of the proposal. Returns undefined when the decision may be recorded.
 * Expiry is checked before the pending state, so an expired proposal that
 * is not marked yet is still refused as expired.
 */
export function checkDecision(check: DecisionCheck): Refusal | undefined {
  const { user, proposal, userName } = check;
  if (user === undefined) {
    return refusal('unknownUser', `user "${userName}" is not configured under remediation.users`);
  }
  if (!DECIDING_ROLES.has(user.role)) {
    return refusal('forbiddenRole', `user "${user.name}" has role "${user.role}"; deciding a proposal needs role approver or admin`);
  }
  const scope = checkScope(user, proposal);
  if (scope !== undefined) return scope;
  if (proposal.status === 'expired' || (proposal.status === 'pending' && proposal.expiresAt.getTime() <= check.now.getTime())) {
    return refusal('expired', `proposal ${proposal.id} expired at ${proposal.expiresAt.toISOString()}; create a new proposal`);
  }
  if (proposal.status !== 'pending') {
    return refusal('notPending', `proposal ${proposal.id} is ${proposal.status}; only a pending proposal can be decided`);
  }
  if (check.decision === 'reject') {
    if (!check.reason?.trim()) return refusal('reasonRequired', `rejecting proposal ${proposal.id} needs a reason; got none`);
    return undefined;
  }
  if (user.name === proposal.requestedBy) {
    return refusal('selfApproval', `user "${user.name}" requested proposal ${proposal.id} and may not approve it`);
  }
  if (check.approvers.includes(user.name)) {
    return refusal(
      'sameApprover',
      `user "${user.name}" already approved proposal ${proposal.id}; it needs ${proposal.requiredApprovals} distinct approvers`,
    );
  }
  return undefined;
}

/** Checks the user's integrations and plants; a user with neither listed may decide for all. */
function checkScope(user: StoredUser, proposal: StoredProposal): Refusal | undefined {
  if (user.integrations.length === 0 && user.plants.length === 0) return undefined;
  if (user.integrations.includes(proposal.integration)) return undefined;
  let plants = proposal.blastRadius.plants;
  if (plants.length === 0 && proposal.plant) plants = [proposal.plant];
  // Every affected plant must be one the user may decide for, so a wide action needs a wide approver.
  if (plants.length > 0 && plants.every((plant) => user.plants.includes(plant))) return undefined;
  return refusal(
    'outOfScope',
    `user "${user.name}" may decide for integrations [${user.integrations.join(', ')}] and plants [${user.plants.join(', ')}]; ` +
      `proposal ${proposal.id} is for integration "${proposal.integration}" and plants [${plants.join(', ')}]`,
  );
}

function refusal(key: keyof typeof REMEDIATION_CODES, message: string): Refusal {
  return { code: REMEDIATION_CODES[key], message };
}
