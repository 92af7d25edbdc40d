import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AlertEvent } from '../alert.js';
import type { Logger } from '../../server/logger.js';

/** The Slack message that carries one thread of incidents. */
export interface StoredThread {
  channel: string;
  ts: string;
  /** Alert id, integration and plant the thread groups by. */
  groupKey: string;
  rootIncidentId: string;
  /** Epoch milliseconds of the last change posted. */
  lastActivityAt: number;
  resolved: boolean;
  /** Incidents of the thread that are not resolved; the thread resolves when none is left. */
  openIncidents: string[];
  /** Latest event of the root incident as JSON, so a restarted service rewrites the root message with it. */
  rootEvent?: string;
}

interface StoreFile {
  version: 1;
  /** Threads keyed by `channel/ts`. */
  threads: Record<string, StoredThread>;
  /** Incident id to the key of its thread. */
  incidents: Record<string, string>;
}

/** Delay that folds a burst of changes into one file write, in milliseconds. */
const WRITE_DELAY_MS = 250;
/** Resolved threads stay this long, so a late update of a resolved incident still finds its thread. */
const RESOLVED_RETENTION_MS = 7 * 24 * 60 * 60_000;

/**
 * Keeps incident id → {channel, ts} in a JSON file under the data directory,
 * so a restarted service keeps posting into the same threads. Writes go to a
 * temporary file that replaces the old one, so a crash leaves either version
 * whole. Changes of the last 250 ms before a crash can be lost.
 */
export class SlackMessageStore {
  readonly #path: string;
  readonly #logger: Logger;
  #data: StoreFile = { version: 1, threads: {}, incidents: {} };
  #timer: NodeJS.Timeout | undefined;

  constructor(path: string, logger: Logger) {
    this.#path = path;
    this.#logger = logger;
    this.#load();
  }

  threadOfIncident(incidentId: string): StoredThread | undefined {
    const key = this.#data.incidents[incidentId];
    return key === undefined ? undefined : this.#data.threads[key];
  }

  /** Returns the newest unresolved thread of a group that had activity after `activeSince`. */
  openThreadOfGroup(groupKey: string, activeSince: number): StoredThread | undefined {
    let found: StoredThread | undefined;
    for (const thread of Object.values(this.#data.threads)) {
      if (thread.groupKey !== groupKey || thread.resolved || thread.lastActivityAt < activeSince) continue;
      if (!found || thread.lastActivityAt > found.lastActivityAt) found = thread;
    }
    return found;
  }

  saveThread(thread: StoredThread): void {
    this.#data.threads[threadKey(thread)] = { ...thread };
    this.#scheduleWrite();
  }

  addIncident(incidentId: string, thread: StoredThread): void {
    const key = threadKey(thread);
    if (this.#data.incidents[incidentId] === key) return;
    this.#data.incidents[incidentId] = key;
    this.#scheduleWrite();
  }

  /** Writes pending changes now. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#prune(Date.now());
    mkdirSync(dirname(this.#path), { recursive: true });
    const temporary = `${this.#path}.tmp`;
    writeFileSync(temporary, JSON.stringify(this.#data), { mode: 0o600 });
    renameSync(temporary, this.#path);
  }

  #scheduleWrite(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      try {
        this.flush();
      } catch (error) {
        this.#logger.error({ err: error, path: this.#path }, 'writing the Slack message state failed; threads may restart after a restart');
      }
    }, WRITE_DELAY_MS);
    this.#timer.unref();
  }

  #load(): void {
    let text: string;
    try {
      text = readFileSync(this.#path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return;
    }
    try {
      const parsed = JSON.parse(text) as StoreFile;
      if (parsed.version !== 1 || typeof parsed.threads !== 'object' || typeof parsed.incidents !== 'object') {
        throw new Error(`expected version 1 with threads and incidents, received version ${String(parsed.version)}`);
      }
      this.#data = parsed;
    } catch (error) {
      // A damaged file costs thread continuity, not alerts, so the service starts with new threads.
      this.#logger.error({ err: error, path: this.#path }, 'Slack message state is unreadable; new incidents start new threads');
    }
  }

  #prune(now: number): void {
    for (const [key, thread] of Object.entries(this.#data.threads)) {
      if (thread.resolved && thread.lastActivityAt < now - RESOLVED_RETENTION_MS) delete this.#data.threads[key];
    }
    for (const [incidentId, key] of Object.entries(this.#data.incidents)) {
      if (this.#data.threads[key] === undefined) delete this.#data.incidents[incidentId];
    }
  }
}

function threadKey(thread: Pick<StoredThread, 'channel' | 'ts'>): string {
  return `${thread.channel}/${thread.ts}`;
}

/** Serializes an event for `StoredThread.rootEvent`. */
export function encodeEvent(event: AlertEvent): string {
  return JSON.stringify(event);
}

/** Reads an event written by `encodeEvent`, turning its timestamps back into dates. */
export function decodeEvent(text: string): AlertEvent {
  const event = JSON.parse(text) as AlertEvent;
  const toDate = (value: Date | string) => new Date(value);
  event.at = toDate(event.at);
  if (event.window) event.window = { start: toDate(event.window.start), end: toDate(event.window.end) };
  if (event.predictedBreachAt) event.predictedBreachAt = toDate(event.predictedBreachAt);
  if (event.proposals) event.proposals = event.proposals.map((proposal) => ({ ...proposal, expiresAt: toDate(proposal.expiresAt) }));
  return event;
}
