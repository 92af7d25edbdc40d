import type { Logger } from 'pino';
import { z } from 'zod';
import {
  baseSourceFields,
  buildSample,
  describeError,
  parseSourceConfig,
  redactUrl,
  resolveIntervalMs,
  type SampleOrigin,
} from './common.js';
import {
  type GroupDetails,
  type GroupInfo,
  type GroupKey,
  parseStreamIdMs,
  RedisStreamsClient,
  type StreamInfo,
  type StreamReadResult,
} from './redis-streams-client.js';
import type { LagSample, LagSource, PollResult } from './types.js';

export const REDIS_STREAMS_SOURCE_KIND = 'redis_streams';
export const DEFAULT_REDIS_STREAMS_POLL_INTERVAL_MS = 15_000;
export const DEFAULT_REDIS_STREAMS_TIMEOUT_MS = 5_000;

/** Entity suffix of a sample about a whole stream rather than one consumer group. */
const WHOLE_STREAM_GROUP = '*';

const groupEntrySchema = z.union([
  z.string().min(1),
  z.strictObject({
    name: z.string().min(1),
    /** Workflow of this group, in place of the stream's. */
    workflow: z.string().min(1).optional(),
  }),
]);

const streamEntrySchema = z.union([
  z.string().min(1),
  z.strictObject({
    /** Key of the stream. */
    name: z.string().min(1),
    /** Consumer groups to watch; without it every group of the stream is watched. */
    groups: z.array(groupEntrySchema).min(1).optional(),
    /** Workflow of this stream's groups, in place of the source's. */
    workflow: z.string().min(1).optional(),
  }),
]);

/** Config of one Redis server whose streams and consumer groups are watched as a lag source. */
export const redisStreamsSourceConfigSchema = z.strictObject({
  kind: z.literal(REDIS_STREAMS_SOURCE_KIND),
  ...baseSourceFields,
  /**
   * Redis URL, `redis://[user:password@]host:6379[/db]` or `rediss://` for TLS. An ACL user needs
   * `+time +xinfo +xrange +xpending +client|setname` and read access to the stream keys.
   * NOTE: Redis Cluster is not supported; a stream on another node reports down with a MOVED error.
   */
  url: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL'),
  /** Stream keys to watch, by name (every group) or with chosen groups. */
  streams: z.array(streamEntrySchema).min(1),
});

export type RedisStreamsSourceConfigInput = z.input<typeof redisStreamsSourceConfigSchema>;
export type RedisStreamsSourceConfig = z.output<typeof redisStreamsSourceConfigSchema>;

/** Services a source uses; all optional. */
export interface RedisStreamsSourceDeps {
  logger?: Logger;
}

interface GroupTarget {
  name: string;
  workflow: string;
}

interface StreamTarget {
  name: string;
  workflow: string;
  /** Chosen groups, or undefined to watch every group of the stream. */
  groups: GroupTarget[] | undefined;
}

/** A group found on the server in this poll, waiting for its details. */
interface FoundGroup {
  stream: string;
  target: GroupTarget;
  streamInfo: StreamInfo;
  info: GroupInfo;
}

/** Creates a Redis streams lag source; throws `COLLECTOR_ERR_SOURCE_CONFIG` on an invalid config. */
export function createRedisStreamsSource(
  config: RedisStreamsSourceConfigInput,
  deps: RedisStreamsSourceDeps = {},
): LagSource {
  return new RedisStreamsSource(
    parseSourceConfig(redisStreamsSourceConfigSchema, config, REDIS_STREAMS_SOURCE_KIND),
    deps,
  );
}

/**
 * Watches consumer groups of Redis streams. Depth is the count of entries not
 * yet delivered to the group (`lag` of `XINFO GROUPS`, Redis 7.0 and later).
 * In flight is the size of the group's pending entries list. Lag is the age
 * of the first entry after the group's last-delivered id: entry ids start
 * with the milliseconds at which Redis added them, so the age is the server
 * clock (`TIME`) minus that part of the id.
 *
 * Per the `XINFO GROUPS` documentation, Redis reports `lag` as nil when
 * entries after the group's position were deleted or the group's read counter
 * is unknown. Depth is then left unset, never zero, unless no entry follows
 * the group's position at all.
 */
export class RedisStreamsSource implements LagSource {
  readonly name: string;
  readonly kind = REDIS_STREAMS_SOURCE_KIND;
  readonly intervalMs: number;
  readonly integration: string;
  readonly workflow: string;

  readonly #logger: Logger | undefined;
  readonly #origin: SampleOrigin;
  readonly #urlText: string;
  readonly #streams: StreamTarget[];
  readonly #client: RedisStreamsClient;
  /** Groups seen per stream watched whole, so one that disappears is reported instead of vanishing. */
  readonly #seenGroups = new Map<string, Set<string>>();
  #down = false;

