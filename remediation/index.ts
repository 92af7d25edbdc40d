import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { AlertEvent, AlertProposal } from '../alerts/alert.js';
import type { SyncwatchConfig } from '../config/index.js';
import { appendAudit, AUDIT_EVENTS, listAudit } from './audit.js';
import { AuditMirror } from './audit-mirror.js';
import { buildProposals, type FailureFacts } from './builder.js';
import { ACTION_CATALOGUE, type RemediationKind } from './catalogue.js';
import type {
  AuditEntry,
  DecisionOutcome,
  DecisionRequest,
  ProposalDecider,
  ProposalStatus,
  ProposalView,
  RemediationReader,
  UserView,
} from './contract.js';
import { CONTROL_PLANE_URL_ENV, controlPlaneDataDir, openControlStore, type ControlStore } from './control-store.js';
import { recordDecision } from './decisions.js';
import { REMEDIATION_CODES } from './errors.js';
import { ExecutionRunner, type ClaimResult, type ExecutionOutcome } from './execution.js';
import { createExecutors } from './executors/index.js';
import type { ActionExecutor } from './executors/types.js';
import { insertProposal, listProposalViews, loadUser, syncUsers, type ProposalDraft } from './proposals.js';
import { migrateControlStore } from './schema.js';
import { listHolds, listRoutes, releaseHold, type ActiveRoute, type ChannelHold, type ReleaseHoldOutcome, type ReleaseHoldRequest } from './holds.js';
import { TargetFinder } from './target-finder.js';

export { ACTION_CATALOGUE, REMEDIATION_KINDS, type RemediationKind } from './catalogue.js';
export { remediationConfigSchema, type RemediationConfig, type RemediationConfigInput } from './config.js';
export { REMEDIATION_CODES, RemediationError } from './errors.js';
export { openControlStore, type ControlStore } from './control-store.js';
export type { FailureFacts } from './builder.js';
export type { ActiveRoute, ChannelHold, ReleaseHoldOutcome, ReleaseHoldRequest } from './holds.js';

export interface OpenRemediationOptions {
  config: SyncwatchConfig;
  /** ClickHouse store that receives the audit mirror; without it nothing is mirrored. */
  client?: ClickHouseClient | undefined;
  logger: Logger;
  /** Schema of the control-plane tables; `public` by default. Tests use one per file. */
  schema?: string | undefined;
  /** Replaces the clock, for expiry tests. */
  clock?: () => Date;
  /** Replaces or adds executors, for tests. */
  executors?: Partial<Record<RemediationKind, ActionExecutor>>;
  /** Runs approved proposals after `decide` returns; true by default. */
  executeInBackground?: boolean;
}

export interface ProposeOptions {
  /** User or component that requests the proposals; that user may not approve them. */
  requestedBy?: string;
  /** Failure facts to build from, in place of reading them from the systems. */
  facts?: FailureFacts[];
}

/** The remediation layer as the service, the API, the console and Slack use it. */
export interface Remediation extends ProposalDecider, RemediationReader {
  readonly store: ControlStore;
  /** Builds, stores and audits the proposals an incident allows; returns them as surfaces show them. */
  propose(incident: AlertEvent, options?: ProposeOptions): Promise<ProposalView[]>;
  /**
   * Returns `event` with the pending proposals of its incident attached,
   * creating them when the incident opens, or changes without pending ones.
   * Resolved and informational incidents get none.
   */
  attachProposals(event: AlertEvent): Promise<AlertEvent>;
  /** Marks pending proposals past their expiry as expired, with an audit row each; returns how many. */
  expireOverdue(): Promise<number>;
  /** Stores a proposal built elsewhere, after the same checks. */
  storeProposal(draft: ProposalDraft): Promise<ProposalView>;
  /** Lifts a channel hold; needs an approver or admin and a reason, and is audited either way. */
  releaseHold(request: ReleaseHoldRequest): Promise<ReleaseHoldOutcome>;
  /** Channels on hold, oldest first. */
  listHolds(): Promise<ChannelHold[]>;
  /** Workflows switched to an alternate route; the middleware reads its route here. */
  listRoutes(): Promise<ActiveRoute[]>;
  /** Claims and runs one approved proposal now; refused when approvals are missing or it expired. */
  execute(proposalId: string, actor?: string): Promise<ClaimResult | ExecutionOutcome>;
  /** Claims approved proposals and resumes interrupted executions. */
  runPendingExecutions(): Promise<ExecutionOutcome[]>;
  /** Waits until every execution this process started has finished. */
  waitForExecutions(): Promise<void>;
  /** Copies new audit rows to ClickHouse; returns the number copied. */
  mirrorAudit(): Promise<number>;
  close(): Promise<void>;
}

