import type { KnownBlock } from '@slack/web-api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Decision, DecisionOutcome, ProposalDecider, RemediationReader } from '../../remediation/contract.js';
import type { Logger } from '../../server/logger.js';
import { createGroupedSecurityAudit, DEFAULT_AUDIT_GROUP_WINDOW_MS, type SecurityAuditCode, type SecurityAuditLog } from '../security-audit.js';
import { APPROVE_ACTION_ID, escapeText, formatTime, PROPOSAL_BLOCK_PREFIX, REJECT_ACTION_ID } from './blocks.js';
import type { SlackApi } from './client.js';
import { DEFAULT_MAX_REJECTIONS_PER_WINDOW, DEFAULT_REJECTION_WINDOW_MS, RejectionLimiter } from './rejection-limit.js';
import { SeenSignatures } from './seen-signatures.js';
import { verifySlackSignature } from './signature.js';

export const SLACK_INTERACTIVITY_PATH = '/slack/interactivity';

/** Slack sends interactive payloads of a few kilobytes; larger bodies are not Slack's. */
const MAX_BODY_BYTES = 256 * 1024;

export interface SlackInteractivityOptions {
  signingSecret: string;
  decider: ProposalDecider;
  audit: SecurityAuditLog;
  api: SlackApi;
  logger: Logger;
  /** Called after a final decision, so the alert sink stops offering the proposal's buttons. */
  onDecision?(proposalId: string, summary: string): void;
  limits?: SlackInteractivityLimits;
  /** File that keeps the signatures of recent requests across restarts; in memory only without it. */
  seenSignaturesPath?: string;
  /** Reads a proposal's status after approval, so the message shows the execution result; without it the message stays at "executing". */
  proposals?: Pick<RemediationReader, 'getProposal'>;
  executionWait?: ExecutionWait;
  now?: () => Date;
}

/** Polling schedule for the execution result of a proposal approved in Slack. */
export interface ExecutionWait {
  /** First wait between two reads, in milliseconds; later waits grow by half up to 30 s. 2 s by default. */
  pollMs?: number;
  /** Time after the approval at which the message stops waiting for the result, in milliseconds; 30 minutes by default. */
  maxWaitMs?: number;
}

const DEFAULT_EXECUTION_POLL_MS = 2_000;
const MAX_EXECUTION_POLL_MS = 30_000;
const DEFAULT_EXECUTION_MAX_WAIT_MS = 30 * 60_000;

/** Limits on rejected requests, so that senders without the signing secret cannot flood the audit log. */
export interface SlackInteractivityLimits {
  /** Maximum rejected requests per address and window before the route returns 429; 30 by default. */
  maxRejectionsPerWindow?: number;
  /** Length of the rate-limit window in milliseconds; one minute by default. */
  windowMs?: number;
  /** Time during which repeats of one rejection by one address are counted, not written; one minute by default, 0 writes each. */
  auditGroupWindowMs?: number;
}

/** The parts of a `block_actions` payload this endpoint reads. */
interface BlockActionsPayload {
  type: 'block_actions';
  user: { id: string; username?: string };
  channel?: { id: string };
  container?: { channel_id?: string; message_ts?: string; thread_ts?: string };
  message?: { ts?: string; text?: string; blocks?: KnownBlock[]; thread_ts?: string };
  actions: Array<{ action_id: string; block_id?: string; value?: string; action_ts?: string }>;
}

interface ProposalAction {
  proposalId: string;
  decision: Decision;
  actionTs: string;
}

/**
 * Registers `POST /slack/interactivity`, where Slack sends button clicks. The
 * route verifies the signature on the raw body, returns 200 at once (Slack
 * shows an error after three seconds), and then decides through the
 * remediation layer and rewrites the message. Requests rejected before the
 * decision are written to the security audit log.
 */
