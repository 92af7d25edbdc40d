import { createHash } from 'node:crypto';
import type { AlertEvent } from '../alerts/alert.js';
import { ACTION_CATALOGUE, allowedActions, type RemediationKind } from './catalogue.js';
import type { RouteConfig } from './config.js';
import { requiredApprovalsFor, type ApprovalLimits } from './policy.js';
import type { ProposalDraft } from './proposals.js';

/** One failed queue_job row as the target finder read it. */
export interface FailedJob {
  uuid: string;
  channel: string;
  /** Odoo's `records` column: the model and ids the job works on, which stand for the order. */
  records: string | null;
  excName: string | null;
  /** queue_job's `identity_key`; a job without one cannot be recognised as a repeat. */
  identityKey?: string | null | undefined;
  /** Attempts the job made before it failed. */
  retry?: number | undefined;
}

/** Facts the target finder read from one failure queue of the incident's integration. */
export type FailureFacts =
  | {
      kind: 'queue_job';
      integration: string;
      table: string;
      channel?: string | undefined;
      failedJobs: FailedJob[];
      duplicateJobs: FailedJob[];
      /** Whether more failed jobs exist than the finder read. */
      truncated?: boolean | undefined;
    }
  | { kind: 'rabbitmq_dlq'; integration: string; queue: string; returnQueue?: string | undefined; messages: number }
  | { kind: 'nats_dlq'; integration: string; stream: string; subject?: string | undefined; messages: number; lastSequence: number };

export interface BuildOptions {
  incident: AlertEvent;
  facts: readonly FailureFacts[];
  routes: readonly RouteConfig[];
  limits: ApprovalLimits;
  ttlMs: number;
  retryDelayMs: number;
  now: Date;
  requestedBy: string;
}

/**
 * Builds the proposals an incident allows. Pure: the actions come from the
 * exception's category and retryable flag, the targets from `facts`, which
 * code read from the systems, so no text in the incident can add an action
 * or a target. Proposal ids derive from the incident, action, targets and
 * the proposal lifetime `now` falls in, so building twice from the same
 * state within one lifetime yields the same ids.
 */
export function buildProposals(options: BuildOptions): ProposalDraft[] {
  const { incident } = options;
  const integration = incident.integration;
  if (integration === undefined) return [];
  const drafts: ProposalDraft[] = [];
  for (const action of allowedActions(incident.exception)) {
    for (const partial of buildAction(action, options, integration)) {
      const requiredApprovals = requiredApprovalsFor(partial.blastRadius, options.limits);
      drafts.push({
        id: proposalId(incident.incidentId, action, partial.targets.map((target) => target.ref), Math.floor(options.now.getTime() / options.ttlMs)),
        incidentId: incident.incidentId,
        action,
        integration,
        workflow: incident.workflow,
        plant: incident.plant,
        rationale: `${describeIncident(incident)} ${partial.rationale}`,
        params: partial.params,
        targets: partial.targets,
        blastRadius: partial.blastRadius,
        duplicateRisk: partial.duplicateRisk ?? ACTION_CATALOGUE[action].duplicateRisk,
        requiredApprovals,
        requestedBy: options.requestedBy,
        expiresAt: new Date(options.now.getTime() + options.ttlMs),
      });
    }
  }
  return drafts;
}

type PartialDraft = Pick<ProposalDraft, 'rationale' | 'params' | 'targets' | 'blastRadius'> & { duplicateRisk?: string };

function buildAction(action: RemediationKind, options: BuildOptions, integration: string): PartialDraft[] {
  const facts = options.facts.filter((fact) => fact.integration === integration);
  const plants = options.incident.plant ? [options.incident.plant] : [];
  switch (action) {
    case 'retry_now':
    case 'retry_after_delay':
    case 'requeue_failed_jobs':
      return facts.flatMap((fact) => (fact.kind === 'queue_job' ? jobDraft(action, fact, fact.failedJobs, plants, options.retryDelayMs) : []));
    case 'skip_duplicates':
      return facts.flatMap((fact) => (fact.kind === 'queue_job' ? jobDraft(action, fact, fact.duplicateJobs, plants, 0) : []));
    case 'replay_dead_letters':
      return facts.flatMap((fact) => (fact.kind === 'rabbitmq_dlq' && fact.messages > 0 ? [dlqDraft(fact, plants)] : []));
    case 'republish_nats':
      return facts.flatMap((fact) => (fact.kind === 'nats_dlq' && fact.messages > 0 ? [natsDraft(fact, plants)] : []));
    case 'reroute':
      return options.routes.filter((route) => route.workflow === options.incident.workflow).map((route) => routeDraft(route, options.incident, plants));
    case 'hold_channel':
      return [holdDraft(options.incident, facts, plants)];
  }
}

function jobDraft(
  action: RemediationKind,
  fact: Extract<FailureFacts, { kind: 'queue_job' }>,
  jobs: FailedJob[],
  plants: string[],
  delayMs: number,
): PartialDraft[] {
  if (jobs.length === 0) return [];
  const orders = new Set(jobs.map((job) => job.records ?? job.uuid)).size;
  const where = `${fact.table}${fact.channel ? ` channel ${fact.channel}` : ''}`;
  const delay = action === 'retry_after_delay' ? ` after ${Math.round(delayMs / 1000)} s` : '';
  const more = fact.truncated ? ' More failed jobs wait beyond these, the oldest read; propose again once these are handled.' : '';
  return [
    {
      rationale: `${jobs.length} failed jobs in ${where} on ${orders} records; ${ACTION_CATALOGUE[action].summary}${delay}.${more}`,
      params: { table: fact.table, ...(action === 'retry_after_delay' ? { delayMs } : {}) },
      targets: jobs.map((job) => ({ kind: 'queue_job', ref: job.uuid, detail: `${fact.table} channel ${job.channel}${job.excName ? `, ${job.excName}` : ''}` })),
      blastRadius: { events: jobs.length, orders, plants },
      duplicateRisk: describeJobDuplicateRisk(action, jobs),
    },
  ];
}