/** Interval of expiring overdue proposals and mirroring the audit log, in milliseconds. */
const HOUSEKEEPING_INTERVAL_MS = 5_000;
const SYSTEM_ACTOR = 'syncwatch';

/**
 * Opens the control-plane store (PostgreSQL when `CONTROL_PLANE_URL` or
 * `remediation.database.url` is set, embedded PGlite otherwise), applies its
 * migrations, loads the configured users and starts the audit mirror.
 */
export async function openRemediation(options: OpenRemediationOptions): Promise<Remediation> {
  const { config, logger } = options;
  const settings = config.remediation;
  const url = process.env[CONTROL_PLANE_URL_ENV] || settings.database.url;
  const store = await openControlStore({ url, dataDir: controlPlaneDataDir(config.store.dataDir), schema: options.schema });
  try {
    const applied = await migrateControlStore(store);
    await store.transaction((tx) => syncUsers(tx, settings.users));
    logger.info({ store: store.kind, applied, users: settings.users.length }, 'control plane ready');
  } catch (error) {
    await store.close();
    throw error;
  }
  const clock = options.clock ?? (() => new Date());
  const executors = { ...createExecutors({ config: settings, store, logger }), ...options.executors };
  const runner = new ExecutionRunner({ store, executors, logger, clock });
  const finder = new TargetFinder(settings, logger);
  const mirror = options.client ? new AuditMirror(store, options.client, logger) : undefined;
  const expireOverdue = () => expireOverdueProposals(store, clock());
  const housekeeping = setInterval(() => {
    expireOverdue()
      .then(() => mirror?.copyNew())
      .catch((error: unknown) => logger.warn({ err: error }, 'remediation housekeeping failed'));
  }, HOUSEKEEPING_INTERVAL_MS);
  housekeeping.unref();
  const background = options.executeInBackground ?? true;

  const startExecution = async (proposalId: string, actor: string): Promise<ClaimResult | ExecutionOutcome> => {
    const claim = await runner.claim(proposalId, actor);
    if (!claim.claimed) return claim;
    const run = runner.run(proposalId);
    if (background) {
      run.catch((error: unknown) => logger.error({ err: error, proposalId }, 'remediation execution stopped'));
      return claim;
    }
    return run;
  };

  const storeDraft = async (draft: ProposalDraft): Promise<void> => {
    await store.transaction(async (tx) => {
      const existing = await tx.query('SELECT 1 FROM proposals WHERE id = $1', [draft.id]);
      if (existing.rows.length > 0) return;
      await insertProposal(tx, draft);
      await appendAudit(tx, {
        actor: draft.requestedBy,
        channel: 'system',
        event: AUDIT_EVENTS.proposed,
        proposalId: draft.id,
        detail:
          `${draft.action} on ${draft.targets.length} targets of ${draft.integration}; blast radius ${draft.blastRadius.events} events, ` +
          `${draft.blastRadius.orders} orders, plants [${draft.blastRadius.plants.join(', ')}]; ` +
          `${draft.requiredApprovals} approvals needed by ${draft.expiresAt.toISOString()}`,
      });
    });
  };

  const remediation: Remediation = {
    store,
    async propose(incident, proposeOptions = {}) {
      if (incident.integration === undefined) return [];
      const facts = proposeOptions.facts ?? (await finder.findFacts(incident.integration));
      const drafts = buildProposals({
        incident,
        facts,
        routes: settings.routes,
        limits: settings.policy.twoApproversAbove,
        ttlMs: settings.policy.proposalTtl,
        retryDelayMs: settings.policy.retryDelay,
        now: clock(),
        requestedBy: proposeOptions.requestedBy ?? SYSTEM_ACTOR,
      });
      const views: ProposalView[] = [];
      for (const draft of drafts) {
        await storeDraft(draft);
        const [view] = await listProposalViews(store, { id: draft.id });
        if (view) views.push(view);
      }
      return views;
    },
    async attachProposals(event) {
      // Informational incidents get no proposals, so chat threads carry buttons only where action may be needed.
      if (event.state === 'resolved' || event.severity === 'info' || event.integration === undefined) return event;
      // An update of an incident that already has pending proposals shows those, so that
      // changing targets do not add a new set of proposals every analyzer cycle.
      const existing = event.state === 'updated' ? await listPendingOfIncident(store, event.incidentId) : [];
      const views = existing.length > 0 ? existing : await remediation.propose(event);
      const proposals: AlertProposal[] = views
        .filter((view) => view.status === 'pending')
        .map((view) => ({ proposalId: view.id, action: view.action, summary: summarize(view), expiresAt: view.expiresAt }));
      return proposals.length === 0 ? event : { ...event, proposals };
    },
    expireOverdue,
    async storeProposal(draft) {
      await storeDraft(draft);
      const [view] = await listProposalViews(store, { id: draft.id });
      if (!view) throw new Error(`REMEDIATION_ERR_STORE: proposal ${draft.id} was not stored`);
      return view;
    },
    async decide(request: DecisionRequest): Promise<DecisionOutcome> {
      const outcome = await recordDecision(store, request, clock());
      logger.info(
        { proposalId: request.proposalId, user: request.userName, channel: request.channel, decision: request.decision, status: outcome.status, code: outcome.code },
        'remediation decision recorded',
      );
      if (outcome.status !== 'executing') return outcome;
      const started = await startExecution(request.proposalId, request.userName);
      if ('status' in started) return { ...outcome, status: started.status, result: started.result };
      // The approval is recorded, but the re-check at the claim stopped the execution, for example at expiry.
      // A claim lost to the background runner is no refusal: the execution runs there.
      if (!started.claimed && started.code !== REMEDIATION_CODES.notPending) {
        return { status: 'refused', code: started.code, proposalId: request.proposalId, message: `${outcome.message}; ${started.message}` };
      }
      return outcome;
    },
    async findUserByChatId(_provider, chatUserId) {
      const { rows } = await store.query<{ name: string }>('SELECT name FROM users WHERE slack_user_id = $1', [chatUserId]);
      return rows[0]?.name;
    },
    listProposals: (filter?: { status?: ProposalStatus }) => listProposalViews(store, filter ?? {}),
    async getProposal(id) {
      const [view] = await listProposalViews(store, { id });
      return view;
    },
    listAudit: (filter?: { proposalId?: string; limit?: number }): Promise<AuditEntry[]> => listAudit(store, filter),
    async findUser(name): Promise<UserView | undefined> {
      const user = await loadUser(store, name);
      if (!user) return undefined;
      const view: UserView = { name: user.name, role: user.role };
      if (user.slackUserId) view.slackUserId = user.slackUserId;
      return view;
    },
    execute: (proposalId, actor = SYSTEM_ACTOR) => startExecution(proposalId, actor),
    releaseHold: (request) => releaseHold(store, request),
    listHolds: () => listHolds(store),
    listRoutes: () => listRoutes(store),
    async runPendingExecutions() {
      await expireOverdue();
      return runner.runPending();
    },
    waitForExecutions: () => runner.waitForIdle(),
    mirrorAudit: () => (mirror ? mirror.copyNew() : Promise.resolve(0)),
    async close() {
      clearInterval(housekeeping);
      await runner.waitForIdle();
      await mirror?.copyNew().catch((error: unknown) => logger.warn({ err: error }, 'audit mirror failed at close'));
      await finder.close();
      await Promise.allSettled(Object.values(executors).map((executor) => executor.close()));
      await store.close();
    },
  };
  return remediation;
}

