import type { AlertEvent, AlertProposal, AlertSink } from '../alert.js';
import { classifyAlert, type AlertCatalogueEntry } from '../catalogue.js';
import type { SlackConfig } from '../config.js';
import { isQuiet, routeAlert, type SyncMode } from '../routing.js';
import { UpdateCoalescer } from '../throttle.js';
import type { Logger } from '../../server/logger.js';
import { renderRootMessage, renderThreadReply, type AlertLinks, type ThreadSummary } from './blocks.js';
import type { SlackApi } from './client.js';
import { decodeEvent, encodeEvent, type SlackMessageStore, type StoredThread } from './message-store.js';

/** How often waiting quiet-hour alerts are checked for release, in milliseconds. */
const QUIET_RELEASE_CHECK_MS = 60_000;

export interface SlackSinkOptions {
  api: SlackApi;
  config: Pick<SlackConfig, 'defaultChannel' | 'routes' | 'quietHours' | 'throttle'>;
  links: AlertLinks;
  store: SlackMessageStore;
  /** Sync mode of a configured workflow, for quiet hours. */
  syncModeOf(workflow: string): SyncMode | undefined;
  logger: Logger;
  now?: () => Date;
}

/** A thread in this process: the stored message plus the events received since start. */
interface ThreadRuntime {
  stored: StoredThread;
  alert: AlertCatalogueEntry;
  incidents: Map<string, AlertEvent>;
  root: AlertEvent;
  latest: AlertEvent;
  updates: number;
  shownProposals: Set<string>;
  resolvedAt: Date | undefined;
}

interface ThreadUpdate {
  thread: ThreadRuntime;
  event: AlertEvent;
  newProposals: AlertProposal[];
}

interface ReplyBatch {
  thread: ThreadRuntime;
  latest: AlertEvent;
  events: number;
  incidents: Set<string>;
  opened: number;
  resolved: number;
  since: Date;
  newProposals: AlertProposal[];
}

/** Counters for tests and logs. */
export interface SlackSinkStats {
  rootMessages: number;
  threadReplies: number;
  rootUpdates: number;
  deferredQuiet: number;
  droppedQuietResolved: number;
  failedCalls: number;
}

/**
 * Delivers alert events to Slack as one message per thread of incidents.
 * Incidents of the same alert, integration, plant and channel that open
 * while a thread is active join it, so a burst becomes one root message.
 * Later changes become thread replies, at most one per `replyInterval`,
 * each saying how many updates it folds in, and each reply also rewrites
 * the root message with `chat.update`. Resolutions and new proposals go out
 * at once.
 */
export class SlackAlertSink implements AlertSink {
  readonly name = 'slack';
  readonly stats: SlackSinkStats = { rootMessages: 0, threadReplies: 0, rootUpdates: 0, deferredQuiet: 0, droppedQuietResolved: 0, failedCalls: 0 };
  readonly #options: SlackSinkOptions;
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly #threads = new Map<string, ThreadRuntime>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #deferred = new Map<string, AlertEvent>();
  readonly #decisions = new Map<string, string>();
  readonly #coalescer: UpdateCoalescer<ThreadUpdate, ReplyBatch>;
  readonly #releaseTimer: NodeJS.Timeout;
  #decisionButtons = false;

