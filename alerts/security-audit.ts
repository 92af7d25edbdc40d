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
  | 'ALERTS_SLACK_PAYLOAD_INVALID'
  | 'ALERTS_SLACK_RATE_LIMITED';

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

/** Time during which repeats of one rejection are counted instead of written. */
export const DEFAULT_AUDIT_GROUP_WINDOW_MS = 60_000;
/** Groups tracked at once; past this, new groups of one code share a single group. */
const MAX_AUDIT_GROUPS = 10_000;

export interface GroupedSecurityAuditOptions {
  windowMs?: number;
  now?: () => Date;
  /** Receives failures of summaries written by the timer, which has no caller to raise them to. */
  onError?: (error: unknown) => void;
}

/** A security audit log that groups repeats; `close()` writes the counts still pending. */
export interface GroupedSecurityAuditLog extends SecurityAuditLog {
  close(): Promise<void>;
}

interface AuditGroup {
  startedAt: Date;
  endsAtMs: number;
  suppressed: number;
  last?: SecurityAuditEvent;
}

/**
 * Wraps a security audit log so that anyone sending bad requests cannot flood
 * it. Per remote address, code and actor, the first rejection of a window is
 * written and later ones in the window are only counted. When the window has
 * passed, the count goes into a summary entry, written on the next rejection
 * of that group, by a timer, or on `close()`.
 */
export function createGroupedSecurityAudit(inner: SecurityAuditLog, options: GroupedSecurityAuditOptions = {}): GroupedSecurityAuditLog {
  const windowMs = options.windowMs ?? DEFAULT_AUDIT_GROUP_WINDOW_MS;
  const now = options.now ?? (() => new Date());
  const groups = new Map<string, AuditGroup>();

  const writeSummary = async (group: AuditGroup, endedAt: Date) => {
    if (group.suppressed === 0 || !group.last) return;
    const last = group.last;
    const from = last.remoteAddress ?? 'unknown addresses';
    await inner.record({
      ...last,
      at: endedAt,
      detail: `${group.suppressed} more rejections with ${last.code} from ${from} between ${group.startedAt.toISOString()} and ${endedAt.toISOString()} were counted, not written one by one; the last: ${last.detail}`,
    });
  };

  const sweep = async (all: boolean) => {
    const nowMs = now().getTime();
    for (const [key, group] of groups) {
      if (!all && nowMs < group.endsAtMs) continue;
      groups.delete(key);
      await writeSummary(group, new Date(Math.min(nowMs, group.endsAtMs)));
    }
  };

  const timer = windowMs > 0 ? setInterval(() => void sweep(false).catch((error: unknown) => options.onError?.(error)), windowMs) : undefined;
  timer?.unref();

  return {
    async record(event) {
      const at = now();
      let key = `${event.remoteAddress ?? '-'}|${event.code}|${event.actor}`;
      if (!groups.has(key) && groups.size >= MAX_AUDIT_GROUPS) key = `*|${event.code}`;
      const group = groups.get(key);
      if (group && at.getTime() < group.endsAtMs) {
        group.suppressed += 1;
        group.last = key.startsWith('*|') ? { ...event, remoteAddress: 'many addresses' } : event;
        return;
      }
      if (group) {
        groups.delete(key);
        await writeSummary(group, new Date(group.endsAtMs));
      }
      if (windowMs > 0) groups.set(key, { startedAt: at, endsAtMs: at.getTime() + windowMs, suppressed: 0 });
      await inner.record(event);
    },
    async close() {
      if (timer) clearInterval(timer);
      await sweep(true);
    },
  };
}
