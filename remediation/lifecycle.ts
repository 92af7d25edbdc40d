import type { AlertProposal } from '../alerts/alert.js';
import { appendAudit, AUDIT_EVENTS } from './audit.js';
import { ACTION_CATALOGUE, type RemediationKind } from './catalogue.js';
import type { ProposalView } from './contract.js';
import type { ControlStore } from './control-store.js';
import { insertProposal, listProposalViews, type ProposalDraft } from './proposals.js';

/** Actor recorded for what syncwatch does by itself. */
export const SYSTEM_ACTOR = 'syncwatch';

/** Stores a proposal with its audit row, unless a proposal with its id exists. */
export async function storeProposalDraft(store: ControlStore, draft: ProposalDraft): Promise<void> {
  await store.transaction(async (tx) => {
    const existing = await tx.query('SELECT 1 FROM proposals WHERE id = $1', [draft.id]);
    if (existing.rows.length > 0) return;
    await insertProposal(tx, draft);
    await appendAudit(tx, {
      actor: draft.requestedBy,
      channel: 'system',
      event: AUDIT_EVENTS.proposed,
      proposalId: draft.id,
      detail:
        `${draft.action} on ${draft.targets.length} targets of ${draft.integration}; blast radius ${draft.blastRadius.events} events, ` +
        `${draft.blastRadius.orders} orders, plants [${draft.blastRadius.plants.join(', ')}]; ` +
        `${draft.requiredApprovals} approvals needed by ${draft.expiresAt.toISOString()}`,
    });
  });
}

/** Reads one proposal as surfaces show it. */
export async function readProposalView(store: ControlStore, id: string): Promise<ProposalView | undefined> {
  const [view] = await listProposalViews(store, { id });
  return view;
}

/** Marks every pending proposal whose expiry has passed as expired, each with its audit row. */
export async function expireOverdueProposals(store: ControlStore, now: Date): Promise<number> {
  const { rows } = await store.query<{ id: string }>(`SELECT id FROM proposals WHERE status = 'pending' AND expires_at <= $1`, [now]);
  let expired = 0;
  for (const { id } of rows) {
    const changed = await store.transaction(async (tx) => {
      const updated = await tx.query(`UPDATE proposals SET status = 'expired' WHERE id = $1 AND status = 'pending' AND expires_at <= $2`, [id, now]);
      if (updated.rowCount !== 1) return false;
      await appendAudit(tx, {
        actor: SYSTEM_ACTOR,
        channel: 'system',
        event: AUDIT_EVENTS.expired,
        proposalId: id,
        detail: 'expired without the approvals it needed',
      });
      return true;
    });
    if (changed) expired += 1;
  }
  return expired;
}

/** Reads the pending proposals of one incident, oldest first. */
export async function listPendingOfIncident(store: ControlStore, incidentId: string): Promise<ProposalView[]> {
  const { rows } = await store.query<{ id: string }>(
    `SELECT id FROM proposals WHERE incident_id = $1 AND status = 'pending' ORDER BY created_at, id`,
    [incidentId],
  );
  const views: ProposalView[] = [];
  for (const { id } of rows) {
    const view = await readProposalView(store, id);
    if (view) views.push(view);
  }
  return views;
}

/**
 * Returns a pending proposal of the same action on the same integration and
 * targets, whichever incident raised it, so that several incidents of one
 * cause share one proposal instead of asking for approval several times.
 */
export async function findPendingEquivalent(store: ControlStore, draft: ProposalDraft): Promise<ProposalView | undefined> {
  const refs = draft.targets.map((target) => `${target.kind}:${target.ref}`).sort();
  const { rows } = await store.query<{ id: string; refs: string[] | null }>(
    `SELECT p.id, array_agg(t.kind || ':' || t.ref) AS refs
     FROM proposals p LEFT JOIN proposal_targets t ON t.proposal_id = p.id
     WHERE p.status = 'pending' AND p.action = $1 AND p.integration = $2
     GROUP BY p.id, p.created_at
     ORDER BY p.created_at, p.id`,
    [draft.action, draft.integration],
  );
  for (const row of rows) {
    const stored = (row.refs ?? []).filter((ref) => ref !== null).sort();
    if (stored.length === refs.length && stored.every((ref, index) => ref === refs[index])) {
      return readProposalView(store, row.id);
    }
  }
  return undefined;
}

/** Converts a proposal to the short form an alert carries. */
export function toAlertProposal(view: ProposalView): AlertProposal {
  const entry = ACTION_CATALOGUE[view.action as RemediationKind];
  const { events, orders, plants } = view.blastRadius;
  const where = plants.length > 0 ? ` in ${plants.join(', ')}` : '';
  const summary = `${entry?.summary ?? view.action}: ${view.targets.length} targets, ${events} events, ${orders} orders${where}`;
  return { proposalId: view.id, action: view.action, summary, expiresAt: view.expiresAt };
}
