import type { Logger } from 'pino';
import { z } from 'zod';
import {
  baseSourceFields,
  describeError,
  parseSourceConfig,
  resolveIntervalMs,
  type SampleOrigin,
} from './common.js';
import { JobQueueSampleBuilder } from './job-queue-samples.js';
import {
  ODOO_GROUP_METHODS,
  readOdooJobQueue,
  type OdooGroupMethod,
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
  DEFAULT_ENQUEUED_STUCK_AFTER_SECONDS,
  DEFAULT_MAX_FAILURES_PER_POLL,
  DEFAULT_STARTED_STUCK_AFTER_SECONDS,
} from './queue-job.js';
import type { LagSource, PollResult } from './types.js';

export const ODOO_API_SOURCE_KIND = 'odoo_api';
export const DEFAULT_ODOO_API_POLL_INTERVAL_MS = 30_000;
export const DEFAULT_ODOO_API_TIMEOUT_MS = 10_000;
/** Odoo model of the OCA queue_job addon. */
export const DEFAULT_ODOO_JOB_MODEL = 'queue.job';

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
  readonly #client: OdooModelClient;
  readonly #logger: Logger | undefined;
  readonly #groupMethod: OdooGroupMethod;
  readonly #samples: JobQueueSampleBuilder;
  #accessDenied = false;

  constructor(config: OdooApiSourceConfig, deps: OdooApiSourceDeps = {}) {
    this.#config = config;
    this.name = config.name;
    this.integration = config.integration;
    this.workflow = config.workflow ?? '';
    this.intervalMs = resolveIntervalMs(config, DEFAULT_ODOO_API_POLL_INTERVAL_MS);
    const origin: SampleOrigin = { integration: config.integration, source: config.name, sourceKind: ODOO_API_SOURCE_KIND };
    this.#samples = new JobQueueSampleBuilder(origin, this.workflow);
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
      return { samples: this.#samples.buildDownSamples(now, detail), failures: [] };
    }
    if (this.#accessDenied) {
      this.#accessDenied = false;
      this.#logger?.info({ source: this.name, url: this.#config.url }, 'odoo access restored');
    }
    const clockAttributes = { clock: snapshot.clockSource, protocol: this.#config.protocol };
    const samples = this.#samples.buildSamples(now, snapshot.groups, clockAttributes);
    const failures = snapshot.failures.map((job) => this.#samples.buildFailure(now, job));
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

  /** Removes the API key from text that came back from the server, in case an error echoes it. */
  #redact(text: string): string {
    return text.split(this.#config.apiKey).join('***');
  }
}