export function registerSlackInteractivity(app: FastifyInstance, options: SlackInteractivityOptions): void {
  const logger = options.logger.child({ component: 'slack-interactivity' });
  const now = options.now ?? (() => new Date());
  const seenSignatures = new SeenSignatures(options.seenSignaturesPath, logger, now().getTime());
  const stopped = new AbortController();
  const limiter = new RejectionLimiter(
    options.limits?.maxRejectionsPerWindow ?? DEFAULT_MAX_REJECTIONS_PER_WINDOW,
    options.limits?.windowMs ?? DEFAULT_REJECTION_WINDOW_MS,
  );
  const auditLog = createGroupedSecurityAudit(options.audit, {
    windowMs: options.limits?.auditGroupWindowMs ?? DEFAULT_AUDIT_GROUP_WINDOW_MS,
    now,
    onError: (error) => logger.error({ err: error }, 'writing a security audit summary failed'),
  });

  const audit = async (code: SecurityAuditCode, request: FastifyRequest, detail: string, actor = 'unknown', proposalId?: string) => {
    try {
      await auditLog.record({ at: now(), channel: 'slack', code, actor, detail, remoteAddress: request.ip, ...(proposalId ? { proposalId } : {}) });
    } catch (error) {
      logger.error({ err: error, code }, 'writing the security audit entry failed');
    }
  };

  const reject = async (reply: FastifyReply, request: FastifyRequest, status: number, code: SecurityAuditCode, detail: string) => {
    limiter.recordRejection(request.ip, now().getTime());
    logger.warn({ code, remoteAddress: request.ip, detail }, 'Slack interactivity request rejected');
    await audit(code, request, detail);
    return reply.status(status).send({ error: { code, message: detail } });
  };

  void app.register(async (scope) => {
    scope.addHook('onClose', async () => {
      stopped.abort();
      await auditLog.close().catch((error: unknown) => logger.error({ err: error }, 'writing the pending security audit counts failed'));
    });

    // Runs before the body is read, so a limited sender costs no parsing or HMAC.
    scope.addHook('onRequest', async (request, reply) => {
      if (request.routeOptions.url !== SLACK_INTERACTIVITY_PATH) return;
      const retryAfter = limiter.retryAfterSeconds(request.ip, now().getTime());
      if (retryAfter === undefined) return;
      const detail = `too many rejected requests from this address; retry after ${retryAfter} s`;
      await audit('ALERTS_SLACK_RATE_LIMITED', request, detail);
      return reply.status(429).header('retry-after', String(retryAfter)).send({ error: { code: 'ALERTS_SLACK_RATE_LIMITED', message: detail } });
    });

    // The signature covers the bytes as sent, so the body stays a Buffer here.
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_request, body, done) => {
      done(null, body);
    });

    // Hidden from the OpenAPI document, because Slack, not API clients, calls this route.
    scope.post(SLACK_INTERACTIVITY_PATH, { schema: { hide: true } }, async (request, reply) => {
      const rawBody = request.body;
      if (!Buffer.isBuffer(rawBody)) {
        return reject(reply, request, 415, 'ALERTS_SLACK_PAYLOAD_INVALID', `expected application/x-www-form-urlencoded, received ${String(request.headers['content-type'])}`);
      }
      const check = verifySlackSignature({
        signingSecret: options.signingSecret,
        rawBody,
        timestampHeader: headerValue(request, 'x-slack-request-timestamp'),
        signatureHeader: headerValue(request, 'x-slack-signature'),
        now: now(),
      });
      if (!check.ok) return reject(reply, request, 401, check.code, check.detail);

      const signature = headerValue(request, 'x-slack-signature') as string;
      if (!seenSignatures.remember(signature, now().getTime())) {
        return reject(reply, request, 401, 'ALERTS_SLACK_REPLAYED', 'a request with this signature was already received within the timestamp window');
      }

      let payload: BlockActionsPayload;
      try {
        payload = parsePayload(rawBody);
      } catch (error) {
        if (!(error instanceof PayloadError)) throw error;
        return reject(reply, request, 400, 'ALERTS_SLACK_PAYLOAD_INVALID', error.message);
      }
      let action: ProposalAction | undefined;
      try {
        action = findProposalAction(payload);
      } catch (error) {
        if (!(error instanceof PayloadError)) throw error;
        return reject(reply, request, 400, 'ALERTS_SLACK_PAYLOAD_INVALID', error.message);
      }
      // Link buttons and other interactions need only the acknowledgement.
      if (!action) return reply.status(200).send();

      await reply.status(200).send();
      void handleAction(payload, action, request).catch((error: unknown) => {
        logger.error({ err: error, proposalId: action.proposalId, slackUserId: payload.user.id }, 'handling a Slack decision failed');
      });
      return reply;
    });
  });

  async function handleAction(payload: BlockActionsPayload, action: ProposalAction, request: FastifyRequest): Promise<void> {
    const slackUserId = payload.user.id;
    const channel = payload.container?.channel_id ?? payload.channel?.id;
    const userName = await options.decider.findUserByChatId('slack', slackUserId);
    if (userName === undefined) {
      const detail = `Slack user ${slackUserId} is not mapped to a syncwatch user`;
      logger.warn({ slackUserId, proposalId: action.proposalId }, 'decision from an unmapped Slack user rejected');
      await audit('ALERTS_SLACK_USER_UNKNOWN', request, detail, slackUserId, action.proposalId);
      if (channel) {
        await options.api.postEphemeral({
          channel,
          user: slackUserId,
          text: 'Nothing was decided: your Slack account is not linked to a syncwatch user. Ask a syncwatch admin to link it.',
          ...threadOf(payload),
        });
      }
      return;
    }

    let outcome: DecisionOutcome;
    try {
      outcome = await options.decider.decide({
        proposalId: action.proposalId,
        decision: action.decision,
        userName,
        channel: 'slack',
        // NOTE: Slack buttons carry no text, so a rejection gets this fixed reason; a modal asking for one is not built.
        ...(action.decision === 'reject' ? { reason: `rejected in Slack by ${userName}` } : {}),
        idempotencyKey: `slack:${slackUserId}:${action.proposalId}:${action.actionTs}`,
      });
    } catch (error) {
      logger.error({ err: error, proposalId: action.proposalId, userName, slackUserId }, 'recording a Slack decision failed');
      if (channel) {
        await options.api.postEphemeral({
          channel,
          user: slackUserId,
          text: 'Nothing was decided: syncwatch failed to record the decision. Try again, or decide in the console.',
          ...threadOf(payload),
        });
      }
      return;
    }
    logger.info({ proposalId: action.proposalId, userName, slackUserId, status: outcome.status, code: outcome.code }, 'Slack decision processed');

    if (outcome.status === 'refused') {
      if (channel) {
        await options.api.postEphemeral({
          channel,
          user: slackUserId,
          text: `Not decided (${escapeText(outcome.code ?? 'refused')}): ${escapeText(outcome.message)}`,
          ...threadOf(payload),
        });
      }
      return;
    }

    const decidedAt = now();
    const summary = describeOutcome(outcome, action.decision, slackUserId, userName, decidedAt);
    if (outcome.status !== 'awaiting_second_approval') options.onDecision?.(action.proposalId, summary);
    const ts = payload.container?.message_ts ?? payload.message?.ts;
    if (!channel || !ts || !payload.message?.blocks) {
      logger.warn({ proposalId: action.proposalId }, 'Slack payload has no message to update; decision recorded without a message change');
      return;
    }
    const blocks = replaceProposalBlock(payload.message.blocks, action.proposalId, summary, outcome.status === 'awaiting_second_approval');
    const text = payload.message.text ?? summary;
    await options.api.updateMessage({ channel, ts, text, blocks });
    if (outcome.status === 'executing' && options.proposals) {
      const showResult = async (result: DecisionOutcome) => {
        const final = describeOutcome(result, action.decision, slackUserId, userName, decidedAt);
        options.onDecision?.(action.proposalId, final);
        await options.api.updateMessage({ channel, ts, text, blocks: replaceSummary(blocks, summary, final) });
      };
      void followExecution(action.proposalId, options.proposals, showResult).catch((error: unknown) => {
        logger.error({ err: error, proposalId: action.proposalId }, 'showing the execution result in Slack failed');
      });
    }
  }

  /**
   * Reads the proposal until its execution ends or the wait runs out, then
   * passes the result on. Read failures are logged and retried.
   */
  async function followExecution(
    proposalId: string,
    reader: Pick<RemediationReader, 'getProposal'>,
    showResult: (result: DecisionOutcome) => Promise<void>,
  ): Promise<void> {
    const deadline = Date.now() + (options.executionWait?.maxWaitMs ?? DEFAULT_EXECUTION_MAX_WAIT_MS);
    let waitMs = options.executionWait?.pollMs ?? DEFAULT_EXECUTION_POLL_MS;
    while (Date.now() < deadline) {
      try {
        await sleep(Math.min(waitMs, Math.max(0, deadline - Date.now())), undefined, { signal: stopped.signal, ref: false });
      } catch {
        return;
      }
      waitMs = Math.min(MAX_EXECUTION_POLL_MS, waitMs * 1.5);
      let view;
      try {
        view = await reader.getProposal(proposalId);
      } catch (error) {
        logger.warn({ err: error, proposalId }, 'reading the proposal after approval failed; retrying');
        continue;
      }
      if (view?.status === 'executed') {
        await showResult({ status: 'executed', message: 'executed', proposalId, ...(view.result ? { result: view.result } : {}) });
        return;
      }
      if (view?.status === 'failed') {
        await showResult({ status: 'failed', message: view.result ?? 'see the audit log in the console', proposalId });
        return;
      }
    }
    logger.warn({ proposalId }, 'execution did not end within the wait; the Slack message still shows it as executing');
  }
}

