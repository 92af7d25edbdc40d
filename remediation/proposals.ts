import type { RemediationKind } from './catalogue.js';
import type { RemediationUserConfig } from './config.js';
import type { BlastRadius, ProposalStatus, ProposalTarget, ProposalView, Role, UserView } from './contract.js';
import type { SqlRunner } from './control-store.js';

/** A proposal before it is stored: everything the builder decides. */
export interface ProposalDraft {
  id: string;
  incidentId: string;
  action: RemediationKind;
  integration: string;
  workflow?: string | undefined;
  plant?: string | undefined;
  rationale: string;
  /** Action parameters the executor reads, such as the dead-letter queue or the route. */
  params: Record<string, unknown>;
  targets: Array<Omit<ProposalTarget, 'state'>>;
  blastRadius: BlastRadius;
  duplicateRisk: string;
  requiredApprovals: 1 | 2;
  requestedBy: string;
  expiresAt: Date;
}

/** A proposal row as the decision and execution code reads it. */
export interface StoredProposal {
  id: string;
  incidentId: string;
  action: RemediationKind;
  integration: string;
  workflow: string | null;
  plant: string | null;
  params: Record<string, unknown>;
  status: ProposalStatus;
  requiredApprovals: number;
  requestedBy: string;
  expiresAt: Date;
  blastRadius: BlastRadius;
}

/** A target row with its position, as executors receive it. */
export interface StoredTarget extends ProposalTarget {
  position: number;
  result?: string | undefined;
}

export interface StoredUser extends UserView {
  integrations: string[];
  plants: string[];
}

/** Inserts a proposal and its targets inside `tx`. */
export async function insertProposal(tx: SqlRunner, draft: ProposalDraft): Promise<void> {
  await tx.query(
    `INSERT INTO proposals (id, incident_id, action, integration, workflow, plant, rationale, params,
                            blast_events, blast_orders, blast_plants, duplicate_risk, status,
                            required_approvals, requested_by, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending', $13, $14, $15)`,
    [
      draft.id,
      draft.incidentId,
      draft.action,
      draft.integration,
      draft.workflow ?? null,
      draft.plant ?? null,
      draft.rationale,
      JSON.stringify(draft.params),
      draft.blastRadius.events,
      draft.blastRadius.orders,
      draft.blastRadius.plants,
      draft.duplicateRisk,
      draft.requiredApprovals,
      draft.requestedBy,
      draft.expiresAt,
    ],
  );
  for (const [position, target] of draft.targets.entries()) {
    await tx.query(
      `INSERT INTO proposal_targets (proposal_id, position, kind, ref, detail, state) VALUES ($1, $2, $3, $4, $5, 'pending')`,
      [draft.id, position, target.kind, target.ref, target.detail ?? null],
    );
  }
}

interface ProposalRow {
  id: string;
  incident_id: string;
  action: string;
  integration: string;
  workflow: string | null;
  plant: string | null;
  rationale: string;
  params: Record<string, unknown> | string;
  blast_events: number;
  blast_orders: number;
  blast_plants: string[];
  duplicate_risk: string;
  status: ProposalStatus;
  required_approvals: number;
  requested_by: string;
  created_at: Date;
  expires_at: Date;
  result: string | null;
  rejected_by: string | null;
  rejection_reason: string | null;
  rejected_at: Date | null;
}

