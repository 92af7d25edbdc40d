import { z } from 'zod';
import { durationSchema } from '../config/duration.js';
import { ROLES } from './contract.js';

/** How long a proposal waits for its approvals before it expires, in milliseconds (30 minutes). */
export const DEFAULT_PROPOSAL_TTL_MS = 30 * 60_000;
/** Delay of `retry_after_delay`, in milliseconds (5 minutes). */
export const DEFAULT_RETRY_DELAY_MS = 5 * 60_000;
/** Messages a dead-letter replay moves per AMQP transaction. */
export const DEFAULT_REPLAY_BATCH_SIZE = 25;
/** Blast radius above which a proposal needs two distinct approvers. */
export const DEFAULT_TWO_APPROVERS_ABOVE = { events: 100, orders: 20 } as const;

const nameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_.-]{0,62}$/, 'expected a lowercase name of letters, digits, "_", "." or "-", starting with a letter');

const userSchema = z.strictObject({
  name: nameSchema,
  role: z.enum(ROLES),
  /** Slack member id, such as `U024BE7LH`, that maps Slack decisions to this user. */
  slackUserId: z.string().min(1).optional(),
  /** Integrations whose proposals the user may decide; empty with `plants` empty means all. */
  integrations: z.array(z.string().min(1)).default([]),
  /** Plants whose proposals the user may decide; empty with `integrations` empty means all. */
  plants: z.array(z.string().min(1)).default([]),
});

export const ROUTE_KINDS = ['queue', 'endpoint', 'partner_connection'] as const;
export type RouteKind = (typeof ROUTE_KINDS)[number];

/** An alternate route a workflow may be switched to. */
const routeSchema = z.strictObject({
  workflow: nameSchema,
  name: nameSchema,
  kind: z.enum(ROUTE_KINDS),
  /** Queue name, endpoint URL or partner connection id. */
  target: z.string().min(1),
  description: z.string().optional(),
});

/**
 * Location of an integration's failed work: a queue_job table, a RabbitMQ
 * dead-letter queue or a NATS JetStream stream of dead letters. Retry and
 * replay proposals take their targets from these places.
 */
const failureQueueSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('queue_job'),
    integration: nameSchema,
    /** Table name, optionally schema-qualified. */
    table: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, 'expected "table" or "schema.table"').default('queue_job'),
    /** Job channel, such as `root.mes`; without it every channel of the table. */
    channel: z.string().min(1).optional(),
  }),
  z.strictObject({
    kind: z.literal('rabbitmq_dlq'),
    integration: nameSchema,
    /** The dead-letter queue. */
    queue: z.string().min(1),
    /** Queue to replay into when a message has no `x-first-death-queue` header. */
    returnQueue: z.string().min(1).optional(),
  }),
  z.strictObject({
    kind: z.literal('nats_dlq'),
    integration: nameSchema,
    /** JetStream stream holding the dead letters. */
    stream: z.string().min(1),
    /** Subject to republish to when a message has no `Nats-Original-Subject` header. */
    subject: z.string().min(1).optional(),
  }),
]);

const policySchema = z.strictObject({
  /** A proposal whose blast radius passes either limit needs two distinct approvers. */
  twoApproversAbove: z
    .strictObject({
      events: z.number().int().nonnegative().default(DEFAULT_TWO_APPROVERS_ABOVE.events),
      orders: z.number().int().nonnegative().default(DEFAULT_TWO_APPROVERS_ABOVE.orders),
    })
    .default({ ...DEFAULT_TWO_APPROVERS_ABOVE }),
  proposalTtl: durationSchema.default(DEFAULT_PROPOSAL_TTL_MS),
  retryDelay: durationSchema.default(DEFAULT_RETRY_DELAY_MS),
});