/** Returns one line saying who decided, when, and what happened. */
export function describeOutcome(outcome: DecisionOutcome, decision: Decision, slackUserId: string, userName: string, at: Date): string {
  const who = `<@${slackUserId}> (${escapeText(userName)}) at ${formatTime(at)}`;
  const result = outcome.result ? `: ${escapeText(outcome.result)}` : '';
  switch (outcome.status) {
    case 'awaiting_second_approval':
      return `:hourglass_flowing_sand: Approved by ${who}; waiting for a second approver`;
    case 'executing':
      return `:white_check_mark: Approved by ${who}; executing${result}`;
    case 'executed':
      return `:white_check_mark: Approved by ${who}; executed${result}`;
    case 'failed':
      return `:x: Approved by ${who}; execution failed: ${escapeText(outcome.message)}${result}`;
    case 'rejected':
      return `:no_entry: Rejected by ${who}`;
    case 'refused':
      return `:warning: ${decision === 'approve' ? 'Approval' : 'Rejection'} by ${who} refused (${outcome.code ?? 'refused'}): ${escapeText(outcome.message)}`;
  }
}

/**
 * Replaces the proposal's buttons with the outcome. While a second approval
 * is missing, the buttons stay and the outcome goes above them.
 */
function replaceProposalBlock(blocks: KnownBlock[], proposalId: string, summary: string, keepButtons: boolean): KnownBlock[] {
  const blockId = `${PROPOSAL_BLOCK_PREFIX}${proposalId}`;
  const outcome: KnownBlock = { type: 'context', elements: [{ type: 'mrkdwn', text: summary }] };
  const index = blocks.findIndex((block) => 'block_id' in block && block.block_id === blockId);
  if (index === -1) return [...blocks, outcome];
  const next = [...blocks];
  next.splice(index, keepButtons ? 0 : 1, outcome);
  return next;
}

