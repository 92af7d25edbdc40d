import pg from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  baseSourceFields,
  describeError,
  isQualifiedSqlName,
  parseSourceConfig,
  quoteQualifiedSqlName,
  redactUrl,
  resolveIntervalMs,
  type SampleOrigin,
} from './common.js';
import { COUNTED_JOB_STATES, JobQueueSampleBuilder, type FailedJob, type JobGroupStats } from './job-queue-samples.js';
import type { LagSource, PollResult } from './types.js';

export const QUEUE_JOB_SOURCE_KIND = 'queue_job';
export const DEFAULT_QUEUE_JOB_POLL_INTERVAL_MS = 30_000;
export const DEFAULT_QUEUE_JOB_TIMEOUT_MS = 10_000;
/**
 * A job in `enqueued` has been handed to a worker that has not started it.
 * queue_job's own `requeue_stuck_jobs` treats one minute in that state as stuck.
 */
export const DEFAULT_ENQUEUED_STUCK_AFTER_SECONDS = 60;
/** A job running for an hour is rarely healthy; set this per source to the longest expected job. */
export const DEFAULT_STARTED_STUCK_AFTER_SECONDS = 3_600;
/** Failed jobs read per poll, newest first, to bound the poll on a table with a long failure history. */
export const DEFAULT_MAX_FAILURES_PER_POLL = 1_000;
/** Config of one Odoo database whose queue_job table is watched as a lag source. */
export const queueJobSourceConfigSchema = z.strictObject({
  kind: z.literal(QUEUE_JOB_SOURCE_KIND),
  ...baseSourceFields,
  /** PostgreSQL URL of the Odoo database; a read-only role is enough. */
  url: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL'),
  /** Table name, optionally schema-qualified. */
  table: z
    .string()
    .refine(isQualifiedSqlName, 'expected "table" or "schema.table" made of letters, digits and underscores')
    .default('queue_job'),
  /** Seconds after which a job still in a state counts as stuck. */
  stuckAfterSeconds: z
    .strictObject({
      started: z.number().positive().default(DEFAULT_STARTED_STUCK_AFTER_SECONDS),
      enqueued: z.number().positive().default(DEFAULT_ENQUEUED_STUCK_AFTER_SECONDS),
    })
    .default({ started: DEFAULT_STARTED_STUCK_AFTER_SECONDS, enqueued: DEFAULT_ENQUEUED_STUCK_AFTER_SECONDS }),
  maxFailuresPerPoll: z.number().int().positive().default(DEFAULT_MAX_FAILURES_PER_POLL),
});

export type QueueJobSourceConfigInput = z.input<typeof queueJobSourceConfigSchema>;
export type QueueJobSourceConfig = z.output<typeof queueJobSourceConfigSchema>;

/** Services a source uses; all optional. */
export interface QueueJobSourceDeps {
  logger?: Logger;
}

/**
 * Opens a PostgreSQL pool whose sessions start read-only
 * (`default_transaction_read_only`), so a bug in a query cannot change Odoo's data.
 */
export function openReadOnlyPool(url: string, timeoutMs: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: 1,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    idleTimeoutMillis: 60_000,
    application_name: 'syncwatch',
    options: `-c default_transaction_read_only=on -c statement_timeout=${Math.ceil(timeoutMs)}`,
  });
  // An idle connection that the server drops emits an error here; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/** Creates a queue_job lag source; throws `COLLECTOR_ERR_SOURCE_CONFIG` on an invalid config. */
export function createQueueJobSource(config: QueueJobSourceConfigInput, deps: QueueJobSourceDeps = {}): LagSource {
  return new QueueJobSource(parseSourceConfig(queueJobSourceConfigSchema, config, QUEUE_JOB_SOURCE_KIND), deps);
}

interface GroupRow {
  channel: string;
  job_function: string;
  wait_dependencies: number;
  pending: number;
  enqueued: number;
  started: number;
  failed: number;
  scheduled: number;
  stuck_started: number;
  stuck_enqueued: number;
  oldest_waiting_seconds: number | null;
  oldest_pending_seconds: number | null;
}

interface FailureRow {
  uuid: string;
  channel: string;
  job_function: string;
  name: string | null;
  exc_name: string | null;
  exc_message: string | null;
  exc_info: string | null;
  failed_at_ms: number | null;
  retry: number | null;
  max_retries: number | null;
}

