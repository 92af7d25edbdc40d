import type { ControlStore } from './control-store.js';

/** One versioned step of the control-plane schema. Append new versions; never edit one that has shipped. */
export interface ControlMigration {
  version: number;
  name: string;
  sql: string;
}

/** Advisory lock key that serialises migrations of one database ("swmigrat" in ASCII). */
const MIGRATION_LOCK_KEY = 0x73776d6967726174n;

const CORE_TABLES = `
CREATE TABLE users (
    name text PRIMARY KEY,
    role text NOT NULL CHECK (role IN ('viewer', 'analyst', 'approver', 'admin')),
    slack_user_id text UNIQUE,
    integrations text[] NOT NULL DEFAULT '{}',
    plants text[] NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE proposals (
    id text PRIMARY KEY,
    incident_id text NOT NULL,
    action text NOT NULL,
    integration text NOT NULL,
    workflow text,
    plant text,
    rationale text NOT NULL,
    params jsonb NOT NULL DEFAULT '{}',
    blast_events integer NOT NULL,
    blast_orders integer NOT NULL,
    blast_plants text[] NOT NULL DEFAULT '{}',
    duplicate_risk text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'approved', 'executing', 'executed', 'failed', 'rejected', 'expired')),
    required_approvals integer NOT NULL CHECK (required_approvals BETWEEN 1 AND 2),
    requested_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    result text,
    rejected_by text,
    rejection_reason text,
    rejected_at timestamptz
);
CREATE INDEX proposals_status_index ON proposals (status, created_at);
CREATE INDEX proposals_incident_index ON proposals (incident_id);

CREATE TABLE approvals (
    proposal_id text NOT NULL REFERENCES proposals (id),
    user_name text NOT NULL,
    channel text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (proposal_id, user_name)
);

-- Outcome of each decision request that carried an idempotency key, returned again on a retry.
CREATE TABLE decision_requests (
    idempotency_key text PRIMARY KEY,
    proposal_id text NOT NULL,
    user_name text NOT NULL,
    outcome jsonb NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE executions (
    id text PRIMARY KEY,
    proposal_id text NOT NULL UNIQUE REFERENCES proposals (id),
    idempotency_key text NOT NULL UNIQUE,
    status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at timestamptz NOT NULL DEFAULT now(),
    resumed_at timestamptz,
    resumes integer NOT NULL DEFAULT 0,
    finished_at timestamptz,
    result text
);

CREATE TABLE proposal_targets (
    proposal_id text NOT NULL REFERENCES proposals (id),
    position integer NOT NULL,
    kind text NOT NULL,
    ref text NOT NULL,
    detail text,
    state text NOT NULL CHECK (state IN ('pending', 'done', 'failed', 'skipped')),
    result text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (proposal_id, position)
);

-- Per-message progress of a dead-letter replay or a republish.
CREATE TABLE message_progress (
    proposal_id text NOT NULL,
    position integer NOT NULL,
    message_key text NOT NULL,
    state text NOT NULL CHECK (state IN ('publishing', 'done')),
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (proposal_id, position, message_key)
);

CREATE TABLE channel_holds (
    integration text NOT NULL,
    channel text NOT NULL,
    proposal_id text NOT NULL,
    held_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration, channel)
);

CREATE TABLE workflow_routes (
    workflow text PRIMARY KEY,
    route text NOT NULL,
    kind text NOT NULL,
    target text NOT NULL,
    proposal_id text NOT NULL,
    switched_at timestamptz NOT NULL DEFAULT now()
);
`;

/**
 * The audit log. A trigger raises on every UPDATE, DELETE and TRUNCATE, so
 * rows can only be appended. Writers take an advisory lock before appending,
 * so sequence numbers commit in order and a mirror that copies by sequence
 * misses none.
 */
const AUDIT_LOG = `
CREATE TABLE audit_log (
    seq bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    channel text NOT NULL,
    event text NOT NULL,
    proposal_id text,
    code text,
    detail text NOT NULL
);
CREATE INDEX audit_log_proposal_index ON audit_log (proposal_id, seq);

CREATE FUNCTION audit_log_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'REMEDIATION_ERR_AUDIT_APPEND_ONLY: the audit log is append-only, % is not allowed', TG_OP;
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_reject_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_reject_change();
`;

export const CONTROL_MIGRATIONS: readonly ControlMigration[] = [
  { version: 1, name: 'users, proposals, approvals and executions', sql: CORE_TABLES },
  { version: 2, name: 'append-only audit log', sql: AUDIT_LOG },
];

/** Applies the migrations a database lacks, each in its own transaction; returns the versions applied. */
export async function migrateControlStore(store: ControlStore): Promise<number[]> {
  await store.query(`CREATE TABLE IF NOT EXISTS control_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const applied: number[] = [];
  for (const migration of [...CONTROL_MIGRATIONS].sort((a, b) => a.version - b.version)) {
    const ran = await store.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
      const done = await tx.query('SELECT 1 FROM control_migrations WHERE version = $1', [migration.version]);
      if (done.rows.length > 0) return false;
      await runStatements(tx, migration.sql);
      await tx.query('INSERT INTO control_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      return true;
    });
    if (ran) applied.push(migration.version);
  }
  return applied;
}

/** Runs a script statement by statement, because the extended protocol takes one statement per query. */
async function runStatements(tx: { query(sql: string): Promise<unknown> }, script: string): Promise<void> {
  for (const statement of splitStatements(script)) await tx.query(statement);
}

/** Splits on semicolons at line ends outside `$$` bodies. */
export function splitStatements(script: string): string[] {
  const statements: string[] = [];
  let current = '';
  let inBody = false;
  for (const line of script.split('\n')) {
    if (line.trim().startsWith('--') && !inBody) continue;
    current += `${line}\n`;
    if ((line.match(/\$\$/g) ?? []).length % 2 === 1) inBody = !inBody;
    if (!inBody && line.trimEnd().endsWith(';')) {
      statements.push(current.trim());
      current = '';
    }
  }
  if (current.trim()) statements.push(current.trim());
  return statements;
}
