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

/**
 * Codes of errors the remediation layer throws, as opposed to the outcome
 * codes above, which decisions and executions return. The audit log's
 * append-only trigger raises `REMEDIATION_ERR_AUDIT_APPEND_ONLY` in SQL.
 */
export const REMEDIATION_ERRORS = {
  storeSchema: 'REMEDIATION_ERR_STORE_SCHEMA',
  storeDirectory: 'REMEDIATION_ERR_STORE_DIR',
  proposalNotStored: 'REMEDIATION_ERR_STORE',
  unsupportedAction: 'REMEDIATION_ERR_ACTION',
  auditAppendOnly: 'REMEDIATION_ERR_AUDIT_APPEND_ONLY',
} as const;

export type RemediationErrorCode = (typeof REMEDIATION_ERRORS)[keyof typeof REMEDIATION_ERRORS];

/** An error of the remediation layer itself, such as an invalid store setting; `code` is one of `REMEDIATION_ERRORS`. */
export class RemediationError extends Error {
  readonly code: RemediationErrorCode;

  constructor(code: RemediationErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'RemediationError';
    this.code = code;
  }
}
