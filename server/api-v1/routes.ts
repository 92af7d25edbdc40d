import type { ClickHouseClient } from '@clickhouse/client';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Decision, DecisionChannel, DecisionOutcome, ProposalStatus, UserView } from '../../remediation/contract.js';
import { DECIDING_ROLES } from '../../remediation/policy.js';
import { findPresentedToken, hasScope, requireScope, type ApiScope, type ApiToken } from '../auth.js';
import { ApiError } from '../errors.js';
import { describeValidation, type ValidationIssue } from '../validation.js';
import { listOpenIncidents } from '../incidents.js';
import {
  AUTH_ERROR_REPLIES,
  BODY_ERROR_REPLIES,
  decisionHeaders,
  proposalIdParams,
  ref,
  SHARED_SCHEMAS,
  VALIDATION_REPLY,
} from './schemas.js';
import {
  classifyRefusal,
  PROPOSAL_STATUSES,
  proposalNotFoundDetail,
  toAuditJson,
  toProposalJson,
  type RemediationAccess,
} from './views.js';

/** Path prefix of the remediation API. */
export const API_V1_PREFIX = '/api/v1';

/** Requests one token may send per window when the configuration sets no limit. */
export const DEFAULT_RATE_LIMIT = { max: 300, windowMs: 60_000 } as const;

export interface ApiV1Options {
  client: ClickHouseClient;
  tokens: readonly ApiToken[];
  /** The remediation layer; without it the proposal and audit routes reply 503. */
  remediation?: RemediationAccess;
  /** Requests allowed per token (or per client address, for requests without a known token) in each window. */
  rateLimit?: { max: number; windowMs: number };
}

const bearerSecurity = [{ bearerAuth: [] }];

/**
 * Registers the remediation API: incidents, proposals and their decisions,
 * the audit log and the caller's identity. Register it with the prefix
 * {@link API_V1_PREFIX}. Every route checks the token's scope first, and
 * every decision goes through `ProposalDecider.decide` as the user the token
 * is bound to, so the approval policy, not the API, decides whether that
 * user may approve.
 */
export async function apiV1Routes(v1: FastifyInstance, options: ApiV1Options): Promise<void> {
  for (const [id, schema] of Object.entries(SHARED_SCHEMAS)) v1.addSchema({ $id: id, ...schema });
  const limit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
  await v1.register(rateLimit, {
    // Each route runs the limiter itself, ahead of the token check, so guessing tokens is limited too.
    global: false,
    max: limit.max,
    timeWindow: limit.windowMs,
    keyGenerator: (request) => rateLimitKey(request, options.tokens),
    errorResponseBuilder: (_request, context) =>
      new ApiError('API_ERR_RATE_LIMITED', `the limit is ${context.max} requests per window; retry in ${context.after}`),
  });
  registerRoutes(v1, options);
}

