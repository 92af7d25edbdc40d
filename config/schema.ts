import { z } from 'zod';
import {
  natsJetstreamSourceConfigSchema,
  odooApiSourceConfigSchema,
  outboxSourceConfigSchema,
  prometheusSourceConfigSchema,
  httpProbeSourceConfigSchema,
  queueJobSourceConfigSchema,
  rabbitmqSourceConfigSchema,
  redisStreamsSourceConfigSchema,
} from '../collector/sources/index.js';
import { DEFAULT_MAX_BODY_BYTES } from '../collector/otlp/receiver.js';
import { alertsConfigSchema, DEFAULT_ALERTS_CONFIG } from '../alerts/config.js';
import { API_SCOPES } from '../server/auth.js';
import { DEFAULT_EXCEPTIONS_CONFIG, exceptionsConfigSchema } from '../analyzer/exceptions/config.js';
import { DEFAULT_PREDICTION_CONFIG, predictionConfigSchema } from '../analyzer/prediction/config.js';
import { DEFAULT_ANALYZER_INTERVAL_MS } from '../analyzer/loop.js';
import { durationSchema } from './duration.js';
import { checkRemediationReferences, remediationConfigSchema } from '../remediation/config.js';

/** Default OTLP/HTTP port, as the OTLP specification assigns it. */
export const DEFAULT_OTLP_PORT = 4318;
/** Default port of the query API and console. */
export const DEFAULT_API_PORT = 8318;

const nameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_.-]{0,62}$/, 'expected a lowercase name of letters, digits, "_", "." or "-", starting with a letter');

const listenSchema = (port: number) =>
  z.strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65_535).default(port),
  });

/**
 * A bearer token that may only send telemetry to the OTLP receiver. The
 * query API does not accept it, because API tokens come from `api.tokens`.
 */
const ingestTokenSchema = z.strictObject({
  name: nameSchema,
  token: z
    .string()
    .min(16, 'expected a token of at least 16 characters')
    .regex(/^\S*$/, 'expected a token without spaces, which clients could not send'),
  scopes: z.array(z.enum(['ingest'])).min(1).default(['ingest']),
});

/**
 * With no `tokens`, the receiver accepts every request and warns at start
 * when it listens on an address other than loopback. With tokens, every
 * request needs `Authorization: Bearer <token>`.
 */
const otlpSchema = listenSchema(DEFAULT_OTLP_PORT).extend({
  maxBodyBytes: z.number().int().positive().default(DEFAULT_MAX_BODY_BYTES),
  tokens: z.array(ingestTokenSchema).default([]),
});

/** Settings of the poll scheduler. Unset values keep the scheduler's defaults. */
const pollingSchema = z.strictObject({
  /** Time limit of one poll, for sources that set none. */
  timeout: durationSchema.optional(),
  /** Polls allowed at once across all sources. */
  maxConcurrentPolls: z.number().int().positive().optional(),
  /** Maximum delay between polls of a failing source. */
  maxBackoff: durationSchema.optional(),
  /** How long an entity that stopped being reported keeps its `series_disappeared` samples. */
  seriesRetention: durationSchema.optional(),
});

/**
 * A bearer token of the query and remediation API. `sql` runs analyst
 * queries. `read`, `approve` and `admin` open the remediation API and need a
 * `user`: the syncwatch user the token acts as, whose role the approval
 * policy checks.
 */
const apiTokenSchema = z
  .strictObject({
    name: nameSchema,
    token: z
      .string()
      .min(16, 'expected a token of at least 16 characters')
      .regex(/^\S*$/, 'expected a token without spaces, which clients could not send'),
    scopes: z.array(z.enum(API_SCOPES)).min(1).default(['sql']),
    user: z.string().min(1).max(128).optional(),
  })
  .superRefine((token, context) => {
    const remediationScopes = token.scopes.filter((scope) => scope !== 'sql');
    if (remediationScopes.length > 0 && token.user === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['user'],
        message: `scopes ${remediationScopes.join(', ')} act as a syncwatch user; add user: <name> to token "${token.name}"`,
      });
    }
  });

const apiSchema = listenSchema(DEFAULT_API_PORT).extend({
  tokens: z.array(apiTokenSchema).default([]),
  /** Requests one token may send to /api/v1 in each window. */
  rateLimit: z
    .strictObject({
      max: z.number().int().positive().default(300),
      window: durationSchema.default(60_000),
    })
    .default({ max: 300, window: 60_000 }),
});