/** Reads one proposal, locking its row until `tx` ends when `forUpdate` is set. */
export async function loadProposal(db: SqlRunner, id: string, forUpdate = false): Promise<StoredProposal | undefined> {
  const { rows } = await db.query<ProposalRow>(`SELECT * FROM proposals WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  const row = rows[0];
  return row === undefined ? undefined : toStoredProposal(row);
}

function toStoredProposal(row: ProposalRow): StoredProposal {
  return {
    id: row.id,
    incidentId: row.incident_id,
    action: row.action as RemediationKind,
    integration: row.integration,
    workflow: row.workflow,
    plant: row.plant,
    params: typeof row.params === 'string' ? (JSON.parse(row.params) as Record<string, unknown>) : row.params,
    status: row.status,
    requiredApprovals: row.required_approvals,
    requestedBy: row.requested_by,
    expiresAt: new Date(row.expires_at),
    blastRadius: { events: row.blast_events, orders: row.blast_orders, plants: row.blast_plants },
  };
}

interface TargetRow {
  proposal_id: string;
  position: number;
  kind: string;
  ref: string;
  detail: string | null;
  state: ProposalTarget['state'];
  result: string | null;
}

/** Reads the targets of a proposal in position order. */
export async function loadTargets(db: SqlRunner, proposalId: string): Promise<StoredTarget[]> {
  return (await loadTargetsOf(db, [proposalId])).get(proposalId) ?? [];
}

async function loadTargetsOf(db: SqlRunner, proposalIds: string[]): Promise<Map<string, StoredTarget[]>> {
  const { rows } = await db.query<TargetRow>(
    `SELECT proposal_id, position, kind, ref, detail, state, result FROM proposal_targets
      WHERE proposal_id = ANY($1::text[]) ORDER BY proposal_id, position`,
    [proposalIds],
  );
  const byProposal = new Map<string, StoredTarget[]>();
  for (const row of rows) {
    const target: StoredTarget = { position: row.position, kind: row.kind, ref: row.ref, state: row.state };
    if (row.detail !== null) target.detail = row.detail;
    if (row.result !== null) target.result = row.result;
    const list = byProposal.get(row.proposal_id) ?? [];
    list.push(target);
    byProposal.set(row.proposal_id, list);
  }
  return byProposal;
}

/** Proposals one listing returns at most, newest first. */
export const MAX_LISTED_PROPOSALS = 500;

/** Reads proposals as surfaces show them, newest first, at most `MAX_LISTED_PROPOSALS`. */
export async function listProposalViews(db: SqlRunner, filter: { status?: ProposalStatus; id?: string } = {}): Promise<ProposalView[]> {
  const { rows } = await db.query<ProposalRow>(
    `SELECT * FROM proposals WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR id = $2)
      ORDER BY created_at DESC, id LIMIT $3`,
    [filter.status ?? null, filter.id ?? null, MAX_LISTED_PROPOSALS],
  );
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.id);
  const approvals = await db.query<{ proposal_id: string; user_name: string; at: Date }>(
    'SELECT proposal_id, user_name, at FROM approvals WHERE proposal_id = ANY($1::text[]) ORDER BY at, user_name',
    [ids],
  );
  const targets = await loadTargetsOf(db, ids);
  return rows.map((row) =>
    toView(
      row,
      targets.get(row.id) ?? [],
      approvals.rows.filter((approval) => approval.proposal_id === row.id),
    ),
  );
}

function toView(row: ProposalRow, targets: StoredTarget[], approvals: Array<{ user_name: string; at: Date }>): ProposalView {
  const view: ProposalView = {
    id: row.id,
    incidentId: row.incident_id,
    action: row.action,
    integration: row.integration,
    rationale: row.rationale,
    targets: targets.map(({ position: _position, result: _result, ...target }) => target),
    blastRadius: { events: row.blast_events, orders: row.blast_orders, plants: row.blast_plants },
    duplicateRisk: row.duplicate_risk,
    status: row.status,
    requiredApprovals: row.required_approvals,
    approvals: approvals.map((approval) => ({ userName: approval.user_name, at: new Date(approval.at) })),
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
  };
  if (row.workflow !== null) view.workflow = row.workflow;
  if (row.plant !== null) view.plant = row.plant;
  if (row.result !== null) view.result = row.result;
  if (row.rejected_by !== null && row.rejected_at !== null) {
    view.rejection = { userName: row.rejected_by, reason: row.rejection_reason ?? '', at: new Date(row.rejected_at) };
  }
  return view;
}

/**
 * Makes the users table match the configuration: inserts and updates the
 * listed users and deletes the others, so a user removed from the file loses
 * every right at the next start. Audit rows keep the names.
 */
export async function syncUsers(tx: SqlRunner, users: readonly RemediationUserConfig[]): Promise<void> {
  await tx.query('DELETE FROM users WHERE NOT (name = ANY($1::text[]))', [users.map((user) => user.name)]);
  // Clear chat ids first, so two users may swap ids without breaking the unique constraint mid-way.
  await tx.query('UPDATE users SET slack_user_id = NULL');
  for (const user of users) {
    await tx.query(
      `INSERT INTO users (name, role, slack_user_id, integrations, plants, updated_at) VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (name) DO UPDATE SET role = $2, slack_user_id = $3, integrations = $4, plants = $5, updated_at = now()`,
      [user.name, user.role, user.slackUserId ?? null, user.integrations, user.plants],
    );
  }
}

/** Reads one user with the integrations and plants they may decide for. */
export async function loadUser(db: SqlRunner, name: string): Promise<StoredUser | undefined> {
  const { rows } = await db.query<{ name: string; role: Role; slack_user_id: string | null; integrations: string[]; plants: string[] }>(
    'SELECT name, role, slack_user_id, integrations, plants FROM users WHERE name = $1',
    [name],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  const user: StoredUser = { name: row.name, role: row.role, integrations: row.integrations, plants: row.plants };
  if (row.slack_user_id !== null) user.slackUserId = row.slack_user_id;
  return user;
}