function summarize(view: ProposalView): string {
  const entry = ACTION_CATALOGUE[view.action as RemediationKind];
  const { events, orders, plants } = view.blastRadius;
  const where = plants.length > 0 ? ` in ${plants.join(', ')}` : '';
  return `${entry?.summary ?? view.action}: ${view.targets.length} targets, ${events} events, ${orders} orders${where}`;
}

/** Marks every pending proposal whose expiry has passed as expired, each with its audit row. */
async function expireOverdueProposals(store: ControlStore, now: Date): Promise<number> {
  const { rows } = await store.query<{ id: string }>(`SELECT id FROM proposals WHERE status = 'pending' AND expires_at <= $1`, [now]);
  let expired = 0;
  for (const { id } of rows) {
    const changed = await store.transaction(async (tx) => {
      const updated = await tx.query(`UPDATE proposals SET status = 'expired' WHERE id = $1 AND status = 'pending' AND expires_at <= $2`, [id, now]);
      if (updated.rowCount !== 1) return false;
      await appendAudit(tx, {
        actor: SYSTEM_ACTOR,
        channel: 'system',
        event: AUDIT_EVENTS.expired,
        proposalId: id,
        detail: 'expired without the approvals it needed',
      });
      return true;
    });
    if (changed) expired += 1;
  }
  return expired;
}

async function listPendingOfIncident(store: ControlStore, incidentId: string): Promise<ProposalView[]> {
  const { rows } = await store.query<{ id: string }>(`SELECT id FROM proposals WHERE incident_id = $1 AND status = 'pending' ORDER BY created_at, id`, [incidentId]);
  const views: ProposalView[] = [];
  for (const { id } of rows) {
    const [view] = await listProposalViews(store, { id });
    if (view) views.push(view);
  }
  return views;
}
