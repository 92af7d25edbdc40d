/**
 * JSON schemas of the remediation API's requests and replies. Fastify
 * validates requests against them and @fastify/swagger turns them into the
 * OpenAPI document, so the document and the checks cannot drift apart.
 */
import { PROPOSAL_STATUSES } from './views.js';

const isoTime = { type: 'string', format: 'date-time' } as const;

export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'stable error code, such as API_ERR_FORBIDDEN_SCOPE' },
        message: { type: 'string' },
        remediationCode: { type: 'string', description: 'code the remediation layer gave when it refused a decision' },
        outcome: { $ref: 'DecisionOutcome#' },
      },
    },
  },
} as const;

const proposalTargetSchema = {
  type: 'object',
  required: ['kind', 'ref', 'state'],
  properties: {
    kind: { type: 'string', description: 'kind of system object, such as queue_job or dead_letter_queue' },
    ref: { type: 'string' },
    detail: { type: 'string' },
    state: { type: 'string', enum: ['pending', 'done', 'failed', 'skipped'] },
  },
} as const;

export const proposalSchema = {
  type: 'object',
  required: [
    'id',
    'incidentId',
    'action',
    'integration',
    'rationale',
    'targets',
    'blastRadius',
    'duplicateRisk',
    'status',
    'requiredApprovals',
    'approvals',
    'createdAt',
    'expiresAt',
  ],
  properties: {
    id: { type: 'string' },
    incidentId: { type: 'string' },
    action: { type: 'string', description: 'remediation action, such as requeue_failed_jobs' },
    integration: { type: 'string' },
    workflow: { type: 'string' },
    plant: { type: 'string' },
    rationale: { type: 'string' },
    targets: { type: 'array', items: proposalTargetSchema },
    blastRadius: {
      type: 'object',
      required: ['events', 'orders', 'plants'],
      properties: {
        events: { type: 'integer' },
        orders: { type: 'integer' },
        plants: { type: 'array', items: { type: 'string' } },
      },
    },
    duplicateRisk: { type: 'string', description: 'what a retry could send twice, in words' },
    status: { type: 'string', enum: PROPOSAL_STATUSES },
    requiredApprovals: { type: 'integer' },
    approvals: {
      type: 'array',
      items: { type: 'object', required: ['userName', 'at'], properties: { userName: { type: 'string' }, at: isoTime } },
    },
    rejection: {
      type: 'object',
      required: ['userName', 'reason', 'at'],
      properties: { userName: { type: 'string' }, reason: { type: 'string' }, at: isoTime },
    },
    createdAt: isoTime,
    expiresAt: isoTime,
    result: { type: 'string', description: 'execution result in one line, once there is one' },
  },
} as const;

export const auditEntrySchema = {
  type: 'object',
  required: ['seq', 'at', 'actor', 'channel', 'event', 'detail'],
  properties: {
    seq: { type: 'integer' },
    at: isoTime,
    actor: { type: 'string' },
    channel: { type: 'string', enum: ['api', 'console', 'slack', 'system'] },
    event: { type: 'string' },
    proposalId: { type: 'string' },
    code: { type: 'string' },
    detail: { type: 'string' },
  },
} as const;

export const decisionOutcomeSchema = {
  type: 'object',
  required: ['status', 'message', 'proposalId'],
  properties: {
    status: {
      type: 'string',
      enum: ['awaiting_second_approval', 'executing', 'executed', 'failed', 'rejected', 'refused'],
    },
    code: { type: 'string' },
    message: { type: 'string' },
    proposalId: { type: 'string' },
    result: { type: 'string' },
  },
} as const;

const incidentSchema = {
  type: 'object',
  required: ['id', 'state', 'title'],
  properties: {
    id: { type: 'string' },
    state: { type: 'string' },
    severity: { type: 'string' },
    kind: { type: 'string' },
    title: { type: 'string' },
    explanation: { type: 'string' },
    integration: { type: 'string' },
    workflow: { type: 'string' },
    plant: { type: 'string' },
    openedAt: isoTime,
    updatedAt: isoTime,
  },
} as const;

/**
 * Schemas the routes refer to by `$ref`. They are added to Fastify under
 * their key as `$id`, and the OpenAPI document lists them under
 * `components.schemas`.
 */
export const SHARED_SCHEMAS = {
  Error: errorSchema,
  Proposal: proposalSchema,
  AuditEntry: auditEntrySchema,
  DecisionOutcome: decisionOutcomeSchema,
  Incident: incidentSchema,
} as const;

export const ref = (name: keyof typeof SHARED_SCHEMAS) => ({ $ref: `${name}#` }) as const;

/** Replies every authenticated route may give besides its success reply. */
export const AUTH_ERROR_REPLIES = {
  401: { description: 'missing or unknown bearer token', ...ref('Error') },
  403: { description: 'the token lacks the scope the route requires', ...ref('Error') },
  429: { description: 'too many requests for this token; wait for the seconds in Retry-After', ...ref('Error') },
} as const;

/** Reply of every route with a querystring, path parameter or header schema. */
export const VALIDATION_REPLY = {
  422: {
    description: 'a parameter does not match the schema or contains NUL; the message names the field, the expected and the received value',
    ...ref('Error'),
  },
} as const;

/** Replies of routes that read a JSON body, all with code API_ERR_INVALID_BODY. */
export const BODY_ERROR_REPLIES = {
  400: { description: 'the body is not valid JSON', ...ref('Error') },
  413: { description: 'the body is larger than 1 MiB', ...ref('Error') },
  415: { description: 'the content type is neither application/json nor text/plain', ...ref('Error') },
} as const;

export const proposalIdParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

/**
 * Headers a decision may carry. A retry with the same Idempotency-Key returns
 * the first outcome instead of deciding twice. Keys are scoped per user.
 */
export const decisionHeaders = {
  type: 'object',
  properties: {
    'idempotency-key': {
      type: 'string',
      pattern: '^[\\x21-\\x7e]{1,200}$',
      description:
        'client-chosen key of 1 to 200 printable ASCII characters, scoped to the token\'s user. The same key with the same ' +
        'request returns the first outcome; with another proposal, decision or reason it gets 409 API_ERR_IDEMPOTENCY_CONFLICT',
    },
    'x-syncwatch-channel': {
      type: 'string',
      enum: ['api', 'console'],
      description:
        'channel recorded in the audit log. It is a label the client declares, not proof of where the request came from: ' +
        'the console sends "console", and without the header the channel is "api"',
    },
  },
} as const;