function registerRoutes(v1: FastifyInstance, options: ApiV1Options): void {
  const { tokens } = options;
  const remediation = () => {
    if (!options.remediation) {
      throw new ApiError('API_ERR_REMEDIATION_UNAVAILABLE', 'start syncwatch with the remediation layer enabled');
    }
    return options.remediation;
  };
  // The scope is checked before the body is parsed, so a client without a valid token learns nothing from parse errors.
  const limiter = v1.rateLimit();
  const scopeHook = (scope: ApiScope) => [
    limiter,
    async (request: FastifyRequest) => void requireScope(request, tokens, scope),
  ];

  v1.get(
    '/me',
    {
      onRequest: scopeHook('read'),
      schema: {
        operationId: 'getMe',
        summary: 'The token, its user and what it may do',
        tags: ['identity'],
        security: bearerSecurity,
        response: {
          200: {
            type: 'object',
            required: ['token', 'user', 'scopes', 'permissions'],
            properties: {
              token: { type: 'string', description: 'configured name of the token, never its value' },
              user: { type: 'string' },
              role: { type: 'string', nullable: true, description: 'the user\'s role, or null when the remediation layer is not running' },
              scopes: { type: 'array', items: { type: 'string' } },
              permissions: {
                type: 'object',
                required: ['read', 'decide', 'audit'],
                properties: {
                  read: { type: 'boolean' },
                  decide: { type: 'boolean', description: 'token has the approve scope and the user\'s role may approve' },
                  audit: { type: 'boolean' },
                },
              },
            },
          },
          ...AUTH_ERROR_REPLIES,
        },
      },
    },
    async (request) => {
      const token = requireScope(request, tokens, 'read');
      const user = options.remediation ? await findTokenUser(options.remediation, token) : undefined;
      return {
        token: token.name,
        user: token.user,
        role: user?.role ?? null,
        scopes: token.scopes,
        permissions: {
          read: true,
          decide: hasScope(token, 'approve') && user !== undefined && DECIDING_ROLES.has(user.role),
          audit: hasScope(token, 'admin'),
        },
      };
    },
  );

  v1.get(
    '/incidents',
    {
      onRequest: scopeHook('read'),
      schema: {
        operationId: 'listIncidents',
        summary: 'Open incidents, newest first',
        tags: ['incidents'],
        security: bearerSecurity,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        },
        response: {
          200: {
            type: 'object',
            required: ['incidents'],
            properties: {
              incidents: { type: 'array', items: ref('Incident') },
              note: { type: 'string', description: 'why the list is empty when the store has no incidents table' },
            },
          },
          ...AUTH_ERROR_REPLIES,
          ...VALIDATION_REPLY,
        },
      },
    },
    async (request) => {
      const { limit } = request.query as { limit: number };
      return listOpenIncidents(options.client, limit);
    },
  );

  v1.get(
    '/proposals',
    {
      onRequest: scopeHook('read'),
      schema: {
        operationId: 'listProposals',
        summary: 'Remediation proposals, optionally of one status',
        tags: ['proposals'],
        security: bearerSecurity,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { status: { type: 'string', enum: PROPOSAL_STATUSES } },
        },
        response: {
          200: { type: 'object', required: ['proposals'], properties: { proposals: { type: 'array', items: ref('Proposal') } } },
          ...AUTH_ERROR_REPLIES,
          ...VALIDATION_REPLY,
          503: { description: 'the remediation layer is not running', ...ref('Error') },
        },
      },
    },
    async (request) => {
      const { status } = request.query as { status?: ProposalStatus };
      const proposals = await remediation().listProposals(status ? { status } : undefined);
      return { proposals: proposals.map(toProposalJson) };
    },
  );

  v1.get(
    '/proposals/:id',
    {
      onRequest: scopeHook('read'),
      schema: {
        operationId: 'getProposal',
        summary: 'One proposal with its audit trail',
        tags: ['proposals'],
        security: bearerSecurity,
        params: proposalIdParams,
        response: {
          200: {
            type: 'object',
            required: ['proposal', 'audit'],
            properties: { proposal: ref('Proposal'), audit: { type: 'array', items: ref('AuditEntry') } },
          },
          ...AUTH_ERROR_REPLIES,
          ...VALIDATION_REPLY,
          404: { description: 'no proposal has this id', ...ref('Error') },
          503: { description: 'the remediation layer is not running', ...ref('Error') },
        },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const proposal = await remediation().getProposal(id);
      if (proposal === undefined) throw new ApiError('API_ERR_PROPOSAL_NOT_FOUND', proposalNotFoundDetail(id));
      const audit = await remediation().listAudit({ proposalId: id });
      return { proposal: toProposalJson(proposal), audit: audit.map(toAuditJson) };
    },
  );

  const decisionReplies = {
    200: {
      description: 'the decision was recorded, and `outcome.status` tells what happened next',
      type: 'object',
      required: ['outcome'],
      properties: { outcome: ref('DecisionOutcome'), proposal: ref('Proposal') },
    },
    ...AUTH_ERROR_REPLIES,
    ...BODY_ERROR_REPLIES,
    403: { description: 'the token lacks the approve scope, or the approval policy refused this user', ...ref('Error') },
    404: { description: 'no proposal has this id', ...ref('Error') },
    409: {
      description:
        'the proposal can no longer take this decision, or the Idempotency-Key was used for another request (API_ERR_IDEMPOTENCY_CONFLICT)',
      ...ref('Error'),
    },
    410: { description: 'the proposal expired', ...ref('Error') },
    422: { description: 'the request does not match the schema or contains NUL; audited as a refused decision', ...ref('Error') },
    503: { description: 'the remediation layer is not running', ...ref('Error') },
  };

  /**
   * Audits a decision request that the API refused before the remediation
   * layer saw it. A failure to audit is logged and does not replace the
   * refusal the client gets.
   */
  const auditRefusal = async (request: FastifyRequest, decision: Decision, actor: string, error: ApiError) => {
    if (!options.remediation) return;
    const { id } = request.params as { id?: string };
    try {
      await options.remediation.decide({
        proposalId: auditText(id ?? ''),
        decision,
        userName: actor,
        channel: declaredChannel(request),
        refusal: { code: error.code, message: auditText(error.message) },
      });
    } catch (auditError) {
      request.log.error({ err: auditError, code: error.code, actor }, 'failed to audit a rejected decision request');
    }
  };

  /**
   * Checks the approve scope on a decision route. A known token without the
   * scope is audited as a refused decision, with `token:<name>` as the actor
   * because such a token may have no user. The route's rate limiter runs
   * first, so one token cannot write refusals faster than its limit.
   */
  const decisionScopeHook = (decision: Decision) => [
    limiter,
    async (request: FastifyRequest) => {
      try {
        requireScope(request, tokens, 'approve');
      } catch (error) {
        const token = findPresentedToken(request, tokens);
        if (error instanceof ApiError && error.code === 'API_ERR_FORBIDDEN_SCOPE' && token !== undefined) {
          await auditRefusal(request, decision, `token:${token.name}`, error);
        }
        throw error;
      }
    },
  ];

  const decide = async (request: FastifyRequest, decision: Decision) => {
    const token = requireScope(request, tokens, 'approve');
    const access = remediation();
    if (token.user === undefined) {
      throw new ApiError('API_ERR_UNKNOWN_USER', `token "${token.name}" has no user; add user: <name> to it in api.tokens`);
    }
    // Decision routes attach schema failures instead of throwing them, so that they are audited like other refusals.
    const invalid = request.validationError as (Error & { validation?: ValidationIssue[]; validationContext?: string }) | undefined;
    if (invalid !== undefined) {
      const detail = invalid.validation ? describeValidation(invalid.validationContext ?? 'request', invalid.validation) : invalid.message;
      const error = new ApiError('API_ERR_VALIDATION', detail);
      await auditRefusal(request, decision, token.user, error);
      throw error;
    }

    const { id } = request.params as { id: string };
    const reason = decision === 'reject' ? (request.body as { reason: string }).reason.trim() : undefined;
    const headers = request.headers as { 'idempotency-key'?: string };
    // Unknown proposals and users are refused by the remediation layer, which audits every refusal.
    const outcome: DecisionOutcome = await access.decide({
      proposalId: id,
      decision,
      userName: token.user,
      channel: declaredChannel(request),
      reason,
      idempotencyKey: headers['idempotency-key'],
    });
    request.log.info(
      { proposalId: id, decision, user: token.user, token: token.name, status: outcome.status, code: outcome.code },
      'proposal decision',
    );
    if (outcome.status === 'refused') throw classifyRefusal(outcome);
    const proposal = await access.getProposal(id);
    return { outcome, proposal: proposal ? toProposalJson(proposal) : undefined };
  };

  v1.post(
    '/proposals/:id/approve',
    {
      onRequest: decisionScopeHook('approve'),
      attachValidation: true,
      // An approval carries nothing, so a request without a body counts as `{}`.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        operationId: 'approveProposal',
        summary: 'Approve a proposal as the token\'s user',
        description:
          'Runs the approval policy for the token\'s user. When the proposal has all the approvals it needs, ' +
          'execution starts and `outcome.status` is `executing` or, for fast actions, `executed`. ' +
          'The body is `{}`, and a request without a body is taken as `{}`.',
        tags: ['proposals'],
        security: bearerSecurity,
        params: proposalIdParams,
        headers: decisionHeaders,
        body: { type: 'object', additionalProperties: false, properties: {} },
        response: decisionReplies,
      },
    },
    async (request) => decide(request, 'approve'),
  );

  v1.post(
    '/proposals/:id/reject',
    {
      onRequest: decisionScopeHook('reject'),
      attachValidation: true,
      schema: {
        operationId: 'rejectProposal',
        summary: 'Reject a proposal with a reason',
        tags: ['proposals'],
        security: bearerSecurity,
        params: proposalIdParams,
        headers: decisionHeaders,
        body: {
          type: 'object',
          required: ['reason'],
          additionalProperties: false,
          properties: { reason: { type: 'string', minLength: 1, maxLength: 2000, pattern: '\\S' } },
        },
        response: decisionReplies,
      },
    },
    async (request) => decide(request, 'reject'),
  );

  v1.get(
    '/audit',
    {
      onRequest: scopeHook('admin'),
      schema: {
        operationId: 'listAudit',
        summary: 'The remediation audit log, newest first',
        description:
          'Returns at most `limit` entries in descending `seq` order. To read further back, send the `nextBefore` ' +
          'of the previous page as `before`; the last page has no `nextBefore`.',
        tags: ['audit'],
        security: bearerSecurity,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            proposalId: { type: 'string', minLength: 1, maxLength: 200 },
            before: { type: 'integer', minimum: 1, description: 'only entries whose seq is below this one' },
            limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 200 },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['entries'],
            properties: {
              entries: { type: 'array', items: ref('AuditEntry') },
              nextBefore: { type: 'integer', description: 'the `before` of the next, older page; absent on the last page' },
            },
          },
          ...AUTH_ERROR_REPLIES,
          ...VALIDATION_REPLY,
          503: { description: 'the remediation layer is not running', ...ref('Error') },
        },
      },
    },
    async (request) => {
      const { proposalId, before, limit } = request.query as { proposalId?: string; before?: number; limit: number };
      const entries = await remediation().listAudit({ proposalId, before, limit, newestFirst: true });
      const oldest = entries.at(-1);
      // A full page may have older entries behind it; the next request finds out.
      const nextBefore = entries.length === limit && oldest !== undefined ? oldest.seq : undefined;
      return { entries: entries.map(toAuditJson), nextBefore };
    },
  );
}

