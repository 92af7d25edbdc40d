/**
 * Stable codes of refused decisions and failed executions. A code is never
 * renamed or reused, because audit rows, chat messages and API clients refer
 * to it.
 */
export const REMEDIATION_CODES = {
  proposalNotFound: 'REMEDIATION_PROPOSAL_NOT_FOUND',
  unknownUser: 'REMEDIATION_UNKNOWN_USER',
  forbiddenRole: 'REMEDIATION_FORBIDDEN_ROLE',
  outOfScope: 'REMEDIATION_OUT_OF_SCOPE',
  selfApproval: 'REMEDIATION_SELF_APPROVAL',
  expired: 'REMEDIATION_EXPIRED',
  notPending: 'REMEDIATION_NOT_PENDING',
  sameApprover: 'REMEDIATION_SAME_APPROVER',
  underApproved: 'REMEDIATION_UNDER_APPROVED',
  reasonRequired: 'REMEDIATION_REASON_REQUIRED',
  idempotencyConflict: 'REMEDIATION_IDEMPOTENCY_CONFLICT',
  executorMissing: 'REMEDIATION_EXECUTOR_MISSING',
  executionFailed: 'REMEDIATION_EXECUTION_FAILED',
  channelHeld: 'REMEDIATION_CHANNEL_HELD',
  invalidProposal: 'REMEDIATION_INVALID_PROPOSAL',
} as const;

export type RemediationCode = (typeof REMEDIATION_CODES)[keyof typeof REMEDIATION_CODES];

/** A refused decision or an execution step that cannot run; `code` is one of `REMEDIATION_CODES`. */
export class RemediationError extends Error {
  readonly code: RemediationCode;

  constructor(code: RemediationCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'RemediationError';
    this.code = code;
  }
}
