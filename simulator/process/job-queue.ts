import pg from 'pg';
import { quoteTableName } from '../odoo-queue-job.js';
import type { QueueJobLocation } from '../process-protocol.js';
import {
  JOB_MAX_RETRIES,
  JOB_RETRY_DELAY_MS,
  JOB_RUNNER_BATCH_SIZE,
  JOB_RUNNER_INTERVAL_MS,
} from '../tunables.js';
import { createBusMessage, type MessageBus } from './message-bus.js';
import { randomBetween, sleep } from './transactions.js';

/** One Odoo job, as the OCA queue_job addon stores it. */
export interface OdooJob {
  uuid: string;
  name: string;
  modelName: string;
  methodName: string;
  recordIds: number[];
  kwargs: Record<string, unknown>;
  channel: string;
  priority: number;
  identityKey: string;
  retry: number;
  maxRetries: number;
  /** Earliest start in milliseconds from now, absent to start as soon as possible. */
  delayMs?: number;
}

/** Result of running a job. `stuck` leaves the job in `started`, as a hung worker does. */
export type JobOutcome =
  | { state: 'done'; result: string }
  | { state: 'failed'; excName: string; excMessage: string; excInfo: string }
  | { state: 'retry'; excName: string; excMessage: string; excInfo: string }
  | { state: 'stuck' };

/** Runs one job. */
export type JobExecutor = (job: OdooJob) => Promise<JobOutcome>;

/** Odoo's job queue: jobs go in, a runner takes them out and runs them. */
export interface JobQueue {
  /** `messaging.system` of the job spans. */
  readonly system: string;
  enqueue(job: OdooJob): Promise<void>;
  start(executor: JobExecutor): void;
  stop(): Promise<void>;
}

const FAILED_JOB_ERROR = 'odoo.addons.queue_job.exception.FailedJobError';

/** Turns a retry that used up the job's retries into a failure, as queue_job does. */
function settleRetry(job: OdooJob, outcome: JobOutcome): JobOutcome {
  if (outcome.state !== 'retry' || job.retry + 1 < job.maxRetries) return outcome;
  return {
    state: 'failed',
    excName: FAILED_JOB_ERROR,
    excMessage: `Max. retries (${job.maxRetries}) reached: ${outcome.excMessage}`,
    excInfo: outcome.excInfo,
  };
}

const NOW_UTC = `(now() AT TIME ZONE 'UTC')`;

/**
 * Job queue on a PostgreSQL `queue_job` table, with a runner that moves jobs
 * pending → enqueued → started → done or failed, like Odoo's job runner and
 * workers, and puts retried jobs back to pending with a later `eta`.
 */
export class PgJobQueue implements JobQueue {
  readonly system = 'odoo_queue_job';
  readonly #pool: pg.Pool;
  readonly #table: string;
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #running = 0;
  #claiming = false;
  readonly #inProgress = new Set<Promise<void>>();

  constructor(location: QueueJobLocation, onError: (error: unknown) => void) {
    this.#pool = new pg.Pool({ connectionString: location.connectionString, max: 4 });
    this.#pool.on('error', onError);
    this.#table = quoteTableName(`${location.schema}.${location.table}`);
    this.#onError = onError;
  }

