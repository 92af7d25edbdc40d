import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { appendAudit, AUDIT_EVENTS } from './audit.js';
import type { RemediationKind } from './catalogue.js';
import type { ControlStore, SqlRunner } from './control-store.js';
import { REMEDIATION_CODES } from './errors.js';
import type { ActionExecutor, MessageProgress, TargetOutcome } from './executors/types.js';
import { loadProposal, loadTargets, type StoredProposal, type StoredTarget } from './proposals.js';

/** Prefix of the lock a process holds while it runs an execution. */
const EXECUTION_LOCK_PREFIX = 'syncwatch-execution:';

/** Result of trying to claim the execution of a proposal. */
export type ClaimResult =
  | { claimed: true; executionId: string }
  | { claimed: false; code: string; message: string };

export interface ExecutionOutcome {
  status: 'executed' | 'failed';
  result: string;
}

/**
 * Runs approved proposals exactly once. A claim moves a proposal from
 * `approved` to `executing` and inserts its execution row in one transaction
 * that re-checks approvals and expiry, so of any number of concurrent claims
 * one succeeds. Targets are run one by one and each one's state is committed
 * when it finishes, so a restarted runner skips the finished ones.
 */
export class ExecutionRunner {
  readonly #store: ControlStore;
  readonly #executors: Partial<Record<RemediationKind, ActionExecutor>>;
  readonly #logger: Logger;
  readonly #clock: () => Date;
  /** Executions running in this process, so one proposal never runs twice side by side here. */
  readonly #running = new Map<string, Promise<ExecutionOutcome | undefined>>();

  constructor(options: {
    store: ControlStore;
    executors: Partial<Record<RemediationKind, ActionExecutor>>;
    logger: Logger;
    clock: () => Date;
  }) {
    this.#store = options.store;
    this.#executors = options.executors;
    this.#logger = options.logger;
    this.#clock = options.clock;
  }

