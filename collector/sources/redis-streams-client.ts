import { Redis } from 'ioredis';
import { describeError } from './common.js';

/** Fields of one consumer group from `XINFO GROUPS`. */
export interface GroupInfo {
  name: string;
  consumers: number;
  /** Entries delivered to the group's consumers and not yet acknowledged (the PEL size). */
  pending: number;
  lastDeliveredId: string;
  /** Logical count of entries read by the group; null when Redis cannot compute it, undefined before Redis 7.0. */
  entriesRead: number | null | undefined;
  /** Entries not yet delivered to the group; null when Redis cannot compute it, undefined before Redis 7.0. */
  lag: number | null | undefined;
}

/** Fields of one stream from `XINFO STREAM`. */
export interface StreamInfo {
  length: number;
  lastGeneratedId: string;
  /** Entries ever added to the stream; undefined before Redis 7.0. */
  entriesAdded: number | undefined;
}

/** One stream read in a poll: its info and groups, or why it could not be read. */
export type StreamReadResult =
  | { found: true; info: StreamInfo; groups: GroupInfo[] }
  | { found: false; detail: string };

/** The oldest entry in a group's pending entries list. */
export interface OldestPendingEntry {
  id: string;
  consumer: string;
  idleMs: number;
  deliveries: number;
}

/** Delivery state of one group beyond `XINFO GROUPS`. */
export interface GroupDetails {
  /** Id of the first entry after the group's last-delivered id, or undefined when there is none. */
  nextUndeliveredId: string | undefined;
  oldestPending: OldestPendingEntry | undefined;
  /** Smallest idle time among the group's consumers, or undefined when the group has none. */
  minConsumerIdleMs: number | undefined;
}

/** Details of one group, or why they could not be read. */
export type GroupDetailsResult = { found: true; details: GroupDetails } | { found: false; detail: string };

/** A group to read details of. */
export interface GroupKey {
  stream: string;
  group: string;
  lastDeliveredId: string;
}

/** Stream and group reads of one poll, with the server clock at the start of the poll. */
export interface StreamsSnapshot {
  serverTimeMs: number;
  streams: Map<string, StreamReadResult>;
}

/**
 * One Redis connection for reading streams, opened on first use. It does not
 * retry by itself: a lost connection ends, the read fails, and the next read
 * opens a new connection, so a poll never waits on a reconnect loop.
 */
export class RedisStreamsClient {
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #connectionName: string;
  #redis: Redis | undefined;
  /** Last error the connection emitted, which explains a closed connection better than ioredis's own message. */
  #lastError: unknown;

  constructor(url: string, timeoutMs: number, connectionName: string) {
    this.#url = url;
    this.#timeoutMs = timeoutMs;
    this.#connectionName = connectionName;
  }

  /** Reads the server clock (`TIME`), then `XINFO STREAM` and `XINFO GROUPS` of each stream, in one pipeline. */
  async readStreams(streams: readonly string[]): Promise<StreamsSnapshot> {
    const redis = await this.#open();
    const pipeline = redis.pipeline().time();
    for (const stream of streams) pipeline.call('XINFO', 'STREAM', stream).call('XINFO', 'GROUPS', stream);
    const replies = await this.#run(pipeline.exec());

    const [timeError, timeReply] = replies[0] ?? [new Error('no reply to TIME'), undefined];
    if (timeError) throw timeError;
    const snapshot: StreamsSnapshot = { serverTimeMs: parseServerTime(timeReply), streams: new Map() };
    streams.forEach((stream, index) => {
      const [infoError, infoReply] = replies[1 + 2 * index] ?? [new Error('no reply to XINFO STREAM'), undefined];
      const [groupsError, groupsReply] = replies[2 + 2 * index] ?? [new Error('no reply to XINFO GROUPS'), undefined];
      const error = infoError ?? groupsError;
      if (error) {
        snapshot.streams.set(stream, { found: false, detail: describeStreamError(stream, error) });
        return;
      }
      const groups = (groupsReply as unknown[]).map((entry) => parseGroupInfo(toFieldMap(entry)));
      snapshot.streams.set(stream, { found: true, info: parseStreamInfo(toFieldMap(infoReply)), groups });
    });
    return snapshot;
  }

  /**
   * Reads, for each group, the first entry after its last-delivered id
   * (`XRANGE` with an exclusive start), the oldest pending entry (`XPENDING`
   * extended form) and its consumers' idle times (`XINFO CONSUMERS`), in one pipeline.
   */
  async readGroupDetails(groups: readonly GroupKey[]): Promise<GroupDetailsResult[]> {
    if (groups.length === 0) return [];
    const redis = await this.#open();
    const pipeline = redis.pipeline();
    for (const { stream, group, lastDeliveredId } of groups) {
      pipeline
        .call('XRANGE', stream, `(${lastDeliveredId}`, '+', 'COUNT', '1')
        .call('XPENDING', stream, group, '-', '+', '1')
        .call('XINFO', 'CONSUMERS', stream, group);
    }
    const replies = await this.#run(pipeline.exec());
    return groups.map(({ stream, group }, index) => {
      const groupReplies = replies.slice(3 * index, 3 * index + 3);
      const failed = groupReplies.find(([error]) => error !== null)?.[0];
      if (failed || groupReplies.length < 3) {
        // The group or stream was deleted between the two pipelines, or a command failed.
        const reason = failed ? describeError(failed) : 'missing pipeline reply';
        const detail = /NOGROUP|no such key/i.test(reason)
          ? `consumer group "${group}" not found on stream "${stream}"`
          : `cannot read consumer group "${group}" of stream "${stream}": ${reason}`;
        return { found: false, detail };
      }
      const [rangeReply, pendingReply, consumersReply] = groupReplies.map(([, reply]) => reply as unknown[]);
      return { found: true, details: parseGroupDetails(rangeReply ?? [], pendingReply ?? [], consumersReply ?? []) };
    });
  }