/**
 * Text without control characters. Ids from the payload reach the
 * control-plane store and the audit log, and PostgreSQL rejects the NUL
 * character in text.
 */
const printableText = z.string().regex(/^[^\p{Cc}]*$/u, 'expected text without control characters');
const optionalText = printableText.optional();
/** Slack user, channel and team ids, such as U0123ABCD. */
const slackIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected a Slack id of 1 to 64 letters and digits, such as U0123ABCD');
/** Maximum proposal id length, the same as the HTTP API accepts in its paths. */
const MAX_PROPOSAL_ID_LENGTH = 200;

/**
 * The parts of an interaction payload this endpoint reads. Objects stay loose,
 * because Slack adds fields over time.
 */
const payloadSchema = z.looseObject({
  type: z.string(),
  user: z.looseObject({ id: slackIdSchema, username: z.string().optional() }),
  channel: z.looseObject({ id: slackIdSchema }).optional(),
  container: z.looseObject({ channel_id: slackIdSchema.optional(), message_ts: optionalText, thread_ts: optionalText }).optional(),
  // Message text goes back to Slack only and may hold line breaks.
  message: z.looseObject({ ts: optionalText, text: z.string().optional(), thread_ts: optionalText, blocks: z.array(z.looseObject({ type: z.string() })).optional() }).optional(),
  actions: z.array(z.looseObject({ action_id: z.string(), block_id: z.string().optional(), value: optionalText, action_ts: optionalText })).optional(),
});