/** Adds to the catalogue's duplicate risk how many of the jobs lack the means to detect a repeat. */
function describeJobDuplicateRisk(action: RemediationKind, jobs: FailedJob[]): string {
  const base = ACTION_CATALOGUE[action].duplicateRisk;
  if (action === 'skip_duplicates') return base;
  const withoutKey = jobs.filter((job) => !job.identityKey).length;
  const retried = jobs.filter((job) => (job.retry ?? 0) > 0).length;
  return `${base}. ${withoutKey} of ${jobs.length} jobs have no identity key, so a repeat of them cannot be recognised; ${retried} already ran more than once before failing.`;
}

function dlqDraft(fact: Extract<FailureFacts, { kind: 'rabbitmq_dlq' }>, plants: string[]): PartialDraft {
  return {
    rationale:
      `${fact.messages} messages wait in dead-letter queue ${fact.queue}; ${ACTION_CATALOGUE.replay_dead_letters.summary}. ` +
      'Orders are counted as one per message, an upper bound, because the messages are not read before approval.',
    params: { queue: fact.queue, returnQueue: fact.returnQueue ?? null, maxMessages: fact.messages },
    targets: [{ kind: 'rabbitmq_dlq', ref: fact.queue, detail: `${fact.messages} messages` }],
    blastRadius: { events: fact.messages, orders: fact.messages, plants },
  };
}

function natsDraft(fact: Extract<FailureFacts, { kind: 'nats_dlq' }>, plants: string[]): PartialDraft {
  return {
    rationale:
      `${fact.messages} dead-lettered messages wait in stream ${fact.stream}; ${ACTION_CATALOGUE.republish_nats.summary}. ` +
      'Orders are counted as one per message, an upper bound.',
    params: { stream: fact.stream, subject: fact.subject ?? null, lastSequence: fact.lastSequence },
    targets: [{ kind: 'nats_dlq', ref: fact.stream, detail: `${fact.messages} messages up to sequence ${fact.lastSequence}` }],
    blastRadius: { events: fact.messages, orders: fact.messages, plants },
  };
}

function routeDraft(route: RouteConfig, incident: AlertEvent, plants: string[]): PartialDraft {
  const waiting = incident.exception?.count ?? 0;
  return {
    rationale: `workflow ${route.workflow} has alternate ${route.kind} route "${route.name}" (${route.target}); ${ACTION_CATALOGUE.reroute.summary}.`,
    params: { route: route.name, kind: route.kind, target: route.target },
    targets: [{ kind: 'workflow_route', ref: route.workflow, detail: `${route.kind} ${route.target}` }],
    blastRadius: { events: waiting, orders: waiting, plants },
  };
}

function holdDraft(incident: AlertEvent, facts: FailureFacts[], plants: string[]): PartialDraft {
  const channel = channelOf(facts);
  const waiting = facts.reduce((sum, fact) => sum + (fact.kind === 'queue_job' ? fact.failedJobs.length : fact.messages), 0);
  return {
    rationale: `${waiting} failed items wait on integration ${incident.integration}; ${ACTION_CATALOGUE.hold_channel.summary}.`,
    params: { channel },
    targets: [{ kind: 'channel', ref: `${incident.integration}:${channel}`, detail: channel === '*' ? 'every channel of the integration' : `channel ${channel}` }],
    blastRadius: { events: 0, orders: 0, plants },
  };
}

function channelOf(facts: FailureFacts[]): string {
  for (const fact of facts) if (fact.kind === 'queue_job' && fact.channel) return fact.channel;
  return '*';
}

/** States the incident in one sentence: what was observed, its class and prediction. */
export function describeIncident(incident: AlertEvent): string {
  const parts = [incident.title.replace(/\.$/, '')];
  if (incident.exception) {
    const retry = incident.exception.retryable ? 'retryable' : 'not retryable';
    parts.push(`exception class ${incident.exception.category} (${retry}, ${incident.exception.count} occurrences)`);
  }
  if (incident.metric) {
    const expected = incident.metric.expected === undefined ? '' : ` against ${incident.metric.expected} expected`;
    parts.push(`${incident.metric.name} ${incident.metric.observed} ${incident.metric.unit}${expected}`);
  }
  if (incident.predictedBreachAt) {
    const probability = incident.breachProbability === undefined ? '' : ` (probability ${Math.round(incident.breachProbability * 100)}%)`;
    parts.push(`objective breach predicted at ${incident.predictedBreachAt.toISOString()}${probability}`);
  }
  return `${parts.join('; ')}.`;
}

/** Derives the id; `window` numbers the proposal lifetime `now` falls in, so an expired proposal can be proposed again. */
function proposalId(incidentId: string, action: string, refs: string[], window: number): string {
  const digest = createHash('sha256').update(JSON.stringify([incidentId, action, [...refs].sort(), window])).digest('hex');
  return `rp-${digest.slice(0, 20)}`;
}