  /** Claims an approved proposal for execution; `actor` is recorded when the claim is refused. */
  async claim(proposalId: string, actor = 'syncwatch'): Promise<ClaimResult> {
    const now = this.#clock();
    return this.#store.transaction(async (tx) => {
      const proposal = await loadProposal(tx, proposalId, true);
      const refusal = await checkClaim(tx, proposal, proposalId, now);
      if (refusal !== undefined) {
        if (refusal.code === REMEDIATION_CODES.expired && proposal?.status === 'approved') {
          await tx.query(`UPDATE proposals SET status = 'expired' WHERE id = $1`, [proposalId]);
        }
        // A proposal that is already executing or done needs no audit row for each late claim.
        if (refusal.code !== REMEDIATION_CODES.notPending) {
          await appendAudit(tx, {
            actor,
            channel: actor === 'syncwatch' ? 'system' : 'api',
            event: AUDIT_EVENTS.executionRefused,
            proposalId,
            code: refusal.code,
            detail: refusal.message,
          });
        }
        return { claimed: false, ...refusal };
      }
      const claimed = await tx.query(
        `UPDATE proposals SET status = 'executing' WHERE id = $1 AND status = 'approved' AND expires_at > $2 RETURNING id`,
        [proposalId, now],
      );
      if (claimed.rowCount !== 1) return { claimed: false, code: REMEDIATION_CODES.notPending, message: `proposal ${proposalId} was claimed by another runner` };
      const executionId = randomUUID();
      const approvers = await tx.query<{ user_name: string }>('SELECT user_name FROM approvals WHERE proposal_id = $1 ORDER BY user_name', [proposalId]);
      // One key per approved proposal: the unique constraint refuses a second execution row even if the status check were bypassed.
      const idempotencyKey = `${proposalId}:${approvers.rows.map((row) => row.user_name).join(',')}`;
      await tx.query(`INSERT INTO executions (id, proposal_id, idempotency_key, status) VALUES ($1, $2, $3, 'running')`, [
        executionId,
        proposalId,
        idempotencyKey,
      ]);
      await appendAudit(tx, {
        actor: 'syncwatch',
        channel: 'system',
        event: AUDIT_EVENTS.executionStarted,
        proposalId,
        detail: `execution ${executionId} started after approval by ${approvers.rows.map((row) => row.user_name).join(' and ')}`,
      });
      return { claimed: true, executionId };
    });
  }

  /**
   * Runs a claimed proposal, or joins the run already going on in this
   * process. Returns undefined when another process runs it, which holds
   * the proposal's execution lock until it finishes or dies.
   */
  run(proposalId: string, resumed = false): Promise<ExecutionOutcome | undefined> {
    const running = this.#running.get(proposalId);
    if (running) return running;
    const run = this.#lockAndRun(proposalId, resumed).finally(() => this.#running.delete(proposalId));
    this.#running.set(proposalId, run);
    return run;
  }

  async #lockAndRun(proposalId: string, resumed: boolean): Promise<ExecutionOutcome | undefined> {
    const release = await this.#store.tryLock(`${EXECUTION_LOCK_PREFIX}${proposalId}`);
    if (release === undefined) return undefined;
    try {
      if (resumed) await this.#markResumed(proposalId);
      return await this.#runTargets(proposalId, resumed);
    } finally {
      await release();
    }
  }

  /**
   * Claims approved proposals and resumes executing ones that no process
   * runs, such as those a crash interrupted. An execution another process
   * runs is skipped, because that process holds its lock.
   */
  async runPending(): Promise<ExecutionOutcome[]> {
    const { rows } = await this.#store.query<{ id: string; status: string }>(
      `SELECT id, status FROM proposals WHERE status IN ('approved', 'executing') ORDER BY created_at`,
    );
    const outcomes: ExecutionOutcome[] = [];
    for (const row of rows) {
      let outcome: ExecutionOutcome | undefined;
      if (row.status === 'approved') {
        const claim = await this.claim(row.id);
        if (claim.claimed) outcome = await this.run(row.id);
      } else {
        outcome = await this.run(row.id, !this.#running.has(row.id));
      }
      if (outcome) outcomes.push(outcome);
    }
    return outcomes;
  }

  /** Waits for every execution running in this process. */
  async waitForIdle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()]);
  }

  async #markResumed(proposalId: string): Promise<void> {
    await this.#store.transaction(async (tx) => {
      await tx.query(`UPDATE executions SET resumes = resumes + 1, resumed_at = $2 WHERE proposal_id = $1`, [proposalId, this.#clock()]);
      await appendAudit(tx, {
        actor: 'syncwatch',
        channel: 'system',
        event: AUDIT_EVENTS.executionResumed,
        proposalId,
        detail: 'execution resumed after a restart; finished targets are skipped',
      });
    });
  }

  async #runTargets(proposalId: string, resumed: boolean): Promise<ExecutionOutcome> {
    const proposal = await loadProposal(this.#store, proposalId);
    if (proposal?.status !== 'executing') {
      return { status: 'failed', result: `proposal ${proposalId} is ${proposal?.status ?? 'missing'}, not executing` };
    }
    const executor = this.#executors[proposal.action];
    const targets = await loadTargets(this.#store, proposalId);
    for (const target of targets) {
      if (target.state !== 'pending') continue;
      const outcome = await this.#runTarget(executor, proposal, target, resumed);
      await this.#recordTarget(proposalId, target, outcome);
      this.#logger.info({ proposalId, target: target.ref, state: outcome.state, result: outcome.result }, 'remediation target finished');
    }
    return this.#finish(proposal);
  }

  async #runTarget(
    executor: ActionExecutor | undefined,
    proposal: StoredProposal,
    target: StoredTarget,
    resumed: boolean,
  ): Promise<TargetOutcome> {
    if (executor === undefined) {
      return { state: 'failed', result: `${REMEDIATION_CODES.executorMissing}: no executor configured for action ${proposal.action}` };
    }
    try {
      return await executor.runTarget({ proposal, target, resumed, progress: this.#progress(proposal.id, target.position) });
    } catch (error) {
      this.#logger.error({ err: error, proposalId: proposal.id, target: target.ref }, 'remediation target failed');
      return { state: 'failed', result: `${REMEDIATION_CODES.executionFailed}: ${error instanceof Error ? error.message : String(error)}` };
    }
  }

  /** Stores a target's outcome with its audit row, so the log shows what changed on each system object. */
  async #recordTarget(proposalId: string, target: StoredTarget, outcome: TargetOutcome): Promise<void> {
    await this.#store.transaction(async (tx) => {
      await tx.query(`UPDATE proposal_targets SET state = $3, result = $4, updated_at = now() WHERE proposal_id = $1 AND position = $2`, [
        proposalId,
        target.position,
        outcome.state,
        outcome.result,
      ]);
      await appendAudit(tx, {
        actor: 'syncwatch',
        channel: 'system',
        event: AUDIT_EVENTS.targetFinished,
        proposalId,
        code: outcome.state === 'failed' ? REMEDIATION_CODES.executionFailed : undefined,
        detail: `${target.kind} ${target.ref}: ${outcome.state}, ${outcome.result}`,
      });
    });
  }

  async #finish(proposal: StoredProposal): Promise<ExecutionOutcome> {
    const targets = await loadTargets(this.#store, proposal.id);
    const failed = targets.filter((target) => target.state === 'failed');
    const counts = countStates(targets);
    const status = failed.length > 0 ? 'failed' : 'executed';
    const firstFailure = failed[0]?.result ? `; first failure on ${failed[0].ref}: ${failed[0].result}` : '';
    const single = targets.length === 1 && targets[0]?.result ? `: ${targets[0].result}` : '';
    const result = `${counts}${single}${firstFailure}`;
    await this.#store.transaction(async (tx) => {
      await tx.query(`UPDATE proposals SET status = $2, result = $3 WHERE id = $1 AND status = 'executing'`, [proposal.id, status, result]);
      await tx.query(`UPDATE executions SET status = $2, result = $3, finished_at = now() WHERE proposal_id = $1`, [
        proposal.id,
        status === 'executed' ? 'succeeded' : 'failed',
        result,
      ]);
      await appendAudit(tx, {
        actor: 'syncwatch',
        channel: 'system',
        event: AUDIT_EVENTS.executionFinished,
        proposalId: proposal.id,
        code: status === 'failed' ? REMEDIATION_CODES.executionFailed : undefined,
        detail: `${status}: ${result}`,
      });
    });
    this.#logger.info({ proposalId: proposal.id, status, result }, 'remediation execution finished');
    return { status, result };
  }

  #progress(proposalId: string, position: number): MessageProgress {
    const store = this.#store;
    return {
      async states(keys) {
        const { rows } = await store.query<{ message_key: string; state: 'publishing' | 'done' }>(
          'SELECT message_key, state FROM message_progress WHERE proposal_id = $1 AND position = $2 AND message_key = ANY($3::text[])',
          [proposalId, position, keys],
        );
        return new Map(rows.map((row) => [row.message_key, row.state]));
      },
      async markPublishing(keys) {
        await store.query(
          `INSERT INTO message_progress (proposal_id, position, message_key, state)
           SELECT $1, $2, key, 'publishing' FROM unnest($3::text[]) AS key
           ON CONFLICT (proposal_id, position, message_key) DO NOTHING`,
          [proposalId, position, keys],
        );
      },
      async markDone(keys) {
        await store.query(
          `INSERT INTO message_progress (proposal_id, position, message_key, state)
           SELECT $1, $2, key, 'done' FROM unnest($3::text[]) AS key
           ON CONFLICT (proposal_id, position, message_key) DO UPDATE SET state = 'done', at = now()`,
          [proposalId, position, keys],
        );
      },
      async listPublishing() {
        const { rows } = await store.query<{ message_key: string }>(
          `SELECT message_key FROM message_progress WHERE proposal_id = $1 AND position = $2 AND state = 'publishing'`,
          [proposalId, position],
        );
        return rows.map((row) => row.message_key);
      },
      async countDone() {
        const { rows } = await store.query<{ count: number }>(
          `SELECT count(*)::int AS count FROM message_progress WHERE proposal_id = $1 AND position = $2 AND state = 'done'`,
          [proposalId, position],
        );
        return rows[0]?.count ?? 0;
      },
    };
  }
}