  /** Drops the connection after a failed read, so the next read opens a fresh one. */
  reset(): void {
    this.#redis?.disconnect();
    this.#redis = undefined;
  }

  async close(): Promise<void> {
    const redis = this.#redis;
    this.#redis = undefined;
    if (redis === undefined) return;
    await redis.quit().catch(() => redis.disconnect());
  }

  async #open(): Promise<Redis> {
    if (this.#redis !== undefined && this.#redis.status === 'ready') return this.#redis;
    this.reset();
    this.#lastError = undefined;
    const redis = new Redis(this.#url, {
      lazyConnect: true,
      connectionName: this.#connectionName,
      connectTimeout: this.#timeoutMs,
      commandTimeout: this.#timeoutMs,
      retryStrategy: () => null,
      // The ready check sends INFO, which a least-privilege ACL user may not run.
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    // Without a listener ioredis prints every connection error; the poll reports it instead.
    redis.on('error', (error: unknown) => {
      this.#lastError = error;
    });
    try {
      await redis.connect();
    } catch (error) {
      redis.disconnect();
      throw this.#explain(error);
    }
    this.#redis = redis;
    return redis;
  }

  async #run<T>(promise: Promise<T | null>): Promise<T> {
    try {
      const result = await promise;
      if (result === null) throw new Error('pipeline was not sent because the connection is closed');
      return result;
    } catch (error) {
      this.reset();
      throw this.#explain(error);
    }
  }

  /** Prefers the socket error the connection emitted (`ECONNREFUSED ...`) over "Connection is closed.". */
  #explain(error: unknown): unknown {
    if (this.#lastError === undefined || this.#lastError === error) return error;
    return new Error(`${describeError(error)} (${describeError(this.#lastError)})`, { cause: error });
  }
}

function parseGroupDetails(rangeReply: unknown[], pendingReply: unknown[], consumersReply: unknown[]): GroupDetails {
  const next = rangeReply[0] as [string, unknown] | undefined;
  const pending = pendingReply[0] as [string, string, number, number] | undefined;
  const idleTimes = consumersReply.map((entry) => Number(toFieldMap(entry).get('idle')));
  const details: GroupDetails = {
    nextUndeliveredId: next?.[0],
    oldestPending: undefined,
    minConsumerIdleMs: idleTimes.length > 0 ? Math.min(...idleTimes) : undefined,
  };
  if (pending !== undefined) {
    details.oldestPending = {
      id: pending[0],
      consumer: pending[1],
      idleMs: Number(pending[2]),
      deliveries: Number(pending[3]),
    };
  }
  return details;
}

function describeStreamError(stream: string, error: Error): string {
  if (/no such key/i.test(error.message)) return `stream "${stream}" not found`;
  if (/WRONGTYPE/.test(error.message)) return `key "${stream}" is not a stream`;
  return `cannot read stream "${stream}": ${describeError(error)}`;
}

/** Turns a flat `[field, value, field, value, ...]` reply into a map. */
function toFieldMap(reply: unknown): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  if (!Array.isArray(reply)) return fields;
  for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]);
  return fields;
}

function parseGroupInfo(fields: Map<string, unknown>): GroupInfo {
  return {
    name: String(fields.get('name')),
    consumers: Number(fields.get('consumers')),
    pending: Number(fields.get('pending')),
    lastDeliveredId: String(fields.get('last-delivered-id')),
    entriesRead: parseOptionalCount(fields, 'entries-read'),
    lag: parseOptionalCount(fields, 'lag'),
  };
}

function parseStreamInfo(fields: Map<string, unknown>): StreamInfo {
  const entriesAdded = parseOptionalCount(fields, 'entries-added');
  return {
    length: Number(fields.get('length')),
    lastGeneratedId: String(fields.get('last-generated-id')),
    entriesAdded: entriesAdded ?? undefined,
  };
}

/** Returns undefined when the field is absent (older Redis) and null when Redis sent nil. */
function parseOptionalCount(fields: Map<string, unknown>, name: string): number | null | undefined {
  if (!fields.has(name)) return undefined;
  const value = fields.get(name);
  return value === null ? null : Number(value);
}

/** Converts the `TIME` reply (`[seconds, microseconds]`) into milliseconds. */
function parseServerTime(reply: unknown): number {
  if (!Array.isArray(reply) || reply.length < 2) {
    throw new Error(`invalid TIME reply ${JSON.stringify(reply)}: expected [seconds, microseconds]`);
  }
  return Number(reply[0]) * 1000 + Math.floor(Number(reply[1]) / 1000);
}

/** Returns the milliseconds part of a stream id `<ms>-<seq>`. */
export function parseStreamIdMs(id: string): number {
  const ms = Number(id.split('-', 1)[0]);
  if (!Number.isFinite(ms)) throw new Error(`invalid stream id "${id}": expected <milliseconds>-<sequence>`);
  return ms;
}
