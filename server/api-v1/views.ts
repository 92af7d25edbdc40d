import type {
  AuditEntry,
  DecisionOutcome,
  ProposalDecider,
  ProposalStatus,
  ProposalView,
  RemediationReader,
} from '../../remediation/contract.js';
import { REMEDIATION_CODES } from '../../remediation/errors.js';
import { ApiError, type ApiErrorCode } from '../errors.js';

/** The remediation layer's read side and decision entry point, which the API calls. */
export type RemediationAccess = ProposalDecider & RemediationReader;

export const PROPOSAL_STATUSES: readonly ProposalStatus[] = [
  'pending',
  'approved',
  'executing',
  'executed',
  'failed',
  'rejected',
  'expired',
];

/** Converts a proposal to the API's JSON form, with times as ISO 8601 strings. */
export function toProposalJson(view: ProposalView): Record<string, unknown> {
  return {
    ...view,
    approvals: view.approvals.map((approval) => ({ userName: approval.userName, at: approval.at.toISOString() })),
    rejection: view.rejection ? { ...view.rejection, at: view.rejection.at.toISOString() } : undefined,
    createdAt: view.createdAt.toISOString(),
    expiresAt: view.expiresAt.toISOString(),
  };
}

export function toAuditJson(entry: AuditEntry): Record<string, unknown> {
  return { ...entry, at: entry.at.toISOString() };
}

/**
 * Refusal codes of the remediation layer and the API error each becomes.
 * Codes not listed are matched by {@link classifyByPattern}.
 */
const REFUSAL_ERRORS: Partial<Record<string, ApiErrorCode>> = {
  [REMEDIATION_CODES.proposalNotFound]: 'API_ERR_PROPOSAL_NOT_FOUND',
  [REMEDIATION_CODES.unknownUser]: 'API_ERR_UNKNOWN_USER',
  [REMEDIATION_CODES.forbiddenRole]: 'API_ERR_DECISION_REFUSED',
  [REMEDIATION_CODES.outOfScope]: 'API_ERR_DECISION_REFUSED',
  [REMEDIATION_CODES.selfApproval]: 'API_ERR_DECISION_REFUSED',
  [REMEDIATION_CODES.expired]: 'API_ERR_PROPOSAL_EXPIRED',
  [REMEDIATION_CODES.notPending]: 'API_ERR_PROPOSAL_CONFLICT',
  [REMEDIATION_CODES.sameApprover]: 'API_ERR_PROPOSAL_CONFLICT',
  [REMEDIATION_CODES.idempotencyConflict]: 'API_ERR_IDEMPOTENCY_CONFLICT',
  [REMEDIATION_CODES.reasonRequired]: 'API_ERR_VALIDATION',
};

/**
 * Returns the API error for a refused decision. An expired proposal gets 410,
 * an unknown one 404, a user the policy does not let decide 403, and a
 * missing reason 422. Every other refusal, such as a proposal that is no
 * longer pending, gets 409. The error carries the remediation layer's own
 * code and the whole outcome.
 */
export function classifyRefusal(outcome: DecisionOutcome): ApiError {
  const remediationCode = outcome.code ?? 'REMEDIATION_REFUSED';
  const code = REFUSAL_ERRORS[remediationCode] ?? classifyByPattern(remediationCode);
  // An unknown proposal reads the same as on GET /proposals/{id}.
  const message = code === 'API_ERR_PROPOSAL_NOT_FOUND' ? proposalNotFoundDetail(outcome.proposalId) : outcome.message;
  return new ApiError(code, message, { remediationCode, outcome });
}

/** Detail of API_ERR_PROPOSAL_NOT_FOUND, shared by the read and decision routes. */
export function proposalNotFoundDetail(id: string): string {
  return `no proposal has id ${JSON.stringify(id)}`;
}

function classifyByPattern(remediationCode: string): ApiErrorCode {
  if (/EXPIRED/.test(remediationCode)) return 'API_ERR_PROPOSAL_EXPIRED';
  if (/NOT_FOUND|UNKNOWN_PROPOSAL/.test(remediationCode)) return 'API_ERR_PROPOSAL_NOT_FOUND';
  if (/FORBIDDEN|ROLE|SELF_APPROVAL|OUT_OF_SCOPE/.test(remediationCode)) return 'API_ERR_DECISION_REFUSED';
  if (/REASON|INVALID/.test(remediationCode)) return 'API_ERR_VALIDATION';
  return 'API_ERR_PROPOSAL_CONFLICT';
}