const storeSchema = z.strictObject({
  /**
   * Directory of the embedded chDB store (unused when `url` or `CLICKHOUSE_URL`
   * is set), the ingest spool, the embedded control plane and the local API token.
   * Default: `SYNCWATCH_DATA_DIR`, or `./data`.
   */
  dataDir: z
    .string()
    .min(1)
    .default(() => process.env.SYNCWATCH_DATA_DIR?.trim() || './data'),
  url: z.url().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  database: z.string().optional(),
  /** ClickHouse cluster of one shard and several replicas; migrations then create replicated tables `ON CLUSTER`. */
  cluster: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a cluster name of letters, digits and "_", as in remote_servers')
    .optional(),
});

/** A connection between systems, such as Odoo and the MES of one plant. */
const integrationSchema = z.strictObject({
  name: nameSchema,
  systems: z.array(z.string().min(1)).min(1),
  description: z.string().optional(),
});

/** The canonical workflows and how fast each must complete. */
export const WORKFLOW_CRITICALITIES = ['critical', 'high', 'medium', 'low'] as const;
export const SYNC_MODES = ['real_time', 'near_real_time', 'batch'] as const;

const workflowSchema = z.strictObject({
  name: nameSchema,
  criticality: z.enum(WORKFLOW_CRITICALITIES),
  syncMode: z.enum(SYNC_MODES),
  integrations: z.array(nameSchema).default([]),
  objective: z
    .strictObject({
      percentile: z.number().gt(0).lt(100),
      within: durationSchema,
    })
    .optional(),
});

const sourceSchema = z.discriminatedUnion('kind', [
  rabbitmqSourceConfigSchema,
  queueJobSourceConfigSchema,
  httpProbeSourceConfigSchema,
  prometheusSourceConfigSchema,
  outboxSourceConfigSchema,
  natsJetstreamSourceConfigSchema,
  odooApiSourceConfigSchema,
  redisStreamsSourceConfigSchema,
]);

/** The whole of `syncwatch.yaml`. Unknown keys are rejected at every level. */
export const configSchema = z
  .strictObject({
    version: z.literal(1).default(1),
    store: storeSchema.prefault({}),
    collector: z
      .strictObject({ otlp: otlpSchema.default(otlpSchema.parse({})), polling: pollingSchema.default({}) })
      .default({ otlp: otlpSchema.parse({}), polling: {} }),
    api: apiSchema.default(apiSchema.parse({})),
    integrations: z.array(integrationSchema).default([]),
    workflows: z.array(workflowSchema).default([]),
    sources: z.array(sourceSchema).default([]),
    remediation: remediationConfigSchema.default(remediationConfigSchema.parse({})),
    alerts: alertsConfigSchema.default(DEFAULT_ALERTS_CONFIG),
    analyzer: z
      .strictObject({
        /** Time between analyzer cycles, in milliseconds. */
        interval: durationSchema.default(DEFAULT_ANALYZER_INTERVAL_MS),
        exceptions: exceptionsConfigSchema.default(DEFAULT_EXCEPTIONS_CONFIG),
        prediction: predictionConfigSchema.default(DEFAULT_PREDICTION_CONFIG),
      })
      .default({
        interval: DEFAULT_ANALYZER_INTERVAL_MS,
        exceptions: DEFAULT_EXCEPTIONS_CONFIG,
        prediction: DEFAULT_PREDICTION_CONFIG,
      }),
  })
  .superRefine((config, context) => {
    checkUniqueNames(config.integrations, ['integrations'], context);
    checkUniqueNames(config.workflows, ['workflows'], context);
    checkUniqueNames(config.sources, ['sources'], context);
    checkUniqueNames(config.collector.otlp.tokens, ['collector', 'otlp', 'tokens'], context);
    checkUniqueNames(config.api.tokens, ['api', 'tokens'], context);
    checkSeparateTokens(config, context);
    checkUniqueApiTokens(config.api.tokens, context);
    checkTokenUsers(config, context);
    checkRemediationReferences(config, context);
    const integrations = new Set(config.integrations.map((integration) => integration.name));
    const workflows = new Set(config.workflows.map((workflow) => workflow.name));
    config.workflows.forEach((workflow, index) => {
      workflow.integrations.forEach((name, position) => {
        if (!integrations.has(name)) {
          context.addIssue({
            code: 'custom',
            path: ['workflows', index, 'integrations', position],
            message: `unknown integration "${name}"; expected one of the names under integrations: ${listOrNone(integrations)}`,
          });
        }
      });
    });
    config.sources.forEach((source, index) => {
      if (!integrations.has(source.integration)) {
        context.addIssue({
          code: 'custom',
          path: ['sources', index, 'integration'],
          message: `unknown integration "${source.integration}"; expected one of the names under integrations: ${listOrNone(integrations)}`,
        });
      }
      // Sources name workflows at their top level and per queue, stream or target.
      for (const reference of findWorkflowReferences(source, ['sources', index])) {
        if (!workflows.has(reference.name)) {
          context.addIssue({
            code: 'custom',
            path: reference.path,
            message: `unknown workflow "${reference.name}"; expected one of the names under workflows: ${listOrNone(workflows)}`,
          });
        }
      }
    });
  });

