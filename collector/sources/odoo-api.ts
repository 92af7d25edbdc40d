import type { Logger } from 'pino';
import { z } from 'zod';
import {
  baseSourceFields,
  buildSample,
  describeError,
  parseSourceConfig,
  resolveIntervalMs,
  type SampleOrigin,
} from './common.js';
import {
  ODOO_GROUP_METHODS,
  readOdooJobQueue,
  type OdooFailedJob,
  type OdooGroupMethod,
  type OdooJobGroupStats,
  type OdooJobQueueSnapshot,
} from './odoo-job-reader.js';
import {
  createOdooClient,
  isOdooAccessDenied,
  ODOO_AUTH_METHODS,
  ODOO_PROTOCOLS,
  type OdooModelClient,
} from './odoo-rpc-client.js';
import {
  COUNTED_JOB_STATES,
  DEFAULT_ENQUEUED_STUCK_AFTER_SECONDS,
  DEFAULT_MAX_FAILURES_PER_POLL,
  DEFAULT_STARTED_STUCK_AFTER_SECONDS,
  MAX_EXCEPTION_MESSAGE_CHARS,
  parseExceptionInfo,
} from './queue-job.js';
import type { FailureRecord, LagSample, LagSource, PollResult } from './types.js';

export const ODOO_API_SOURCE_KIND = 'odoo_api';
export const DEFAULT_ODOO_API_POLL_INTERVAL_MS = 30_000;
export const DEFAULT_ODOO_API_TIMEOUT_MS = 10_000;
/** Odoo model of the OCA queue_job addon. */
export const DEFAULT_ODOO_JOB_MODEL = 'queue.job';

/** Entity of the sample a source reports before it has seen any channel. */
const WHOLE_MODEL_ENTITY = '*';

/**
 * Config of one Odoo database whose `queue.job` model is read through the
 * external API, for when the database itself is not reachable.
 */