const executorsSchema = z.strictObject({
  /** Writable PostgreSQL URL of the Odoo database whose `queue_job` rows are requeued. */
  queueJob: z
    .strictObject({ url: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL') })
    .optional(),
  /** Odoo's external API, used for requeues instead of SQL when set. */
  odoo: z
    .strictObject({
      url: z.url(),
      protocol: z.enum(['jsonrpc', 'json2']).default('jsonrpc'),
      database: z.string().optional(),
      login: z.string().optional(),
      apiKey: z.string().min(1),
    })
    .optional(),
  rabbitmq: z
    .strictObject({
      url: z.string().regex(/^amqps?:\/\//, 'expected an amqp:// or amqps:// URL'),
      /** Messages a dead-letter replay moves per AMQP transaction. */
      batchSize: z.number().int().min(1).max(1_000).default(DEFAULT_REPLAY_BATCH_SIZE),
    })
    .optional(),
  nats: z.strictObject({ servers: z.array(z.string().min(1)).min(1) }).optional(),
});

/** The `remediation` section of `syncwatch.yaml`. */
export const remediationConfigSchema = z.strictObject({
  /** Control-plane PostgreSQL; without a URL an embedded PGlite database under `<store.dataDir>/control-plane` is used. */
  database: z.strictObject({ url: z.string().regex(/^postgres(ql)?:\/\//).optional() }).default({}),
  users: z.array(userSchema).default([]),
  policy: policySchema.default(policySchema.parse({})),
  routes: z.array(routeSchema).default([]),
  failureQueues: z.array(failureQueueSchema).default([]),
  executors: executorsSchema.default({}),
});

export type RemediationConfigInput = z.input<typeof remediationConfigSchema>;
export type RemediationConfig = z.output<typeof remediationConfigSchema>;
export type RemediationUserConfig = RemediationConfig['users'][number];
export type RouteConfig = RemediationConfig['routes'][number];
export type FailureQueueConfig = RemediationConfig['failureQueues'][number];

/** The parts of the whole configuration that remediation settings refer to. */
interface ReferencedNames {
  integrations: ReadonlyArray<{ name: string }>;
  workflows: ReadonlyArray<{ name: string }>;
  remediation: RemediationConfig;
}

/**
 * Reports remediation settings that name an unknown integration or
 * workflow, and users or Slack ids listed twice, as issues under
 * `remediation`.
 */
export function checkRemediationReferences(config: ReferencedNames, context: z.RefinementCtx): void {
  const integrations = new Set(config.integrations.map((integration) => integration.name));
  const workflows = new Set(config.workflows.map((workflow) => workflow.name));
  const { users, routes, failureQueues } = config.remediation;
  const report = (path: Array<string | number>, message: string) => context.addIssue({ code: 'custom', path: ['remediation', ...path], message });
  const seenUsers = new Set<string>();
  const seenSlackIds = new Set<string>();
  users.forEach((user, index) => {
    if (seenUsers.has(user.name)) report(['users', index, 'name'], `user "${user.name}" is listed twice; expected each name once`);
    seenUsers.add(user.name);
    if (user.slackUserId !== undefined) {
      if (seenSlackIds.has(user.slackUserId)) report(['users', index, 'slackUserId'], `Slack id "${user.slackUserId}" belongs to two users; expected one user per id`);
      seenSlackIds.add(user.slackUserId);
    }
    user.integrations.forEach((name, position) => {
      if (!integrations.has(name)) report(['users', index, 'integrations', position], unknown('integration', name, integrations));
    });
  });
  routes.forEach((route, index) => {
    if (!workflows.has(route.workflow)) report(['routes', index, 'workflow'], unknown('workflow', route.workflow, workflows));
  });
  failureQueues.forEach((queue, index) => {
    if (!integrations.has(queue.integration)) report(['failureQueues', index, 'integration'], unknown('integration', queue.integration, integrations));
  });
}

function unknown(kind: string, name: string, known: ReadonlySet<string>): string {
  const list = known.size === 0 ? 'none are configured' : [...known].join(', ');
  return `unknown ${kind} "${name}"; expected one of the names under ${kind}s: ${list}`;
}