/**
 * Returns the channel the client declared in X-Syncwatch-Channel, or `api`.
 * The header is a label the client chooses, not a proof of where the
 * request came from.
 */
function declaredChannel(request: FastifyRequest): DecisionChannel {
  return request.headers['x-syncwatch-channel'] === 'console' ? 'console' : 'api';
}

/** Maximum characters of a request value copied into an audit row. */
const MAX_AUDIT_TEXT_LENGTH = 2_000;

/** Makes request text storable in PostgreSQL: NUL becomes the six characters `\u0000`, and the text is shortened. */
function auditText(text: string): string {
  return text.replace(/\u0000/g, '\\u0000').slice(0, MAX_AUDIT_TEXT_LENGTH);
}

async function findTokenUser(remediation: RemediationAccess, token: ApiToken): Promise<UserView | undefined> {
  return token.user === undefined ? undefined : remediation.findUser(token.user);
}

/**
 * Returns the rate-limit bucket of a request: the configured token's name, or
 * the client address when the request carries no known token, so that made-up
 * tokens cannot each open a fresh bucket.
 */
function rateLimitKey(request: FastifyRequest, tokens: readonly ApiToken[]): string {
  const token = findPresentedToken(request, tokens);
  return token ? `token:${token.name}` : `address:${request.ip}`;
}