/** Re-checks, inside the claiming transaction, that the proposal may run now. */
async function checkClaim(
  tx: SqlRunner,
  proposal: StoredProposal | undefined,
  proposalId: string,
  now: Date,
): Promise<{ code: string; message: string } | undefined> {
  if (proposal === undefined) return { code: REMEDIATION_CODES.proposalNotFound, message: `proposal ${proposalId} not found` };
  if (proposal.status === 'pending') {
    const { rows } = await tx.query<{ count: number }>('SELECT count(*)::int AS count FROM approvals WHERE proposal_id = $1', [proposalId]);
    const count = rows[0]?.count ?? 0;
    return {
      code: REMEDIATION_CODES.underApproved,
      message: `proposal ${proposalId} has ${count} of ${proposal.requiredApprovals} required approvals; it cannot run yet`,
    };
  }
  if (proposal.status !== 'approved') {
    return { code: REMEDIATION_CODES.notPending, message: `proposal ${proposalId} is ${proposal.status}; only an approved proposal can run` };
  }
  if (proposal.expiresAt.getTime() <= now.getTime()) {
    return { code: REMEDIATION_CODES.expired, message: `proposal ${proposalId} expired at ${proposal.expiresAt.toISOString()} before it ran` };
  }
  const { rows } = await tx.query<{ count: number }>('SELECT count(DISTINCT user_name)::int AS count FROM approvals WHERE proposal_id = $1', [proposalId]);
  const count = rows[0]?.count ?? 0;
  if (count < proposal.requiredApprovals) {
    return {
      code: REMEDIATION_CODES.underApproved,
      message: `proposal ${proposalId} has ${count} of ${proposal.requiredApprovals} required distinct approvals`,
    };
  }
  return undefined;
}

function countStates(targets: StoredTarget[]): string {
  const counts = new Map<string, number>();
  for (const target of targets) counts.set(target.state, (counts.get(target.state) ?? 0) + 1);
  return [...counts.entries()].map(([state, count]) => `${count} ${state}`).join(', ');
}