export const odooApiSourceConfigSchema = z
  .strictObject({
    kind: z.literal(ODOO_API_SOURCE_KIND),
    ...baseSourceFields,
    /** Base URL of the Odoo server, such as `https://erp.example.com`. */
    url: z.string().regex(/^https?:\/\//, 'expected an http:// or https:// URL'),
    /** `jsonrpc` (`/jsonrpc` with `execute_kw`, Odoo 8 to 19) or `json2` (`/json/2` with a bearer key, Odoo 19 and later). */
    protocol: z.enum(ODOO_PROTOCOLS),
    /** Database name; required for `jsonrpc`, sent as `X-Odoo-Database` with `json2` when set. */
    database: z.string().min(1).optional(),
    /** Login of the user the key belongs to; required for `jsonrpc`. */
    login: z.string().min(1).optional(),
    /** API key (or password, over `jsonrpc`), usually a `${VAR}` reference. Never logged. */
    apiKey: z.string().min(1),
    /** `common` service method that returns the user id over `jsonrpc`. */
    authMethod: z.enum(ODOO_AUTH_METHODS).default('authenticate'),
    /**
     * Method that counts jobs per group: `read_group` (Odoo 8 to 18) or
     * `formatted_read_group` (Odoo 19 and later). Defaults to `read_group`
     * over `jsonrpc` and to `formatted_read_group` over `json2`.
     */
    groupMethod: z.enum(ODOO_GROUP_METHODS).optional(),
    /** Model name of the job queue. */
    model: z.string().regex(/^[a-z_][a-z0-9_.]*$/, 'expected an Odoo model name such as "queue.job"').default(DEFAULT_ODOO_JOB_MODEL),
    /** Seconds after which a job still in a state counts as stuck. */
    stuckAfterSeconds: z
      .strictObject({
        started: z.number().positive().default(DEFAULT_STARTED_STUCK_AFTER_SECONDS),
        enqueued: z.number().positive().default(DEFAULT_ENQUEUED_STUCK_AFTER_SECONDS),
      })
      .default({ started: DEFAULT_STARTED_STUCK_AFTER_SECONDS, enqueued: DEFAULT_ENQUEUED_STUCK_AFTER_SECONDS }),
    maxFailuresPerPoll: z.number().int().positive().default(DEFAULT_MAX_FAILURES_PER_POLL),
  })
  .refine((config) => config.protocol !== 'jsonrpc' || (config.database !== undefined && config.login !== undefined), {
    message: 'expected "database" and "login" as well: the jsonrpc protocol authenticates with both',
    path: ['protocol'],
  });

export type OdooApiSourceConfigInput = z.input<typeof odooApiSourceConfigSchema>;
export type OdooApiSourceConfig = z.output<typeof odooApiSourceConfigSchema>;

/** Services a source uses; all optional. */
export interface OdooApiSourceDeps {
  logger?: Logger;
}

/** Creates an Odoo external API lag source; throws `COLLECTOR_ERR_SOURCE_CONFIG` on an invalid config. */
export function createOdooApiSource(config: OdooApiSourceConfigInput, deps: OdooApiSourceDeps = {}): LagSource {
  return new OdooApiSource(parseSourceConfig(odooApiSourceConfigSchema, config, ODOO_API_SOURCE_KIND), deps);
}

interface JobGroup {
  channel: string;
  jobFunction: string;
}

/**
 * Reads Odoo's `queue.job` model over JSON-RPC or `/json/2` and reports the
 * same samples and failure records as the queue_job source. Per channel and
 * job function, a sample has the counts by state, the depth (`pending` +
 * `enqueued`), the jobs in flight (`started`), the stuck jobs, and the lag of
 * the oldest waiting job measured from `max(eta, date_created)`. The `clock`
 * attribute names the clock of the ages: `server` (the HTTP `Date` header) or `host`.
 */
export class OdooApiSource implements LagSource {
  readonly name: string;
  readonly kind = ODOO_API_SOURCE_KIND;
  readonly intervalMs: number;
  readonly integration: string;
  readonly workflow: string;

  readonly #config: OdooApiSourceConfig;
  readonly #origin: SampleOrigin;
  readonly #client: OdooModelClient;
  readonly #logger: Logger | undefined;
  readonly #groupMethod: OdooGroupMethod;
  /** Groups seen so far; a group with no jobs left reports zeros instead of vanishing. */
  readonly #knownGroups = new Map<string, JobGroup>();
  #accessDenied = false;

  constructor(config: OdooApiSourceConfig, deps: OdooApiSourceDeps = {}) {
    this.#config = config;
    this.name = config.name;
    this.integration = config.integration;
    this.workflow = config.workflow ?? '';
    this.intervalMs = resolveIntervalMs(config, DEFAULT_ODOO_API_POLL_INTERVAL_MS);
    this.#origin = { integration: config.integration, source: config.name, sourceKind: ODOO_API_SOURCE_KIND };
    this.#logger = deps.logger;
    this.#groupMethod = config.groupMethod ?? (config.protocol === 'json2' ? 'formatted_read_group' : 'read_group');
    this.#client = createOdooClient({
      url: config.url,
      protocol: config.protocol,
      database: config.database,
      login: config.login,
      apiKey: config.apiKey,
      authMethod: config.authMethod,
      timeoutMs: config.timeoutMs ?? DEFAULT_ODOO_API_TIMEOUT_MS,
    });
  }

  async poll(now: Date): Promise<PollResult> {
    let snapshot: OdooJobQueueSnapshot;
    try {
      snapshot = await readOdooJobQueue(this.#client, {
        model: this.#config.model,
        groupMethod: this.#groupMethod,
        stuckAfterSeconds: this.#config.stuckAfterSeconds,
        maxFailures: this.#config.maxFailuresPerPoll,
      });
    } catch (error) {
      this.#noteAccessDenied(error);
      const detail = `cannot read ${this.#config.model} at ${this.#config.url} over ${this.#config.protocol}: ${this.#redact(describeError(error))}`;
      return { samples: this.#downSamples(now, detail), failures: [] };
    }
    if (this.#accessDenied) {
      this.#accessDenied = false;
      this.#logger?.info({ source: this.name, url: this.#config.url }, 'odoo access restored');
    }
    const samples = this.#samplesFromSnapshot(snapshot, now);
    const failures = snapshot.failures.map((job) => this.#toFailure(job, now));
    return { samples, failures };
  }

  async close(): Promise<void> {
    // fetch keeps no connection state that needs closing.
  }

  /** Logs the first of a run of rejected credentials; the samples carry each later one. */
  #noteAccessDenied(error: unknown): void {
    if (!isOdooAccessDenied(error) || this.#accessDenied) return;
    this.#accessDenied = true;
    this.#logger?.warn(
      {
        source: this.name,
        url: this.#config.url,
        protocol: this.#config.protocol,
        database: this.#config.database,
        login: this.#config.login,
      },
      'odoo rejected the credentials',
    );
  }

  #samplesFromSnapshot(snapshot: OdooJobQueueSnapshot, now: Date): LagSample[] {
    const samples: LagSample[] = [];
    const seen = new Set<string>();
    const clockAttributes = { clock: snapshot.clockSource, protocol: this.#config.protocol };
    for (const stats of snapshot.groups) {
      const group = { channel: stats.channel, jobFunction: stats.jobFunction };
      const key = groupKey(group);
      seen.add(key);
      this.#knownGroups.set(key, group);
      samples.push(this.#groupSample(now, group, stats, clockAttributes));
    }
    for (const [key, group] of this.#knownGroups) {
      if (!seen.has(key)) samples.push(this.#groupSample(now, group, undefined, clockAttributes));
    }
    if (samples.length === 0) {
      // An empty queue is healthy: report it so the source's series does not vanish.
      const sample = buildSample(this.#origin, now, WHOLE_MODEL_ENTITY, this.workflow, 'ok');
      sample.depth = 0;
      sample.inFlight = 0;
      sample.lagSeconds = 0;
      sample.lagEstimated = false;
      sample.stuck = 0;
      sample.failed = 0;
      sample.stateCounts = Object.fromEntries(COUNTED_JOB_STATES.map((state) => [state, 0]));
      sample.attributes = { ...clockAttributes };
      samples.push(sample);
    }
    return samples;
  }

  #groupSample(
    now: Date,
    group: JobGroup,
    stats: OdooJobGroupStats | undefined,
    clockAttributes: Record<string, string>,
  ): LagSample {
    const sample = buildSample(this.#origin, now, groupKey(group), this.workflow, 'ok');
    const counts = stats?.counts ?? { wait_dependencies: 0, pending: 0, enqueued: 0, started: 0, failed: 0 };
    sample.stateCounts = { ...counts };
    sample.depth = counts.pending + counts.enqueued;
    sample.inFlight = counts.started;
    sample.failed = counts.failed;
    sample.stuck = (stats?.stuckStarted ?? 0) + (stats?.stuckEnqueued ?? 0);
    sample.lagEstimated = false;

    const attributes: Record<string, string> = {
      channel: group.channel,
      job_function: group.jobFunction,
      ...clockAttributes,
    };
    if (sample.depth === 0) {
      sample.lagSeconds = 0;
    } else if (stats?.oldestWaitingSeconds !== null && stats?.oldestWaitingSeconds !== undefined) {
      // A future eta gives a negative age: that job is scheduled, not late.
      sample.lagSeconds = Math.max(0, stats.oldestWaitingSeconds);
      if (stats.oldestPendingSeconds !== null) {
        attributes.oldest_pending_seconds = Math.max(0, stats.oldestPendingSeconds).toFixed(3);
      }
      if (stats.oldestTruncated) attributes.oldest_search_truncated = 'true';
    } else {
      sample.detail = 'waiting jobs have neither eta nor date_created';
    }
    if (stats !== undefined) {
      attributes.scheduled = String(stats.scheduled);
      attributes.stuck_started = String(stats.stuckStarted);
      attributes.stuck_enqueued = String(stats.stuckEnqueued);
    }
    sample.attributes = attributes;
    return sample;
  }

  #toFailure(job: OdooFailedJob, now: Date): FailureRecord {
    const parsed = job.excInfo ? parseExceptionInfo(job.excInfo) : undefined;
    const attributes: Record<string, string> = { channel: job.channel, job_function: job.jobFunction };
    if (job.name) attributes.job_name = job.name;
    if (job.maxRetries !== undefined) attributes.max_retries = String(job.maxRetries);
    if (job.failedAtMs === undefined) attributes.failed_at_unknown = 'true';
    return {
      observedAt: now,
      failedAt: new Date(job.failedAtMs ?? now.getTime()),
      integration: this.integration,
      workflow: this.workflow,
      source: this.name,
      sourceKind: ODOO_API_SOURCE_KIND,
      entity: groupKey({ channel: job.channel, jobFunction: job.jobFunction }),
      failureId: job.uuid,
      exceptionName: job.excName ?? parsed?.name ?? '',
      exceptionMessage: truncate(job.excMessage ?? parsed?.message ?? '', MAX_EXCEPTION_MESSAGE_CHARS),
      retryCount: job.retry,
      attributes,
    };
  }

  #downSamples(now: Date, detail: string): LagSample[] {
    const groups = [...this.#knownGroups.values()];
    const entities = groups.length > 0 ? groups.map(groupKey) : [WHOLE_MODEL_ENTITY];
    return entities.map((entity) => {
      const sample = buildSample(this.#origin, now, entity, this.workflow, 'source_down');
      sample.detail = detail;
      return sample;
    });
  }

  /** Removes the API key from text that came back from the server, in case an error echoes it. */
  #redact(text: string): string {
    return text.split(this.#config.apiKey).join('***');
  }
}

function groupKey(group: JobGroup): string {
  return `${group.channel}/${group.jobFunction}`;
}

function truncate(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1)}…`;
}
