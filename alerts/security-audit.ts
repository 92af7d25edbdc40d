/**
 * Requests that alert surfaces reject before they reach the remediation
 * layer: a bad signature, a stale or replayed timestamp, a chat user with no
 * syncwatch account. The remediation layer audits every decision it receives,
 * so these are the attempts its audit log would otherwise never see.
 */
export type SecurityAuditCode =
  | 'ALERTS_SLACK_SIGNATURE_MISSING'
  | 'ALERTS_SLACK_SIGNATURE_INVALID'
  | 'ALERTS_SLACK_TIMESTAMP_STALE'
  | 'ALERTS_SLACK_REPLAYED'
  | 'ALERTS_SLACK_USER_UNKNOWN'
  | 'ALERTS_SLACK_PAYLOAD_INVALID';

export interface SecurityAuditEvent {
  at: Date;
  channel: 'slack';
  code: SecurityAuditCode;
  /** Slack user id when the payload could be read, else `unknown`. */
  actor: string;
  proposalId?: string;
  /** Address the request came from, as the HTTP server saw it. */
  remoteAddress?: string;
  /** What was expected and what arrived, without secrets or signatures. */
  detail: string;
}

export interface SecurityAuditLog {
  record(event: SecurityAuditEvent): Promise<void>;
}
