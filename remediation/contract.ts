/**
 * How surfaces other than the remediation layer itself (the HTTP API, the
 * console, Slack) submit a decision on a proposal. Every surface goes through
 * `ProposalDecider.decide`, so the approval policy is the same everywhere.
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
  /**
   * Same key, same outcome: a retried request never decides twice. Keys are
   * scoped per user, and a user's key sent again with another proposal,
   * decision or reason is refused with `REMEDIATION_IDEMPOTENCY_CONFLICT`.
   */
  idempotencyKey?: string;
  /**
   * Set by a surface that already refused the request, such as an API token
   * without the approve scope or a field that fails the schema. The
   * remediation layer then decides nothing and only audits the refusal with
   * this code and message.
   */
  refusal?: { code: string; message: string };
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

export type ProposalStatus = 'pending' | 'approved' | 'executing' | 'executed' | 'failed' | 'rejected' | 'expired';

/** One system object an action touches, such as a queue_job uuid or a dead-letter queue. */
export interface ProposalTarget {
  kind: string;
  ref: string;
  detail?: string;
  state: 'pending' | 'done' | 'failed' | 'skipped';
}

export interface BlastRadius {
  events: number;
  orders: number;
  plants: string[];
}

/** A proposal as surfaces show it. */
export interface ProposalView {
  id: string;
  incidentId: string;
  action: string;
  integration: string;
  workflow?: string;
  plant?: string;
  rationale: string;
  targets: ProposalTarget[];
  blastRadius: BlastRadius;
  /** Description of what a retry could send twice. */
  duplicateRisk: string;
  status: ProposalStatus;
  requiredApprovals: number;
  approvals: Array<{ userName: string; at: Date }>;
  rejection?: { userName: string; reason: string; at: Date };
  createdAt: Date;
  expiresAt: Date;
  result?: string;
}

export interface AuditEntry {
  seq: number;
  at: Date;
  actor: string;
  channel: DecisionChannel | 'system';
  event: string;
  proposalId?: string;
  code?: string;
  detail: string;
}

export interface UserView {
  name: string;
  role: Role;
  slackUserId?: string;
}

/** Filter and order of an audit read; entries come oldest first unless `newestFirst` is set. */
export interface AuditFilter {
  proposalId?: string;
  /** Maximum entries returned: 200 by default, 10,000 at most. */
  limit?: number;
  /** Only entries whose sequence number is below this one, to page back from the newest. */
  before?: number;
  newestFirst?: boolean;
}

/** Read side of the remediation layer, for the API and the console. */
export interface RemediationReader {
  listProposals(filter?: { status?: ProposalStatus }): Promise<ProposalView[]>;
  getProposal(id: string): Promise<ProposalView | undefined>;
  listAudit(filter?: AuditFilter): Promise<AuditEntry[]>;
  findUser(name: string): Promise<UserView | undefined>;
}