/** Optional columns that older queue_job releases lack. */
interface TableShape {
  hasExcName: boolean;
  hasExcMessage: boolean;
  hasChannelMethodName: boolean;
}

/**
 * Reads Odoo's `queue_job` table per channel and job function: counts by
 * state, the age of the oldest waiting job, stuck jobs and failed jobs.
 * Ages use the database clock, because Odoo stamps the jobs with it.
 *
 * Depth counts `pending` and `enqueued` jobs, which wait for a worker.
 * `wait_dependencies` jobs wait for other jobs, not for a worker, so they
 * appear in the state counts only. The lag is the age of the oldest `pending`
 * or `enqueued` job measured from `max(eta, date_created)`, so a job
 * scheduled for later adds no lag until its `eta` passes.
 */
export class QueueJobSource implements LagSource {
  readonly name: string;
  readonly kind = QUEUE_JOB_SOURCE_KIND;
  readonly intervalMs: number;
  readonly integration: string;
  readonly workflow: string;

  readonly #config: QueueJobSourceConfig;
  readonly #pool: pg.Pool;
  readonly #table: string;
  readonly #samples: JobQueueSampleBuilder;
  #shape: TableShape | undefined;
  #closed = false;

  constructor(config: QueueJobSourceConfig, _deps: QueueJobSourceDeps = {}) {
    this.#config = config;
    this.name = config.name;
    this.integration = config.integration;
    this.workflow = config.workflow ?? '';
    this.intervalMs = resolveIntervalMs(config, DEFAULT_QUEUE_JOB_POLL_INTERVAL_MS);
    const origin: SampleOrigin = { integration: config.integration, source: config.name, sourceKind: QUEUE_JOB_SOURCE_KIND };
    this.#samples = new JobQueueSampleBuilder(origin, this.workflow);
    this.#pool = openReadOnlyPool(config.url, config.timeoutMs ?? DEFAULT_QUEUE_JOB_TIMEOUT_MS);
    this.#table = quoteQualifiedSqlName(config.table);
  }

