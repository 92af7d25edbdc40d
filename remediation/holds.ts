import { appendAudit, AUDIT_EVENTS } from './audit.js';
import type { DecisionChannel } from './contract.js';
import type { ControlStore } from './control-store.js';
import { REMEDIATION_CODES } from './errors.js';
import { DECIDING_ROLES } from './policy.js';
import { loadUser } from './proposals.js';

export interface ReleaseHoldRequest {
  integration: string;
  /** Channel as the hold stored it; `*` for a hold on the whole integration. */
  channel: string;
  userName: string;
  via: DecisionChannel;
  reason: string;
}

export interface ReleaseHoldOutcome {
  released: boolean;
  code?: string;
  message: string;
}

/** A channel on hold, as `hold_channel` stored it. */
export interface ChannelHold {
  integration: string;
  channel: string;
  proposalId: string;
  heldAt: Date;
}

/** A workflow's active alternate route, as `reroute` stored it. */
export interface ActiveRoute {
  workflow: string;
  route: string;
  kind: string;
  target: string;
  proposalId: string;
  switchedAt: Date;
}

/**
 * Lifts a channel hold for an approver or admin, with a reason, and audits
 * the release or its refusal. Lifting a hold sends nothing, so it needs one
 * person and no proposal.
 */
export async function releaseHold(store: ControlStore, request: ReleaseHoldRequest): Promise<ReleaseHoldOutcome> {
  return store.transaction(async (tx) => {
    const user = await loadUser(tx, request.userName);
    let refusal: ReleaseHoldOutcome | undefined;
    if (user === undefined || !DECIDING_ROLES.has(user.role)) {
      const role = user === undefined ? 'no configured user' : `role "${user.role}"`;
      refusal = { released: false, code: REMEDIATION_CODES.forbiddenRole, message: `user "${request.userName}" has ${role}; releasing a hold needs role approver or admin` };
    } else if (!request.reason.trim()) {
      refusal = { released: false, code: REMEDIATION_CODES.reasonRequired, message: 'releasing a hold needs a reason; got none' };
    }
    const where = `channel ${request.channel} of ${request.integration}`;
    if (refusal === undefined) {
      const deleted = await tx.query<{ proposal_id: string }>(
        'DELETE FROM channel_holds WHERE integration = $1 AND channel = $2 RETURNING proposal_id',
        [request.integration, request.channel],
      );
      if (deleted.rows.length === 0) refusal = { released: false, code: REMEDIATION_CODES.notPending, message: `${where} is not on hold` };
    }
    await appendAudit(tx, {
      actor: request.userName,
      channel: request.via,
      event: refusal ? AUDIT_EVENTS.holdReleaseRefused : AUDIT_EVENTS.holdReleased,
      code: refusal?.code,
      detail: refusal ? refusal.message : `released the hold on ${where}: ${request.reason.trim()}`,
    });
    return refusal ?? { released: true, message: `released the hold on ${where}` };
  });
}

export async function listHolds(store: ControlStore): Promise<ChannelHold[]> {
  const { rows } = await store.query<{ integration: string; channel: string; proposal_id: string; held_at: Date }>(
    'SELECT integration, channel, proposal_id, held_at FROM channel_holds ORDER BY held_at',
  );
  return rows.map((row) => ({ integration: row.integration, channel: row.channel, proposalId: row.proposal_id, heldAt: new Date(row.held_at) }));
}

export async function listRoutes(store: ControlStore): Promise<ActiveRoute[]> {
  const { rows } = await store.query<{ workflow: string; route: string; kind: string; target: string; proposal_id: string; switched_at: Date }>(
    'SELECT workflow, route, kind, target, proposal_id, switched_at FROM workflow_routes ORDER BY workflow',
  );
  return rows.map((row) => ({
    workflow: row.workflow,
    route: row.route,
    kind: row.kind,
    target: row.target,
    proposalId: row.proposal_id,
    switchedAt: new Date(row.switched_at),
  }));
}
