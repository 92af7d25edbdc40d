import pg from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  baseSourceFields,
  buildSample,
  describeError,
  isQualifiedSqlName,
  parseSourceConfig,
  quoteQualifiedSqlName,
  redactUrl,
  resolveIntervalMs,
  type SampleOrigin,
} from './common.js';
import type { FailureRecord, LagSample, LagSource, PollResult } from './types.js';

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
/** Maximum length of a stored exception message, in characters. */
export const MAX_EXCEPTION_MESSAGE_CHARS = 4_000;

/**
 * States counted per channel and job function. `done` and `cancelled` are
 * left out because the table keeps finished jobs for weeks and counting them
 * would scan that history on every poll.
 */
export const COUNTED_JOB_STATES = ['wait_dependencies', 'pending', 'enqueued', 'started', 'failed'] as const;

/** Entity of the sample a source reports before it has seen any channel. */
const WHOLE_TABLE_ENTITY = '*';

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

interface JobGroup {
  channel: string;
  jobFunction: string;
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
  readonly #origin: SampleOrigin;
  readonly #pool: pg.Pool;
  readonly #table: string;
  /** Groups seen so far; a group with no jobs left reports zeros instead of vanishing. */
  readonly #knownGroups = new Map<string, JobGroup>();
  #shape: TableShape | undefined;
  #closed = false;

  constructor(config: QueueJobSourceConfig, _deps: QueueJobSourceDeps = {}) {
    this.#config = config;
    this.name = config.name;
    this.integration = config.integration;
    this.workflow = config.workflow ?? '';
    this.intervalMs = resolveIntervalMs(config, DEFAULT_QUEUE_JOB_POLL_INTERVAL_MS);
    this.#origin = { integration: config.integration, source: config.name, sourceKind: QUEUE_JOB_SOURCE_KIND };
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
      return { samples: this.#downSamples(now, detail), failures: [] };
    }

    const samples = this.#samplesFromRows(groupRows, now);
    const failures = failureRows.map((row) => this.#toFailure(row, now));
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

  #samplesFromRows(rows: GroupRow[], now: Date): LagSample[] {
    const samples: LagSample[] = [];
    const seen = new Set<string>();
    for (const row of rows) {
      const group = { channel: row.channel, jobFunction: row.job_function };
      const key = groupKey(group);
      seen.add(key);
      this.#knownGroups.set(key, group);
      samples.push(this.#groupSample(now, group, row));
    }
    for (const [key, group] of this.#knownGroups) {
      if (!seen.has(key)) samples.push(this.#groupSample(now, group, undefined));
    }
    if (samples.length === 0) {
      // An empty table is healthy: report it so the source's series does not vanish.
      const sample = buildSample(this.#origin, now, WHOLE_TABLE_ENTITY, this.workflow, 'ok');
      sample.depth = 0;
      sample.inFlight = 0;
      sample.lagSeconds = 0;
      sample.lagEstimated = false;
      sample.stuck = 0;
      sample.failed = 0;
      sample.stateCounts = Object.fromEntries(COUNTED_JOB_STATES.map((state) => [state, 0]));
      samples.push(sample);
    }
    return samples;
  }

  #groupSample(now: Date, group: JobGroup, row: GroupRow | undefined): LagSample {
    const sample = buildSample(this.#origin, now, groupKey(group), this.workflow, 'ok');
    const counts = {
      wait_dependencies: row?.wait_dependencies ?? 0,
      pending: row?.pending ?? 0,
      enqueued: row?.enqueued ?? 0,
      started: row?.started ?? 0,
      failed: row?.failed ?? 0,
    };
    sample.stateCounts = counts;
    sample.depth = counts.pending + counts.enqueued;
    sample.inFlight = counts.started;
    sample.failed = counts.failed;
    sample.stuck = (row?.stuck_started ?? 0) + (row?.stuck_enqueued ?? 0);
    sample.lagEstimated = false;

    const attributes: Record<string, string> = { channel: group.channel, job_function: group.jobFunction };
    if (sample.depth === 0) {
      sample.lagSeconds = 0;
    } else if (row?.oldest_waiting_seconds !== null && row?.oldest_waiting_seconds !== undefined) {
      // A future eta gives a negative age: that job is scheduled, not late.
      sample.lagSeconds = Math.max(0, row.oldest_waiting_seconds);
      if (row.oldest_pending_seconds !== null) {
        attributes.oldest_pending_seconds = Math.max(0, row.oldest_pending_seconds).toFixed(3);
      }
    } else {
      sample.detail = 'waiting jobs have neither eta nor date_created';
    }
    if (row !== undefined) {
      attributes.scheduled = String(row.scheduled);
      attributes.stuck_started = String(row.stuck_started);
      attributes.stuck_enqueued = String(row.stuck_enqueued);
    }
    sample.attributes = attributes;
    return sample;
  }

  #toFailure(row: FailureRow, now: Date): FailureRecord {
    const parsed = row.exc_info ? parseExceptionInfo(row.exc_info) : undefined;
    const attributes: Record<string, string> = { channel: row.channel, job_function: row.job_function };
    if (row.name) attributes.job_name = row.name;
    if (row.max_retries !== null) attributes.max_retries = String(row.max_retries);
    if (row.failed_at_ms === null) attributes.failed_at_unknown = 'true';
    return {
      observedAt: now,
      failedAt: new Date(row.failed_at_ms ?? now.getTime()),
      integration: this.integration,
      workflow: this.workflow,
      source: this.name,
      sourceKind: QUEUE_JOB_SOURCE_KIND,
      entity: groupKey({ channel: row.channel, jobFunction: row.job_function }),
      failureId: row.uuid,
      exceptionName: row.exc_name ?? parsed?.name ?? '',
      exceptionMessage: truncate(row.exc_message ?? parsed?.message ?? '', MAX_EXCEPTION_MESSAGE_CHARS),
      retryCount: row.retry ?? 0,
      attributes,
    };
  }

  #downSamples(now: Date, detail: string): LagSample[] {
    const groups = [...this.#knownGroups.values()];
    const entities = groups.length > 0 ? groups.map(groupKey) : [WHOLE_TABLE_ENTITY];
    return entities.map((entity) => {
      const sample = buildSample(this.#origin, now, entity, this.workflow, 'source_down');
      sample.detail = detail;
      return sample;
    });
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

function groupKey(group: JobGroup): string {
  return `${group.channel}/${group.jobFunction}`;
}

/**
 * Reads the exception name and message from the last line of a Python
 * traceback (`module.Error: message`), for tables without `exc_name`.
 */
export function parseExceptionInfo(excInfo: string): { name: string; message: string } | undefined {
  const lines = excInfo.split('\n').map((line) => line.trim()).filter((line) => line.length > 0);
  const last = lines.at(-1);
  if (last === undefined) return undefined;
  const match = /^([A-Za-z_][\w.]*):\s?(.*)$/.exec(last);
  if (!match) return { name: last, message: '' };
  return { name: match[1] ?? '', message: match[2] ?? '' };
}

function truncate(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1)}…`;
}