  constructor(options: SlackSinkOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'alerts-slack' });
    this.#now = options.now ?? (() => new Date());
    this.#coalescer = new UpdateCoalescer<ThreadUpdate, ReplyBatch>({
      intervalMs: options.config.throttle.replyInterval,
      now: () => this.#now().getTime(),
      merge: mergeUpdate,
      flush: (_key, batch) => this.#flushThread(batch),
      onError: (key, error) => {
        this.stats.failedCalls += 1;
        this.#logger.error({ err: error, thread: key }, 'posting a thread update to Slack failed; the update is dropped');
      },
    });
    this.#releaseTimer = setInterval(() => {
      void this.#releaseDeferred().catch((error: unknown) => this.#logger.error({ err: error }, 'releasing quiet-hour alerts failed'));
    }, QUIET_RELEASE_CHECK_MS);
    this.#releaseTimer.unref();
  }

  async send(event: AlertEvent): Promise<void> {
    const now = this.#now();
    if (isQuiet(event, this.#options.config.quietHours, this.#options.syncModeOf, now)) {
      this.#deferred.set(event.incidentId, event);
      this.stats.deferredQuiet += 1;
      return;
    }
    this.#deferred.delete(event.incidentId);
    await this.#releaseDeferred();
    await this.#deliver(event);
  }

  /**
   * Shows Approve and Reject buttons on proposals from now on. Until this is
   * called, proposals point to the console, because a click would reach no
   * endpoint.
   */
  enableDecisionButtons(): void {
    this.#decisionButtons = true;
  }

  /**
   * Records the outcome of a decision taken in Slack, so a later rewrite of
   * the root message shows it instead of the buttons.
   */
  recordDecision(proposalId: string, summary: string): void {
    this.#decisions.set(proposalId, summary);
  }

  async close(): Promise<void> {
    clearInterval(this.#releaseTimer);
    await Promise.allSettled([...this.#locks.values()]);
    await this.#coalescer.close();
    this.#options.store.flush();
    if (this.#deferred.size > 0) {
      this.#logger.warn({ incidents: this.#deferred.size }, 'alerts held for quiet hours were not delivered before shutdown');
    }
  }

  async #releaseDeferred(): Promise<void> {
    if (this.#deferred.size === 0) return;
    const now = this.#now();
    for (const [incidentId, event] of this.#deferred) {
      if (isQuiet(event, this.#options.config.quietHours, this.#options.syncModeOf, now)) continue;
      this.#deferred.delete(incidentId);
      if (event.state === 'resolved' && !this.#options.store.threadOfIncident(incidentId)) {
        // Opened and resolved within quiet hours: nobody needs to act on it.
        this.stats.droppedQuietResolved += 1;
        this.#logger.info({ incidentId }, 'incident opened and resolved during quiet hours; not posted');
        continue;
      }
      await this.#deliver(event);
    }
  }

  #deliver(event: AlertEvent): Promise<void> {
    const alert = classifyAlert(event);
    const channel = routeAlert(event, this.#options.config.routes, this.#options.config.defaultChannel);
    const groupKey = [alert.id, channel, event.integration ?? event.workflow ?? '-', event.plant ?? '-'].join('|');
    // One lock per group, so concurrent events of a burst cannot open two root messages.
    const previous = this.#locks.get(groupKey) ?? Promise.resolve();
    const next = previous.then(() => this.#deliverLocked(event, alert, channel, groupKey));
    const settled = next.catch(() => undefined);
    this.#locks.set(groupKey, settled);
    void settled.then(() => {
      if (this.#locks.get(groupKey) === settled) this.#locks.delete(groupKey);
    });
    return next;
  }

  async #deliverLocked(event: AlertEvent, alert: AlertCatalogueEntry, channel: string, groupKey: string): Promise<void> {
    const now = this.#now();
    const { store } = this.#options;
    const stored =
      store.threadOfIncident(event.incidentId) ?? store.openThreadOfGroup(groupKey, now.getTime() - this.#options.config.throttle.groupWindow);
    if (!stored) {
      if (event.state === 'resolved') {
        this.#logger.info({ incidentId: event.incidentId }, 'resolution of an incident that has no Slack message; not posted');
        return;
      }
      await this.#openThread(event, alert, channel, groupKey);
      return;
    }

    const thread = this.#runtimeOf(stored, alert, event);
    // The store returns its own copy, which carries the latest open incidents.
    thread.stored = stored;
    store.addIncident(event.incidentId, stored);
    thread.incidents.set(event.incidentId, event);
    thread.latest = event;
    if (event.incidentId === stored.rootIncidentId) {
      thread.root = event;
      stored.rootEvent = encodeEvent(event);
    }
    thread.updates += 1;

    const open = new Set(stored.openIncidents);
    if (event.state === 'resolved') open.delete(event.incidentId);
    else open.add(event.incidentId);
    stored.openIncidents = [...open];
    const allResolved = open.size === 0;
    thread.resolvedAt = allResolved ? event.at : undefined;
    stored.resolved = allResolved;
    stored.lastActivityAt = now.getTime();
    store.saveThread(stored);

    const newProposals = (event.proposals ?? []).filter((proposal) => !thread.shownProposals.has(proposal.proposalId));
    for (const proposal of newProposals) thread.shownProposals.add(proposal.proposalId);
    await this.#coalescer.offer(threadKey(stored), { thread, event, newProposals }, allResolved || newProposals.length > 0);
  }

  async #openThread(event: AlertEvent, alert: AlertCatalogueEntry, channel: string, groupKey: string): Promise<void> {
    const thread: ThreadRuntime = {
      stored: {
        channel,
        ts: '',
        groupKey,
        rootIncidentId: event.incidentId,
        lastActivityAt: this.#now().getTime(),
        resolved: false,
        openIncidents: [event.incidentId],
        rootEvent: encodeEvent(event),
      },
      alert,
      incidents: new Map([[event.incidentId, event]]),
      root: event,
      latest: event,
      updates: 0,
      shownProposals: new Set((event.proposals ?? []).map((proposal) => proposal.proposalId)),
      resolvedAt: undefined,
    };
    const message = renderRootMessage(this.#summary(thread), this.#options.links);
    let posted;
    try {
      posted = await this.#options.api.postMessage({ channel, ...message });
    } catch (error) {
      // The caller logs the rejection once; the error names the Slack error code and what to check.
      this.stats.failedCalls += 1;
      throw error;
    }
    this.stats.rootMessages += 1;
    thread.stored.channel = posted.channel;
    thread.stored.ts = posted.ts;
    this.#threads.set(threadKey(thread.stored), thread);
    // The root message shows this event, so the first reply waits a whole interval.
    this.#coalescer.markFlushed(threadKey(thread.stored));
    this.#options.store.saveThread(thread.stored);
    this.#options.store.addIncident(event.incidentId, thread.stored);
    this.#logger.info({ incidentId: event.incidentId, alertId: alert.id, channel: posted.channel, ts: posted.ts }, 'alert posted to Slack');
  }

  /** Returns the runtime of a stored thread, rebuilt from the stored root event after a restart. */
  #runtimeOf(stored: StoredThread, alert: AlertCatalogueEntry, event: AlertEvent): ThreadRuntime {
    let thread = this.#threads.get(threadKey(stored));
    if (!thread) {
      const root = stored.rootEvent ? decodeEvent(stored.rootEvent) : event;
      thread = { stored, alert, incidents: new Map(), root, latest: event, updates: 0, shownProposals: new Set(), resolvedAt: undefined };
      this.#threads.set(threadKey(stored), thread);
    }
    return thread;
  }

  async #flushThread(batch: ReplyBatch): Promise<void> {
    const { thread } = batch;
    const { api, links } = this.#options;
    const threadResolved = thread.resolvedAt !== undefined;
    const reply = renderThreadReply(
      {
        latest: batch.latest,
        events: batch.events,
        incidents: batch.incidents.size,
        opened: batch.opened,
        resolved: batch.resolved,
        since: batch.since,
        newProposals: batch.newProposals.filter((proposal) => !this.#decisions.has(proposal.proposalId)),
        threadResolved,
        decisionButtons: this.#decisionButtons,
      },
      links,
    );
    await api.postMessage({ channel: thread.stored.channel, threadTs: thread.stored.ts, ...reply });
    this.stats.threadReplies += 1;
    const root = renderRootMessage(this.#summary(thread), links);
    await api.updateMessage({ channel: thread.stored.channel, ts: thread.stored.ts, ...root });
    this.stats.rootUpdates += 1;
  }

  #summary(thread: ThreadRuntime): ThreadSummary {
    const now = this.#now().getTime();
    const incidents = [...thread.incidents.values()];
    const rootProposals = thread.root.proposals ?? [];
    const proposals = rootProposals.filter((proposal) => !this.#decisions.has(proposal.proposalId) && proposal.expiresAt.getTime() > now);
    const decisions = rootProposals.flatMap((proposal) => this.#decisions.get(proposal.proposalId) ?? []);
    return {
      alert: thread.alert,
      root: thread.root,
      latest: thread.latest,
      openIncidents: thread.stored.openIncidents.length,
      totalIncidents: Math.max(incidents.length, thread.stored.openIncidents.length),
      updates: thread.updates,
      proposals,
      decisions,
      decisionButtons: this.#decisionButtons,
      ...(thread.resolvedAt ? { resolvedAt: thread.resolvedAt } : {}),
    };
  }
}

function mergeUpdate(batch: ReplyBatch | undefined, update: ThreadUpdate): ReplyBatch {
  const next: ReplyBatch = batch ?? {
    thread: update.thread,
    latest: update.event,
    events: 0,
    incidents: new Set(),
    opened: 0,
    resolved: 0,
    since: update.event.at,
    newProposals: [],
  };
  next.latest = update.event;
  next.events += 1;
  next.incidents.add(update.event.incidentId);
  if (update.event.state === 'opened') next.opened += 1;
  if (update.event.state === 'resolved') next.resolved += 1;
  next.newProposals.push(...update.newProposals);
  return next;
}

function threadKey(thread: Pick<StoredThread, 'channel' | 'ts'>): string {
  return `${thread.channel}/${thread.ts}`;
}