  async poll(now: Date): Promise<PollResult> {
    let groupRows: GroupRow[];
    let failureRows: FailureRow[];
    try {
      const client = await this.#pool.connect();
      try {
        // One read-only transaction, so counts and failures are one snapshot with one `now()`.
        await client.query('BEGIN READ ONLY');
        const shape = this.#shape ?? (await this.#readTableShape(client));
        groupRows = (await client.query<GroupRow>(this.#buildGroupQuery(shape), [
          this.#config.stuckAfterSeconds.started,
          this.#config.stuckAfterSeconds.enqueued,
        ])).rows;
        failureRows = (await client.query<FailureRow>(this.#buildFailureQuery(shape), [
          this.#config.maxFailuresPerPoll,
        ])).rows;
        await client.query('COMMIT');
        client.release();
      } catch (error) {
        // Destroy the connection, since its transaction state is unknown.
        client.release(error as Error);
        throw error;
      }
    } catch (error) {
      const detail = `cannot read ${this.#config.table} at ${redactUrl(this.#config.url)}: ${describeError(error)}`;
      return { samples: this.#samples.buildDownSamples(now, detail), failures: [] };
    }

    const samples = this.#samples.buildSamples(now, groupRows.map(toGroupStats));
    const failures = failureRows.map((row) => this.#samples.buildFailure(now, toFailedJob(row)));
    return { samples, failures };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async #readTableShape(client: pg.PoolClient): Promise<TableShape> {
    const [schema, table] = this.#config.table.includes('.')
      ? this.#config.table.split('.')
      : [undefined, this.#config.table];
    const result = await client.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns
        WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2`,
      [schema ?? null, table],
    );
    const columns = new Set(result.rows.map((row) => row.column_name));
    if (columns.size === 0) {
      throw new Error(`table ${this.#config.table} not found or not readable`);
    }
    this.#shape = {
      hasExcName: columns.has('exc_name'),
      hasExcMessage: columns.has('exc_message'),
      hasChannelMethodName: columns.has('channel_method_name'),
    };
    return this.#shape;
  }

  #buildGroupQuery(shape: TableShape): string {
    // Odoo stores datetimes as UTC in `timestamp` columns, so the clock is read in UTC too.
    return `
      WITH clock AS (SELECT (now() AT TIME ZONE 'UTC') AS ts)
      SELECT ${channelExpression()} AS channel,
             ${functionExpression(shape)} AS job_function,
             count(*) FILTER (WHERE state = 'wait_dependencies')::int AS wait_dependencies,
             count(*) FILTER (WHERE state = 'pending')::int AS pending,
             count(*) FILTER (WHERE state = 'enqueued')::int AS enqueued,
             count(*) FILTER (WHERE state = 'started')::int AS started,
             count(*) FILTER (WHERE state = 'failed')::int AS failed,
             count(*) FILTER (WHERE state = 'pending' AND eta > clock.ts)::int AS scheduled,
             count(*) FILTER (WHERE state = 'started'
                AND date_started < clock.ts - make_interval(secs => $1))::int AS stuck_started,
             count(*) FILTER (WHERE state = 'enqueued'
                AND date_enqueued < clock.ts - make_interval(secs => $2))::int AS stuck_enqueued,
             max(extract(epoch FROM clock.ts - greatest(eta, date_created)))
                FILTER (WHERE state IN ('pending', 'enqueued'))::float8 AS oldest_waiting_seconds,
             max(extract(epoch FROM clock.ts - greatest(eta, date_created)))
                FILTER (WHERE state = 'pending')::float8 AS oldest_pending_seconds
        FROM ${this.#table}, clock
       WHERE state IN (${COUNTED_JOB_STATES.map((state) => `'${state}'`).join(', ')})
       GROUP BY 1, 2
       ORDER BY 1, 2`;
  }

  #buildFailureQuery(shape: TableShape): string {
    // queue_job does not stamp the time of failure. `date_done` is set when a
    // failed job is later marked done, else `date_started` is the last change.
    return `
      SELECT uuid,
             ${channelExpression()} AS channel,
             ${functionExpression(shape)} AS job_function,
             name,
             ${shape.hasExcName ? 'exc_name' : 'NULL::varchar'} AS exc_name,
             ${shape.hasExcMessage ? 'exc_message' : 'NULL::varchar'} AS exc_message,
             CASE WHEN ${shape.hasExcName ? 'exc_name IS NULL' : 'true'} THEN exc_info END AS exc_info,
             (extract(epoch FROM coalesce(date_done, date_started, date_enqueued, date_created)) * 1000)::float8
                AS failed_at_ms,
             retry,
             max_retries
        FROM ${this.#table}
       WHERE state = 'failed'
       ORDER BY coalesce(date_done, date_started, date_enqueued, date_created) DESC NULLS LAST
       LIMIT $1`;
  }
}

function channelExpression(): string {
  return `coalesce(channel, '')`;
}

/** Builds the SQL expression of the job function's name, `<model>.method`, as queue_job names its `queue.job.function` records. */
function functionExpression(shape: TableShape): string {
  const fromParts = `'<' || model_name || '>.' || method_name`;
  return shape.hasChannelMethodName
    ? `coalesce(channel_method_name, ${fromParts}, '')`
    : `coalesce(${fromParts}, '')`;
}

function toGroupStats(row: GroupRow): JobGroupStats {
  return {
    channel: row.channel,
    jobFunction: row.job_function,
    counts: {
      wait_dependencies: row.wait_dependencies,
      pending: row.pending,
      enqueued: row.enqueued,
      started: row.started,
      failed: row.failed,
    },
    scheduled: row.scheduled,
    stuckStarted: row.stuck_started,
    stuckEnqueued: row.stuck_enqueued,
    oldestWaitingSeconds: row.oldest_waiting_seconds,
    oldestPendingSeconds: row.oldest_pending_seconds,
  };
}

function toFailedJob(row: FailureRow): FailedJob {
  return {
    uuid: row.uuid,
    channel: row.channel,
    jobFunction: row.job_function,
    name: row.name ?? undefined,
    excName: row.exc_name ?? undefined,
    excMessage: row.exc_message ?? undefined,
    excInfo: row.exc_info ?? undefined,
    failedAtMs: row.failed_at_ms ?? undefined,
    retry: row.retry ?? 0,
    maxRetries: row.max_retries ?? undefined,
  };
}
