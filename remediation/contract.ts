/**
 * How surfaces other than the remediation layer itself (the HTTP API, the
 * console, Slack) submit a decision on a proposal. Every surface goes through
 * `ProposalDecider.decide`, so the approval policy holds the same everywhere.
 */
export const ROLES = ['viewer', 'analyst', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export type Decision = 'approve' | 'reject';

/** Surface a decision arrived through, recorded in the audit log. */
export type DecisionChannel = 'api' | 'console' | 'slack';

export interface DecisionRequest {
  proposalId: string;
  decision: Decision;
  /** syncwatch user name; chat surfaces map their own user ids to it first. */
  userName: string;
  channel: DecisionChannel;
  /** Required for rejections. */
  reason?: string;
  /** Same key, same outcome: a retried request never decides twice. */
  idempotencyKey?: string;
}

/**
 * `refused` carries a stable `code` (such as `REMEDIATION_SELF_APPROVAL`,
 * `REMEDIATION_EXPIRED`, `REMEDIATION_FORBIDDEN_ROLE`) and is audited like any
 * other decision.
 */
export type DecisionStatus = 'awaiting_second_approval' | 'executing' | 'executed' | 'failed' | 'rejected' | 'refused';

export interface DecisionOutcome {
  status: DecisionStatus;
  code?: string;
  message: string;
  proposalId: string;
  /** Execution result in one line, once there is one. */
  result?: string;
}

export interface ProposalDecider {
  decide(request: DecisionRequest): Promise<DecisionOutcome>;
  /** Returns the syncwatch user mapped to a chat identity, or undefined when none is. */
  findUserByChatId(provider: 'slack', chatUserId: string): Promise<string | undefined>;
}