/** An interaction payload that is not what Slack sends; the message names the field. */
class PayloadError extends Error {}

/** Replaces the context line that shows one outcome with another. */
function replaceSummary(blocks: KnownBlock[], previous: string, next: string): KnownBlock[] {
  return blocks.map((block) => {
    if (block.type !== 'context' || block.elements.length !== 1) return block;
    const element = block.elements[0];
    if (!element || element.type !== 'mrkdwn' || element.text !== previous) return block;
    return { ...block, elements: [{ ...element, text: next }] };
  });
}

function parsePayload(rawBody: Buffer): BlockActionsPayload {
  const text = new URLSearchParams(rawBody.toString('utf8')).get('payload');
  if (text === null) throw new PayloadError('expected a form field "payload", received none');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new PayloadError('expected the "payload" field to hold JSON');
  }
  const result = payloadSchema.safeParse(parsed, { reportInput: true });
  if (!result.success) throw new PayloadError(describePayloadIssue(result.error.issues[0]));
  const payload = result.data;
  if (payload.type === 'block_actions' && payload.actions === undefined) {
    throw new PayloadError('invalid payload field actions: expected a list in a block_actions payload, received nothing');
  }
  return payload as BlockActionsPayload;
}

/** Describes a payload issue as `invalid payload field <path>: <expected>, received <value>`, with the value JSON-escaped and cut to 80 characters. */
function describePayloadIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'invalid payload';
  const field = issue.path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)).join('').replace(/^\./, '');
  const received = issue.input === undefined ? 'nothing' : truncate(JSON.stringify(issue.input) ?? String(issue.input), 80);
  const expected = issue.code === 'invalid_type' ? `expected ${issue.expected}` : issue.message;
  return `invalid payload field ${field || '(root)'}: ${expected}, received ${received}`;
}

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

/** Returns the first approve or reject click; throws a `PayloadError` when its proposal id is too long. */
function findProposalAction(payload: BlockActionsPayload): ProposalAction | undefined {
  if (payload.type !== 'block_actions') return undefined;
  for (const [index, action] of payload.actions.entries()) {
    let decision: Decision | undefined;
    if (action.action_id === APPROVE_ACTION_ID) decision = 'approve';
    if (action.action_id === REJECT_ACTION_ID) decision = 'reject';
    if (decision && typeof action.value === 'string' && action.value.length > 0) {
      if (action.value.length > MAX_PROPOSAL_ID_LENGTH) {
        throw new PayloadError(
          `invalid payload field actions[${index}].value: expected a proposal id of at most ${MAX_PROPOSAL_ID_LENGTH} characters, received one of ${action.value.length}`,
        );
      }
      return { proposalId: action.value, decision, actionTs: action.action_ts ?? '' };
    }
  }
  return undefined;
}

function threadOf(payload: BlockActionsPayload): { threadTs?: string } {
  const threadTs = payload.container?.thread_ts ?? payload.message?.thread_ts;
  return threadTs ? { threadTs } : {};
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
