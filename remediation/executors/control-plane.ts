import type { ControlStore } from '../control-store.js';
import { REMEDIATION_CODES } from '../errors.js';
import type { ActionExecutor, TargetContext, TargetOutcome } from './types.js';

/**
 * Switches a workflow's active route in the control plane, where the
 * middleware reads it. The switch is one upsert, so running it again after a
 * crash changes nothing.
 */
export class RouteSwitchExecutor implements ActionExecutor {
  constructor(private readonly store: ControlStore) {}

  async runTarget({ proposal, target }: TargetContext): Promise<TargetOutcome> {
    const route = String(proposal.params.route ?? '');
    const kind = String(proposal.params.kind ?? '');
    const destination = String(proposal.params.target ?? '');
    const { rows } = await this.store.query<{ route: string }>('SELECT route FROM workflow_routes WHERE workflow = $1', [target.ref]);
    const previous = rows[0]?.route ?? 'primary';
    await this.store.query(
      `INSERT INTO workflow_routes (workflow, route, kind, target, proposal_id) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (workflow) DO UPDATE SET route = $2, kind = $3, target = $4, proposal_id = $5, switched_at = now()`,
      [target.ref, route, kind, destination, proposal.id],
    );
    return { state: 'done', result: `workflow ${target.ref} switched from route "${previous}" to "${route}" (${kind} ${destination})` };
  }

  async close(): Promise<void> {}
}

/** Holds a channel: retries, replays and republishes on it are refused until the hold row is removed. */
export class HoldChannelExecutor implements ActionExecutor {
  constructor(private readonly store: ControlStore) {}

  async runTarget({ proposal }: TargetContext): Promise<TargetOutcome> {
    const channel = String(proposal.params.channel ?? '*');
    const inserted = await this.store.query(
      `INSERT INTO channel_holds (integration, channel, proposal_id) VALUES ($1, $2, $3) ON CONFLICT (integration, channel) DO NOTHING`,
      [proposal.integration, channel, proposal.id],
    );
    const result = inserted.rowCount === 1 ? 'held' : 'already held';
    return { state: 'done', result: `channel ${channel} of ${proposal.integration} ${result}` };
  }

  async close(): Promise<void> {}
}

/**
 * Returns an outcome that fails the target when the integration, or the
 * given channel of it, is on hold, or undefined when it is not.
 */
export async function checkHold(store: ControlStore, integration: string, channel: string | undefined): Promise<TargetOutcome | undefined> {
  const { rows } = await store.query<{ channel: string; proposal_id: string }>(
    `SELECT channel, proposal_id FROM channel_holds WHERE integration = $1 AND (channel = '*' OR channel = $2)`,
    [integration, channel ?? '*'],
  );
  const hold = rows[0];
  if (hold === undefined) return undefined;
  return {
    state: 'failed',
    result: `${REMEDIATION_CODES.channelHeld}: channel ${hold.channel} of ${integration} is held by proposal ${hold.proposal_id}`,
  };
}
