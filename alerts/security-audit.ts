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
  /** Expected and received values, without secrets or signatures. */
  detail: string;
}

export interface SecurityAuditLog {
  record(event: SecurityAuditEvent): Promise<void>;
}

/** One row in the shape of the remediation layer's audit log (`AuditRecord` there). */
export interface AuditLogRecord {
  actor: string;
  channel: 'slack';
  event: string;
  proposalId?: string;
  code: string;
  detail: string;
}

/** Audit event name of a Slack request rejected before a decision. */
export const SLACK_REQUEST_REJECTED_EVENT = 'slack.request_rejected';

/**
 * Creates a security audit log that appends to the remediation audit log,
 * beside the decisions. The actor is `slack:<user id>` because the request
 * never reached a syncwatch user. The remote address goes into `detail`.
 */
export function createAuditLogAdapter(append: (record: AuditLogRecord) => Promise<unknown>): SecurityAuditLog {
  return {
    async record(event) {
      const from = event.remoteAddress ? ` (from ${event.remoteAddress})` : '';
      await append({
        actor: `slack:${event.actor}`,
        channel: 'slack',
        event: SLACK_REQUEST_REJECTED_EVENT,
        code: event.code,
        detail: `${event.detail}${from}`,
        ...(event.proposalId ? { proposalId: event.proposalId } : {}),
      });
    },
  };
}
