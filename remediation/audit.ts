import type { AuditEntry, AuditFilter, DecisionChannel } from './contract.js';
import type { SqlRunner } from './control-store.js';

/** Advisory lock key taken before each append ("swaudit" in ASCII), so sequence numbers commit in order. */
const AUDIT_LOCK_KEY = 0x7377617564697400n;
const DEFAULT_AUDIT_LIMIT = 200;
const MAX_AUDIT_LIMIT = 10_000;

/** Audit event names; `refused` events carry the refusal code. */
export const AUDIT_EVENTS = {
  proposed: 'proposal.created',
  expired: 'proposal.expired',
  approved: 'decision.approved',
  rejected: 'decision.rejected',
  refused: 'decision.refused',
  executionStarted: 'execution.started',
  executionResumed: 'execution.resumed',
  executionRefused: 'execution.refused',
  targetFinished: 'execution.target',
  executionFinished: 'execution.finished',
  holdReleased: 'hold.released',
  holdReleaseRefused: 'hold.release_refused',
} as const;

export interface AuditRecord {
  actor: string;
  channel: DecisionChannel | 'system';
  event: string;
  proposalId?: string | undefined;
  code?: string | undefined;
  detail: string;
}

interface AuditRow {
  seq: string | number;
  at: Date;
  actor: string;
  channel: string;
  event: string;
  proposal_id: string | null;
  code: string | null;
  detail: string;
}

/**
 * Appends one audit row inside `tx` and returns its sequence number. The
 * advisory lock is held until `tx` ends, so rows become visible in sequence
 * order. Call this inside a transaction, never on a bare pool.
 */
export async function appendAudit(tx: SqlRunner, record: AuditRecord): Promise<number> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK_KEY.toString()]);
  const { rows } = await tx.query<{ seq: string | number }>(
    `INSERT INTO audit_log (actor, channel, event, proposal_id, code, detail)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq`,
    [record.actor, record.channel, record.event, record.proposalId ?? null, record.code ?? null, record.detail],
  );
  return Number(rows[0]?.seq);
}

/**
 * Reads audit entries in sequence order, oldest first unless
 * `newestFirst`, optionally of one proposal and only between `afterSeq`
 * and `before`.
 */
export async function listAudit(db: SqlRunner, filter: AuditFilter & { afterSeq?: number | undefined } = {}): Promise<AuditEntry[]> {
  const limit = Math.min(Math.max(1, Math.floor(filter.limit ?? DEFAULT_AUDIT_LIMIT)), MAX_AUDIT_LIMIT);
  const order = filter.newestFirst === true ? 'DESC' : 'ASC';
  const { rows } = await db.query<AuditRow>(
    `SELECT seq, at, actor, channel, event, proposal_id, code, detail FROM audit_log
      WHERE ($1::text IS NULL OR proposal_id = $1) AND seq > $2 AND ($3::bigint IS NULL OR seq < $3)
      ORDER BY seq ${order} LIMIT $4`,
    [filter.proposalId ?? null, filter.afterSeq ?? 0, filter.before ?? null, limit],
  );
  return rows.map(toAuditEntry);
}

function toAuditEntry(row: AuditRow): AuditEntry {
  const entry: AuditEntry = {
    seq: Number(row.seq),
    at: new Date(row.at),
    actor: row.actor,
    channel: row.channel as AuditEntry['channel'],
    event: row.event,
    detail: row.detail,
  };
  if (row.proposal_id !== null) entry.proposalId = row.proposal_id;
  if (row.code !== null) entry.code = row.code;
  return entry;
}
