import pg from 'pg';
import { quoteQualifiedSqlName } from '../../collector/sources/common.js';
import type { OdooModelClient } from '../../collector/sources/odoo-rpc-client.js';
import type { RemediationKind } from '../catalogue.js';
import type { ControlStore } from '../control-store.js';
import { REMEDIATION_ERRORS, RemediationError } from '../errors.js';
import { checkHold } from './control-plane.js';
import type { ActionExecutor, TargetContext, TargetOutcome } from './types.js';

/** Time limit of one statement against the Odoo database, in milliseconds. */
const STATEMENT_TIMEOUT_MS = 10_000;

/**
 * Column changes per action, as OCA queue_job's `Job.set_pending` makes them
 * (queue_job/job.py): dates and worker cleared, `retry` reset only by the
 * requeue button. `skip_duplicates` cancels the job as `button_cancelled` does.
 */
const SET_CLAUSES: Partial<Record<RemediationKind, string>> = {
  retry_now: `state = 'pending', eta = NULL, date_enqueued = NULL, date_started = NULL, date_done = NULL, worker_pid = NULL`,
  retry_after_delay: `state = 'pending', eta = (now() AT TIME ZONE 'UTC') + make_interval(secs => $2::float8 / 1000),
                      date_enqueued = NULL, date_started = NULL, date_done = NULL, worker_pid = NULL`,
  requeue_failed_jobs: `state = 'pending', retry = 0, eta = NULL, date_enqueued = NULL, date_started = NULL, date_done = NULL, worker_pid = NULL`,
  skip_duplicates: `state = 'cancelled', date_cancelled = now() AT TIME ZONE 'UTC', result = 'skipped by syncwatch: a done job has the same identity key'`,
};

/**
 * Changes failed queue_job rows directly in PostgreSQL. Each UPDATE matches
 * the job only while it is still `failed`, so a job that a worker or a person
 * already moved on is reported as skipped, and running a target twice after a
 * crash changes the row once.
 */
export class QueueJobSqlExecutor implements ActionExecutor {
  readonly #pool: pg.Pool;
  readonly #store: ControlStore;
  readonly #action: RemediationKind;

  constructor(options: { url: string; store: ControlStore; action: RemediationKind; pool?: pg.Pool }) {
    this.#pool =
      options.pool ??
      new pg.Pool({ connectionString: options.url, max: 2, application_name: 'syncwatch-remediation', statement_timeout: STATEMENT_TIMEOUT_MS });
    this.#pool.on('error', () => undefined);
    this.#store = options.store;
    this.#action = options.action;
  }

  async runTarget({ proposal, target }: TargetContext): Promise<TargetOutcome> {
    const table = quoteQualifiedSqlName(String(proposal.params.table ?? 'queue_job'));
    const current = await this.#pool.query<{ state: string; channel: string }>(`SELECT state, channel FROM ${table} WHERE uuid = $1`, [target.ref]);
    const job = current.rows[0];
    if (job === undefined) return { state: 'skipped', result: `job ${target.ref} not found in ${table}` };
    if (this.#action !== 'skip_duplicates') {
      const held = await checkHold(this.#store, proposal.integration, job.channel);
      if (held) return held;
    }
    const set = SET_CLAUSES[this.#action];
    if (set === undefined) throw new RemediationError(REMEDIATION_ERRORS.unsupportedAction, `action ${this.#action} does not change queue_job rows`);
    const duplicateGuard =
      this.#action === 'skip_duplicates'
        ? ` AND identity_key IS NOT NULL AND EXISTS (SELECT 1 FROM ${table} d WHERE d.identity_key = j.identity_key AND d.state = 'done')`
        : '';
    const params: unknown[] = [target.ref];
    if (this.#action === 'retry_after_delay') params.push(Number(proposal.params.delayMs ?? 0));
    const updated = await this.#pool.query(`UPDATE ${table} AS j SET ${set} WHERE j.uuid = $1 AND j.state = 'failed'${duplicateGuard}`, params);
    if (updated.rowCount === 1) return { state: 'done', result: describeDone(this.#action) };
    return { state: 'skipped', result: `job ${target.ref} is ${job.state}, no longer failed; left unchanged` };
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

function describeDone(action: RemediationKind): string {
  if (action === 'skip_duplicates') return 'cancelled as a duplicate';
  if (action === 'retry_after_delay') return 'set to pending with a delayed eta';
  return action === 'requeue_failed_jobs' ? 'requeued with its retry count reset' : 'set to pending';
}

/**
 * Requeues failed jobs through Odoo's external API: `search_read` for the job
 * by uuid and state `failed`, then the `requeue` method of `queue.job` on its id,
 * so Odoo's own access rules and hooks apply.
 *
 * NOTE: Odoo's `requeue` does not check the state itself, so a job that leaves
 * `failed` between the two calls is still requeued. The SQL executor has no
 * such window, because its check and change are one statement.
 */
export class QueueJobOdooExecutor implements ActionExecutor {
  constructor(
    private readonly client: OdooModelClient,
    private readonly store: ControlStore,
  ) {}

  async runTarget({ proposal, target }: TargetContext): Promise<TargetOutcome> {
    const held = await checkHold(this.store, proposal.integration, undefined);
    if (held) return held;
    const found = await this.client.callModel('queue.job', 'search_read', {
      domain: [
        ['uuid', '=', target.ref],
        ['state', '=', 'failed'],
      ],
      fields: ['id', 'state'],
      limit: 1,
    });
    const rows = Array.isArray(found.result) ? (found.result as Array<{ id: number }>) : [];
    const id = rows[0]?.id;
    if (id === undefined) return { state: 'skipped', result: `job ${target.ref} is not failed in Odoo; left unchanged` };
    // JSON-RPC passes the record ids as the first positional argument, which `callModel` sends as `domain`; /json/2 takes `ids`.
    await this.client.callModel('queue.job', 'requeue', this.client.protocol === 'json2' ? { ids: [id] } : { domain: [id] });
    return { state: 'done', result: `requeued through Odoo (queue.job ${id})` };
  }

  async close(): Promise<void> {}
}