  constructor(config: RedisStreamsSourceConfig, deps: RedisStreamsSourceDeps = {}) {
    this.#logger = deps.logger;
    this.name = config.name;
    this.integration = config.integration;
    this.workflow = config.workflow ?? '';
    this.intervalMs = resolveIntervalMs(config, DEFAULT_REDIS_STREAMS_POLL_INTERVAL_MS);
    this.#origin = { integration: config.integration, source: config.name, sourceKind: REDIS_STREAMS_SOURCE_KIND };
    this.#urlText = redactUrl(config.url);
    this.#streams = config.streams.map((entry) => toStreamTarget(entry, this.workflow));
    this.#client = new RedisStreamsClient(
      config.url,
      config.timeoutMs ?? DEFAULT_REDIS_STREAMS_TIMEOUT_MS,
      `syncwatch-${config.name.replace(/\s+/g, '-')}`,
    );
  }

  async poll(now: Date): Promise<PollResult> {
    try {
      const samples = await this.#readSamples(now);
      this.#noteUp();
      return { samples, failures: [] };
    } catch (error) {
      // The server cannot be reached or fails every command: every target is down for the same reason.
      const reason = `cannot read Redis at ${this.#urlText}: ${describeError(error)}`;
      this.#client.reset();
      this.#noteDown(reason);
      return { samples: this.#streams.flatMap((stream) => this.#downSamplesOfStream(now, stream, reason)), failures: [] };
    }
  }

  async close(): Promise<void> {
    await this.#client.close();
  }

  async #readSamples(now: Date): Promise<LagSample[]> {
    const snapshot = await this.#client.readStreams(this.#streams.map((stream) => stream.name));
    const samples: LagSample[] = [];
    const found: FoundGroup[] = [];
    for (const stream of this.#streams) {
      const result = snapshot.streams.get(stream.name) ?? { found: false, detail: 'no reply' };
      samples.push(...this.#collectGroups(now, stream, result, found));
    }

    const keys: GroupKey[] = found.map(({ stream, info }) => ({
      stream,
      group: info.name,
      lastDeliveredId: info.lastDeliveredId,
    }));
    const results = await this.#client.readGroupDetails(keys);
    found.forEach((group, index) => {
      const result = results[index];
      if (result === undefined || !result.found) {
        samples.push(this.#downSample(now, group.stream, group.target, result?.detail ?? 'no reply'));
        return;
      }
      samples.push(this.#groupSample(now, snapshot.serverTimeMs, group, result.details));
    });
    return samples.sort((a, b) => a.entity.localeCompare(b.entity));
  }

  /**
   * Matches the groups that `XINFO GROUPS` returned against the stream's
   * target, adds those found to `found`, and returns samples for the rest:
   * missing streams and groups, and groups that disappeared.
   */
  #collectGroups(now: Date, stream: StreamTarget, result: StreamReadResult, found: FoundGroup[]): LagSample[] {
    if (!result.found) {
      const samples = this.#downSamplesOfStream(now, stream, result.detail);
      this.#seenGroups.delete(stream.name);
      return samples;
    }

    const byName = new Map(result.groups.map((info) => [info.name, info]));
    if (stream.groups !== undefined) {
      const samples: LagSample[] = [];
      for (const target of stream.groups) {
        const info = byName.get(target.name);
        if (info === undefined) {
          samples.push(this.#downSample(now, stream.name, target, `consumer group "${target.name}" not found on stream "${stream.name}"`));
        } else {
          found.push({ stream: stream.name, target, streamInfo: result.info, info });
        }
      }
      return samples;
    }

    const samples: LagSample[] = [];
    const previous = this.#seenGroups.get(stream.name) ?? new Set<string>();
    this.#seenGroups.set(stream.name, new Set(byName.keys()));
    for (const info of result.groups) {
      found.push({ stream: stream.name, target: { name: info.name, workflow: stream.workflow }, streamInfo: result.info, info });
    }
    // A group seen before and now gone is reported down once, so its series does not just stop.
    for (const name of previous) {
      if (byName.has(name)) continue;
      const detail = `consumer group "${name}" not found on stream "${stream.name}"; it was destroyed`;
      samples.push(this.#downSample(now, stream.name, { name, workflow: stream.workflow }, detail));
    }
    // A stream watched whole gets a sample of its own on every poll that finds it, with its group count as
    // consumers, so its series stays continuous when its first group is created.
    const streamSample = buildSample(this.#origin, now, entityOf(stream.name, WHOLE_STREAM_GROUP), stream.workflow, 'ok');
    streamSample.consumers = result.groups.length;
    if (result.groups.length === 0) streamSample.detail = `stream "${stream.name}" has no consumer groups`;
    streamSample.attributes = {
      stream: stream.name,
      stream_length: String(result.info.length),
      last_generated_id: result.info.lastGeneratedId,
    };
    samples.push(streamSample);
    return samples;
  }

  #groupSample(now: Date, serverTimeMs: number, group: FoundGroup, details: GroupDetails): LagSample {
    const { info, streamInfo } = group;
    const sample = buildSample(this.#origin, now, entityOf(group.stream, info.name), group.target.workflow, 'ok');
    sample.consumers = info.consumers;
    sample.inFlight = info.pending;
    sample.lagEstimated = false;

    const attributes: Record<string, string> = {
      stream: group.stream,
      group: info.name,
      last_delivered_id: info.lastDeliveredId,
      stream_length: String(streamInfo.length),
    };
    const notes: string[] = [];
    let clockAhead = false;
    const ageSeconds = (id: string): number => {
      const seconds = (serverTimeMs - parseStreamIdMs(id)) / 1000;
      clockAhead ||= seconds < 0;
      return Math.max(0, seconds);
    };

    if (info.entriesRead !== undefined && info.entriesRead !== null) attributes.entries_read = String(info.entriesRead);
    if (typeof info.lag === 'number') {
      sample.depth = info.lag;
    } else if (details.nextUndeliveredId === undefined) {
      // No entry follows the group's position, so nothing waits even when Redis reports no `lag`.
      sample.depth = 0;
      attributes.group_lag_unknown = 'true';
    } else {
      attributes.group_lag_unknown = 'true';
      notes.push(describeUnknownLag(info));
      if (info.lag === null && info.entriesRead !== undefined && info.entriesRead !== null && streamInfo.entriesAdded !== undefined) {
        // Deleted entries are counted too, so this is an upper bound.
        attributes.estimated_lag = String(Math.max(0, streamInfo.entriesAdded - info.entriesRead));
      }
    }

    // The first entry after the last-delivered id is the oldest one the group has not been delivered.
    if (details.nextUndeliveredId === undefined) {
      sample.lagSeconds = 0;
    } else {
      attributes.next_undelivered_id = details.nextUndeliveredId;
      sample.lagSeconds = ageSeconds(details.nextUndeliveredId);
    }

    if (details.oldestPending !== undefined) {
      attributes.oldest_pending_id = details.oldestPending.id;
      attributes.oldest_pending_consumer = details.oldestPending.consumer;
      attributes.oldest_pending_idle_seconds = (details.oldestPending.idleMs / 1000).toFixed(3);
      attributes.oldest_pending_deliveries = String(details.oldestPending.deliveries);
      attributes.oldest_pending_age_seconds = ageSeconds(details.oldestPending.id).toFixed(3);
    }
    if (details.minConsumerIdleMs !== undefined) {
      attributes.consumer_idle_seconds = (details.minConsumerIdleMs / 1000).toFixed(3);
    }
    if (clockAhead) attributes.clock_ahead = 'true';
    if (info.consumers === 0 && details.nextUndeliveredId !== undefined) attributes.no_consumers = 'true';
    sample.attributes = attributes;
    if (notes.length > 0) sample.detail = notes.join('; ');
    return sample;
  }

  #downSamplesOfStream(now: Date, stream: StreamTarget, detail: string): LagSample[] {
    const groups =
      stream.groups ??
      [...(this.#seenGroups.get(stream.name) ?? [])].sort().map((name) => ({ name, workflow: stream.workflow }));
    if (groups.length === 0) {
      return [this.#downSample(now, stream.name, { name: WHOLE_STREAM_GROUP, workflow: stream.workflow }, detail)];
    }
    return groups.map((group) => this.#downSample(now, stream.name, group, detail));
  }

  #downSample(now: Date, stream: string, group: GroupTarget, detail: string): LagSample {
    const sample = buildSample(this.#origin, now, entityOf(stream, group.name), group.workflow, 'source_down');
    sample.detail = detail;
    sample.attributes = { stream };
    return sample;
  }

  #noteDown(reason: string): void {
    if (this.#down) return;
    this.#down = true;
    this.#logger?.warn({ source: this.name, err: reason }, 'redis unavailable');
  }

  #noteUp(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#logger?.info({ source: this.name }, 'redis available again');
  }
}

/** Explains why the group's count of undelivered entries is unknown. */
function describeUnknownLag(info: GroupInfo): string {
  if (info.lag === undefined) {
    return 'undelivered entry count unknown: the server does not report consumer group lag (added in Redis 7.0)';
  }
  return (
    'undelivered entry count unknown: Redis reports lag as nil because entries after the group\'s ' +
    'last-delivered id were deleted or the group\'s read counter is unknown'
  );
}

function toStreamTarget(entry: z.output<typeof streamEntrySchema>, sourceWorkflow: string): StreamTarget {
  if (typeof entry === 'string') return { name: entry, workflow: sourceWorkflow, groups: undefined };
  const workflow = entry.workflow ?? sourceWorkflow;
  const groups = entry.groups?.map((group) =>
    typeof group === 'string' ? { name: group, workflow } : { name: group.name, workflow: group.workflow ?? workflow },
  );
  return { name: entry.name, workflow, groups };
}

function entityOf(stream: string, group: string): string {
  return `${stream}/${group}`;
}