  async enqueue(job: OdooJob): Promise<void> {
    const records = {
      _type: 'odoo_recordset',
      model: job.modelName,
      ids: job.recordIds,
      uid: 2,
      su: false,
      context: {},
    };
    const kwargsText = Object.entries(job.kwargs)
      .filter(([key]) => key !== 'trace_context')
      .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
      .join(', ');
    await this.#pool.query(
      `INSERT INTO ${this.#table} (uuid, user_id, company_id, name, model_name, method_name,
         records, args, kwargs, func_string, state, priority, date_created, eta, retry,
         max_retries, channel_method_name, channel, identity_key)
       VALUES ($1, 2, 1, $2, $3, $4, $5, '[]', $6, $7, 'pending', $8, ${NOW_UTC},
         CASE WHEN $9::float8 IS NULL THEN NULL ELSE ${NOW_UTC} + make_interval(secs => $9::float8) END,
         $10, $11, $12, $13, $14)`,
      [
        job.uuid,
        job.name,
        job.modelName,
        job.methodName,
        JSON.stringify(records),
        JSON.stringify(job.kwargs),
        `${job.modelName}(${job.recordIds.join(',')},).${job.methodName}(${kwargsText})`,
        job.priority,
        job.delayMs === undefined ? null : job.delayMs / 1000,
        job.retry,
        job.maxRetries,
        `<${job.modelName}>.${job.methodName}`,
        job.channel,
        job.identityKey,
      ],
    );
  }

  start(executor: JobExecutor): void {
    this.#timer = setInterval(() => void this.#claim(executor), JOB_RUNNER_INTERVAL_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.allSettled([...this.#inProgress]);
    await this.#pool.end().catch(() => undefined);
  }

  /** Moves due pending jobs to enqueued, up to the free worker capacity, and runs them. */
  async #claim(executor: JobExecutor): Promise<void> {
    const free = JOB_RUNNER_BATCH_SIZE - this.#running;
    if (this.#claiming || free <= 0) return;

    this.#claiming = true;
    try {
      const claimed = await this.#pool.query<JobRow>(
        `UPDATE ${this.#table} SET state = 'enqueued', date_enqueued = ${NOW_UTC}
         WHERE id IN (
           SELECT id FROM ${this.#table}
           WHERE state = 'pending' AND (eta IS NULL OR eta <= ${NOW_UTC})
           ORDER BY priority, date_created
           LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, uuid, name, model_name, method_name, records, kwargs, channel,
           priority, identity_key, retry, max_retries`,
        [free],
      );
      for (const row of claimed.rows) {
        this.#running += 1;
        const run = this.#run(row, executor)
          .catch(this.#onError)
          .finally(() => {
            this.#running -= 1;
            this.#inProgress.delete(run);
          });
        this.#inProgress.add(run);
      }
    } catch (error) {
      this.#onError(error);
    } finally {
      this.#claiming = false;
    }
  }

  async #run(row: JobRow, executor: JobExecutor): Promise<void> {
    // The job waits in `enqueued` until a worker picks it up.
    await sleep(randomBetween(50, 400));
    await this.#pool.query(
      `UPDATE ${this.#table} SET state = 'started', date_started = ${NOW_UTC}, worker_pid = $2 WHERE id = $1`,
      [row.id, process.pid],
    );

    const job = toOdooJob(row);
    const startedAtMs = Date.now();
    const outcome = settleRetry(job, await executor(job));
    await this.#store(row.id, outcome, (Date.now() - startedAtMs) / 1000);
  }

  async #store(id: number, outcome: JobOutcome, execSeconds: number): Promise<void> {
    if (outcome.state === 'stuck') return;

    if (outcome.state === 'done') {
      await this.#pool.query(
        `UPDATE ${this.#table} SET state = 'done', date_done = ${NOW_UTC}, exec_time = $2, result = $3
         WHERE id = $1`,
        [id, execSeconds, outcome.result],
      );
      return;
    }
    if (outcome.state === 'failed') {
      await this.#pool.query(
        `UPDATE ${this.#table} SET state = 'failed', exec_time = $2, exc_name = $3, exc_message = $4,
           exc_info = $5 WHERE id = $1`,
        [id, execSeconds, outcome.excName, outcome.excMessage, outcome.excInfo],
      );
      return;
    }
    await this.#pool.query(
      `UPDATE ${this.#table} SET state = 'pending', retry = retry + 1, date_enqueued = NULL,
         date_started = NULL, eta = ${NOW_UTC} + make_interval(secs => $2::float8),
         exc_name = $3, exc_message = $4, exc_info = $5
       WHERE id = $1`,
      [id, JOB_RETRY_DELAY_MS / 1000, outcome.excName, outcome.excMessage, outcome.excInfo],
    );
  }
}

interface JobRow {
  id: number;
  uuid: string;
  name: string;
  model_name: string;
  method_name: string;
  records: string;
  kwargs: string;
  channel: string;
  priority: number;
  identity_key: string;
  retry: number;
  max_retries: number;
}

function toOdooJob(row: JobRow): OdooJob {
  const records = JSON.parse(row.records) as { ids?: number[] };
  return {
    uuid: row.uuid,
    name: row.name,
    modelName: row.model_name,
    methodName: row.method_name,
    recordIds: records.ids ?? [],
    kwargs: JSON.parse(row.kwargs) as Record<string, unknown>,
    channel: row.channel,
    priority: row.priority,
    identityKey: row.identity_key,
    retry: row.retry,
    maxRetries: row.max_retries ?? JOB_MAX_RETRIES,
  };
}

/**
 * Job queue on a message queue, used when PostgreSQL is unreachable. Retried
 * jobs are published again after the retry delay. This queue models neither
 * `eta` nor stuck jobs.
 */
export class BusJobQueue implements JobQueue {
  readonly system = 'in_process';
  readonly #bus: MessageBus;
  readonly #queue: string;
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(bus: MessageBus, queue: string) {
    this.#bus = bus;
    this.#queue = queue;
  }

  async enqueue(job: OdooJob): Promise<void> {
    await this.#bus.publish(this.#queue, createBusMessage(job, {}));
  }

  start(executor: JobExecutor): void {
    void this.#bus.consume(this.#queue, JOB_RUNNER_BATCH_SIZE, async (message) => {
      const job = message.body as OdooJob;
      const outcome = settleRetry(job, await executor(job));
      // A job that finishes after stop is not retried, because the bus closes next.
      if (outcome.state !== 'retry' || this.#stopped) return;

      const timer = setTimeout(() => {
        this.#retryTimers.delete(timer);
        void this.enqueue({ ...job, retry: job.retry + 1 });
      }, JOB_RETRY_DELAY_MS);
      this.#retryTimers.add(timer);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#retryTimers) clearTimeout(timer);
    this.#retryTimers.clear();
  }
}