export type SyncwatchConfig = z.output<typeof configSchema>;
export type SourceConfig = SyncwatchConfig['sources'][number];

function checkUniqueNames(items: Array<{ name: string }>, path: string[], context: z.RefinementCtx): void {
  const seen = new Set<string>();
  items.forEach((item, index) => {
    if (seen.has(item.name)) {
      context.addIssue({
        code: 'custom',
        path: [...path, index, 'name'],
        message: `duplicate name "${item.name}"; each entry under ${path.join('.')} needs its own name`,
      });
    }
    seen.add(item.name);
  });
}

interface TokenLists {
  collector: { otlp: { tokens: Array<{ token: string }> } };
  api: { tokens: Array<{ token: string }> };
}

/** Rejects a token value used both for ingest and for the API, because it would carry both scopes. */
function checkSeparateTokens(config: TokenLists, context: z.RefinementCtx): void {
  const apiTokens = new Set(config.api.tokens.map((entry) => entry.token));
  config.collector.otlp.tokens.forEach((entry, index) => {
    if (apiTokens.has(entry.token)) {
      context.addIssue({
        code: 'custom',
        path: ['collector', 'otlp', 'tokens', index, 'token'],
        message: 'this token is also an API token, so it would both ingest and query. Give each its own token',
      });
    }
  });
}

/**
 * Rejects an API token value listed twice. The server matches the first
 * entry, so the second would silently act with the first one's scopes and user.
 */
function checkUniqueApiTokens(tokens: Array<{ name: string; token: string }>, context: z.RefinementCtx): void {
  const firstByValue = new Map<string, string>();
  tokens.forEach((entry, index) => {
    const first = firstByValue.get(entry.token);
    if (first !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['api', 'tokens', index, 'token'],
        message: `token "${entry.name}" has the same value as token "${first}"; give each token its own value`,
      });
      return;
    }
    firstByValue.set(entry.token, entry.name);
  });
}

/** Rejects an API token bound to a user that `remediation.users` does not list, because the policy would refuse every decision. */
function checkTokenUsers(
  config: { api: { tokens: Array<{ name: string; user?: string | undefined }> }; remediation: { users: Array<{ name: string }> } },
  context: z.RefinementCtx,
): void {
  const users = new Set(config.remediation.users.map((user) => user.name));
  config.api.tokens.forEach((entry, index) => {
    if (entry.user === undefined || users.has(entry.user)) return;
    context.addIssue({
      code: 'custom',
      path: ['api', 'tokens', index, 'user'],
      message: `token "${entry.name}" acts as user "${entry.user}", which remediation.users does not list; add the user there with a role, or use one of: ${listOrNone(users)}`,
    });
  });
}

/** Returns every string-valued `workflow` key inside `value`, with its path. */
function findWorkflowReferences(value: unknown, path: PropertyKey[]): Array<{ name: string; path: PropertyKey[] }> {
  if (Array.isArray(value)) return value.flatMap((item, index) => findWorkflowReferences(item, [...path, index]));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) =>
    key === 'workflow' && typeof item === 'string'
      ? [{ name: item, path: [...path, key] }]
      : findWorkflowReferences(item, [...path, key]),
  );
}

function listOrNone(names: Set<string>): string {
  return names.size === 0 ? '(none declared)' : [...names].join(', ');
}
