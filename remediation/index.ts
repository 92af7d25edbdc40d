import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { AlertEvent } from '../alerts/alert.js';
import type { SyncwatchConfig } from '../config/index.js';
import { listAudit } from './audit.js';
import { AuditMirror } from './audit-mirror.js';
import { buildProposals, type FailureFacts } from './builder.js';
import type { RemediationKind } from './catalogue.js';
import type { RemediationConfig } from './config.js';
import type {
  AuditEntry,
  AuditFilter,
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
import { REMEDIATION_CODES, REMEDIATION_ERRORS, RemediationError } from './errors.js';
import { ExecutionRunner, type ClaimResult, type ExecutionOutcome } from './execution.js';
import { createExecutors } from './executors/index.js';
import type { ActionExecutor } from './executors/types.js';
import {
  listHolds,
  listRoutes,
  releaseHold,
  type ActiveRoute,
  type ChannelHold,
  type ReleaseHoldOutcome,
  type ReleaseHoldRequest,
} from './holds.js';
import {
  expireOverdueProposals,
  findPendingEquivalent,
  listPendingOfIncident,
  readProposalView,
  storeProposalDraft,
  SYSTEM_ACTOR,
  toAlertProposal,
} from './lifecycle.js';
import { requiredApprovalsFor } from './policy.js';
import { listProposalViews, loadUser, syncUsers, type ProposalDraft } from './proposals.js';
import { migrateControlStore } from './schema.js';
import { TargetFinder } from './target-finder.js';

export { ACTION_CATALOGUE, REMEDIATION_KINDS, type RemediationKind } from './catalogue.js';
export { remediationConfigSchema, type RemediationConfig, type RemediationConfigInput } from './config.js';
export { REMEDIATION_CODES, REMEDIATION_ERRORS, RemediationError } from './errors.js';
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

/**
 * Opens the control-plane store (PostgreSQL when `CONTROL_PLANE_URL` or
 * `remediation.database.url` is set, embedded PGlite otherwise), applies its
 * migrations, loads the configured users and starts the housekeeping timer
 * that expires overdue proposals and mirrors the audit log.
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
  return new RemediationLayer(store, options);
}

/** The remediation layer on an open, migrated control-plane store. */
class RemediationLayer implements Remediation {
  readonly store: ControlStore;
  readonly #settings: RemediationConfig;
  readonly #logger: Logger;
  readonly #clock: () => Date;
  readonly #background: boolean;
  readonly #executors: Partial<Record<RemediationKind, ActionExecutor>>;
  readonly #runner: ExecutionRunner;
  readonly #finder: TargetFinder;
  readonly #mirror: AuditMirror | undefined;
  readonly #housekeeping: NodeJS.Timeout;

  constructor(store: ControlStore, options: OpenRemediationOptions) {
    const { logger } = options;
    this.store = store;
    this.#settings = options.config.remediation;
    this.#logger = logger;
    this.#clock = options.clock ?? (() => new Date());
    this.#background = options.executeInBackground ?? true;
    this.#executors = { ...createExecutors({ config: this.#settings, store, logger }), ...options.executors };
    this.#runner = new ExecutionRunner({ store, executors: this.#executors, logger, clock: this.#clock });
    this.#finder = new TargetFinder(this.#settings, logger);
    this.#mirror = options.client ? new AuditMirror(store, options.client, logger) : undefined;
    this.#housekeeping = setInterval(() => {
      this.expireOverdue()
        .then(() => this.#mirror?.copyNew())
        .catch((error: unknown) => logger.warn({ err: error }, 'remediation housekeeping failed'));
    }, HOUSEKEEPING_INTERVAL_MS);
    this.#housekeeping.unref();
  }

  async propose(incident: AlertEvent, options: ProposeOptions = {}): Promise<ProposalView[]> {
    if (incident.integration === undefined) return [];
    const facts = options.facts ?? (await this.#finder.findFacts(incident.integration));
    const drafts = buildProposals({
      incident,
      facts,
      routes: this.#settings.routes,
      limits: this.#settings.policy.twoApproversAbove,
      ttlMs: this.#settings.policy.proposalTtl,
      retryDelayMs: this.#settings.policy.retryDelay,
      now: this.#clock(),
      requestedBy: options.requestedBy ?? SYSTEM_ACTOR,
    });
    const views: ProposalView[] = [];
    for (const draft of drafts) {
      const equivalent = await findPendingEquivalent(this.store, draft);
      if (equivalent) {
        views.push(equivalent);
        continue;
      }
      await storeProposalDraft(this.store, draft);
      const view = await readProposalView(this.store, draft.id);
      if (view) views.push(view);
    }
    return views;
  }

  async attachProposals(event: AlertEvent): Promise<AlertEvent> {
    // Informational incidents get no proposals, so chat threads carry buttons only where action may be needed.
    if (event.state === 'resolved' || event.severity === 'info' || event.integration === undefined) return event;
    // An update of an incident that already has pending proposals shows those, so that
    // changing targets do not add a new set of proposals every analyzer cycle.
    const existing = event.state === 'updated' ? await listPendingOfIncident(this.store, event.incidentId) : [];
    const views = existing.length > 0 ? existing : await this.propose(event);
    const proposals = views.filter((view) => view.status === 'pending').map(toAlertProposal);
    return proposals.length === 0 ? event : { ...event, proposals };
  }

  expireOverdue(): Promise<number> {
    return expireOverdueProposals(this.store, this.#clock());
  }

  async storeProposal(draft: ProposalDraft): Promise<ProposalView> {
    // The blast radius decides the approvals needed, whatever the draft requests.
    const byPolicy = requiredApprovalsFor(draft.blastRadius, this.#settings.policy.twoApproversAbove);
    const requiredApprovals = Math.max(draft.requiredApprovals, byPolicy) as 1 | 2;
    await storeProposalDraft(this.store, { ...draft, requiredApprovals });
    const view = await readProposalView(this.store, draft.id);
    if (!view) throw new RemediationError(REMEDIATION_ERRORS.proposalNotStored, `proposal ${draft.id} was not stored`);
    return view;
  }

  async decide(request: DecisionRequest): Promise<DecisionOutcome> {
    const outcome = await recordDecision(this.store, request, this.#clock());
    this.#logger.info(
      {
        proposalId: request.proposalId,
        user: request.userName,
        channel: request.channel,
        decision: request.decision,
        status: outcome.status,
        code: outcome.code,
      },
      'remediation decision recorded',
    );
    if (outcome.status !== 'executing') return outcome;

    const started = await this.execute(request.proposalId, request.userName);
    if ('status' in started) return { ...outcome, status: started.status, result: started.result };
    // The approval is recorded, but the re-check at the claim stopped the execution, for example at expiry.
    // A claim lost to the background runner is no refusal: the execution runs there.
    if (!started.claimed && started.code !== REMEDIATION_CODES.notPending) {
      return { status: 'refused', code: started.code, proposalId: request.proposalId, message: `${outcome.message}; ${started.message}` };
    }
    return outcome;
  }

  async findUserByChatId(_provider: 'slack', chatUserId: string): Promise<string | undefined> {
    const { rows } = await this.store.query<{ name: string }>('SELECT name FROM users WHERE slack_user_id = $1', [chatUserId]);
    return rows[0]?.name;
  }

  listProposals(filter?: { status?: ProposalStatus }): Promise<ProposalView[]> {
    return listProposalViews(this.store, filter ?? {});
  }

  getProposal(id: string): Promise<ProposalView | undefined> {
    return readProposalView(this.store, id);
  }

  listAudit(filter?: AuditFilter): Promise<AuditEntry[]> {
    return listAudit(this.store, filter);
  }

  async findUser(name: string): Promise<UserView | undefined> {
    const user = await loadUser(this.store, name);
    if (!user) return undefined;
    const view: UserView = { name: user.name, role: user.role };
    if (user.slackUserId) view.slackUserId = user.slackUserId;
    return view;
  }

  async execute(proposalId: string, actor = SYSTEM_ACTOR): Promise<ClaimResult | ExecutionOutcome> {
    const claim = await this.#runner.claim(proposalId, actor);
    if (!claim.claimed) return claim;
    const run = this.#runner.run(proposalId);
    // A run that another process took over between the claim and its lock reports the claim.
    if (!this.#background) return (await run) ?? claim;
    run.catch((error: unknown) => this.#logger.error({ err: error, proposalId }, 'remediation execution stopped'));
    return claim;
  }

  releaseHold(request: ReleaseHoldRequest): Promise<ReleaseHoldOutcome> {
    return releaseHold(this.store, request);
  }

  listHolds(): Promise<ChannelHold[]> {
    return listHolds(this.store);
  }

  listRoutes(): Promise<ActiveRoute[]> {
    return listRoutes(this.store);
  }

  async runPendingExecutions(): Promise<ExecutionOutcome[]> {
    await this.expireOverdue();
    return this.#runner.runPending();
  }

  waitForExecutions(): Promise<void> {
    return this.#runner.waitForIdle();
  }

  mirrorAudit(): Promise<number> {
    return this.#mirror ? this.#mirror.copyNew() : Promise.resolve(0);
  }

  async close(): Promise<void> {
    clearInterval(this.#housekeeping);
    await this.#runner.waitForIdle();
    await this.#mirror?.copyNew().catch((error: unknown) => this.#logger.warn({ err: error }, 'audit mirror failed at close'));
    await this.#finder.close();
    await Promise.allSettled(Object.values(this.#executors).map((executor) => executor.close()));
    await this.store.close();
  }
}
