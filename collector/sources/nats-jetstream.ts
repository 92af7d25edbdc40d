import type { ConsumerInfo } from '@nats-io/jetstream';
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
import { JetstreamClient } from './nats-jetstream-client.js';
import { estimateQueueLag, type QueueLagHistory } from './queue-lag-estimate.js';
import type { LagSample, LagSource, PollResult } from './types.js';

export const NATS_JETSTREAM_SOURCE_KIND = 'nats_jetstream';
export const DEFAULT_NATS_JETSTREAM_POLL_INTERVAL_MS = 15_000;
export const DEFAULT_NATS_JETSTREAM_TIMEOUT_MS = 5_000;

/** Entity suffix of a sample about a whole stream rather than one consumer. */
const WHOLE_STREAM_CONSUMER = '*';

/** NATS stream and consumer names may not contain whitespace, `.`, `*`, `>` or path separators. */
const NATS_NAME_PATTERN = /^[^\s.*>/\\]+$/;
const natsNameSchema = z.string().regex(NATS_NAME_PATTERN, 'expected a NATS name without whitespace, ".", "*", ">", "/" or "\\"');

const consumerEntrySchema = z.union([
  natsNameSchema,
  z.strictObject({
    name: natsNameSchema,
    /** Workflow of this consumer, in place of the stream's. */
    workflow: z.string().min(1).optional(),
  }),
]);

const streamEntrySchema = z.union([
  natsNameSchema,
  z.strictObject({
    name: natsNameSchema,
    /** Consumers to watch; without it every consumer of the stream is watched. */
    consumers: z.array(consumerEntrySchema).min(1).optional(),
    /** Workflow of this stream's consumers, in place of the source's. */
    workflow: z.string().min(1).optional(),
  }),
]);

const NATS_URL_PATTERN = /^(nats|tls):\/\/[^\s,]+$/;

/** Config of one NATS server or cluster whose JetStream consumers are watched as a lag source. */
export const natsJetstreamSourceConfigSchema = z.strictObject({
  kind: z.literal(NATS_JETSTREAM_SOURCE_KIND),
  ...baseSourceFields,
  /** Server URL, or several separated by commas (`nats://user:pass@host:4222`). */
  url: z
    .string()
    .refine(
      (value) => splitServerUrls(value).every((url) => NATS_URL_PATTERN.test(url)),
      'expected nats:// or tls:// URLs separated by commas',
    ),
  /** Path of a `.creds` file (user JWT and NKey seed) for servers that use decentralized auth. */
  credentialsFile: z.string().min(1).optional(),
  /** JetStream domain, for leaf nodes and hubs that run JetStream under a domain. */
  domain: z.string().min(1).optional(),
  /** Streams to watch, by name (every consumer) or with chosen consumers. */
  streams: z.array(streamEntrySchema).min(1),
});

export type NatsJetstreamSourceConfigInput = z.input<typeof natsJetstreamSourceConfigSchema>;
export type NatsJetstreamSourceConfig = z.output<typeof natsJetstreamSourceConfigSchema>;

/** Services a source uses; all optional. */
export interface NatsJetstreamSourceDeps {
  logger?: Logger;
  /** Client used in place of one built from the config's connection fields. */
  client?: JetstreamClient;
}

interface ConsumerTarget {
  name: string;
  workflow: string;
}

interface StreamTarget {
  name: string;
  workflow: string;
  /** Chosen consumers, or undefined to watch every consumer of the stream. */
  consumers: ConsumerTarget[] | undefined;
}

/** State kept between polls of one consumer. */
interface ConsumerHistory {
  observedAtMs: number;
  deliveredConsumerSeq: number;
  lag: QueueLagHistory;
}

/** Times read from the stream for one consumer. */
interface MessageTimes {
  nextUndeliveredMs?: number;
  oldestUnackedMs?: number;
  /** Error message of a failed message read. */
  readError?: string;
}

/** Creates a NATS JetStream lag source; throws `COLLECTOR_ERR_SOURCE_CONFIG` on an invalid config. */
export function createNatsJetstreamSource(
  config: NatsJetstreamSourceConfigInput,
  deps: NatsJetstreamSourceDeps = {},
): LagSource {
  return new NatsJetstreamSource(
    parseSourceConfig(natsJetstreamSourceConfigSchema, config, NATS_JETSTREAM_SOURCE_KIND),
    deps,
  );
}

/**
 * Watches JetStream consumers. Per consumer it reports messages not yet
 * delivered (`num_pending`) as depth, delivered but unacknowledged messages
 * (`num_ack_pending`) as in flight, and as lag the age of the next message
 * the consumer has not been delivered yet. That age comes from the message's
 * stored time, read from the stream leader. When the message cannot be read,
 * the age is estimated from the delivery rate between polls.
 */
export class NatsJetstreamSource implements LagSource {
  readonly name: string;
  readonly kind = NATS_JETSTREAM_SOURCE_KIND;
  readonly intervalMs: number;
  readonly integration: string;
  readonly workflow: string;

  readonly #logger: Logger | undefined;
  readonly #origin: SampleOrigin;
  readonly #serversText: string;
  readonly #streams: StreamTarget[];
  readonly #client: JetstreamClient;
  readonly #history = new Map<string, ConsumerHistory>();
  /** Consumers seen per listed stream, so one that disappears is reported instead of vanishing. */
  readonly #seenConsumers = new Map<string, Set<string>>();
  #down = false;

  constructor(config: NatsJetstreamSourceConfig, deps: NatsJetstreamSourceDeps = {}) {
    this.#logger = deps.logger;
    this.name = config.name;
    this.integration = config.integration;
    this.workflow = config.workflow ?? '';
    this.intervalMs = resolveIntervalMs(config, DEFAULT_NATS_JETSTREAM_POLL_INTERVAL_MS);
    this.#origin = { integration: config.integration, source: config.name, sourceKind: NATS_JETSTREAM_SOURCE_KIND };
    const servers = splitServerUrls(config.url);
    this.#serversText = servers.map(redactUrl).join(', ');
    this.#streams = config.streams.map((entry) => toStreamTarget(entry, this.workflow));
    this.#client =
      deps.client ??
      new JetstreamClient({
        servers,
        credentialsFile: config.credentialsFile,
        domain: config.domain,
        timeoutMs: config.timeoutMs ?? DEFAULT_NATS_JETSTREAM_TIMEOUT_MS,
        connectionName: `syncwatch ${config.name}`,
      });
  }

  async poll(now: Date): Promise<PollResult> {
    const samples: LagSample[] = [];
    try {
      for (const stream of this.#streams) samples.push(...(await this.#pollStream(stream, now)));
    } catch (error) {
      // The server cannot be reached or fails every request: every target is down for the same reason.
      const reason = `cannot read JetStream at ${this.#serversText}: ${describeError(error)}`;
      await this.#client.reset();
      this.#noteDown(reason);
      return { samples: this.#streams.flatMap((stream) => this.#downSamplesOfStream(now, stream, reason)), failures: [] };
    }
    this.#noteUp();
    return { samples, failures: [] };
  }

  async close(): Promise<void> {
    await this.#client.close();
  }

  async #pollStream(stream: StreamTarget, now: Date): Promise<LagSample[]> {
    if (stream.consumers !== undefined) {
      return Promise.all(
        stream.consumers.map(async (consumer) => {
          const result = await this.#client.readConsumer(stream.name, consumer.name);
          if (!result.found) {
            this.#history.delete(entityOf(stream.name, consumer.name));
            return this.#downSample(now, stream.name, consumer, result.detail);
          }
          return this.#consumerSample(now, stream.name, consumer.workflow, result.info);
        }),
      );
    }

    const infos = await this.#client.listConsumers(stream.name);
    const previous = this.#seenConsumers.get(stream.name) ?? new Set<string>();
    if (infos === undefined) {
      this.#forgetStream(stream.name);
      return this.#downSamplesOfStream(now, stream, `stream "${stream.name}" not found`);
    }

    const current = new Set(infos.map((info) => info.name));
    this.#seenConsumers.set(stream.name, current);
    const samples = await Promise.all(
      infos
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((info) => this.#consumerSample(now, stream.name, stream.workflow, info)),
    );
    // A consumer seen before and now gone is reported down once, so its series does not just stop.
    for (const name of previous) {
      if (current.has(name)) continue;
      this.#history.delete(entityOf(stream.name, name));
      const detail = `consumer "${name}" not found on stream "${stream.name}"; it was deleted or, if ephemeral, expired`;
      samples.push(this.#downSample(now, stream.name, { name, workflow: stream.workflow }, detail));
    }
    // A stream watched whole gets a sample of its own on every poll that finds it, so its series stays
    // continuous when its first consumer is added or its last one removed.
    const streamSample = buildSample(
      this.#origin,
      now,
      entityOf(stream.name, WHOLE_STREAM_CONSUMER),
      stream.workflow,
      'ok',
    );
    streamSample.consumers = infos.length;
    if (infos.length === 0) streamSample.detail = `stream "${stream.name}" has no consumers`;
    streamSample.attributes = { stream: stream.name };
    samples.push(streamSample);
    return samples;
  }

  async #consumerSample(now: Date, stream: string, workflow: string, info: ConsumerInfo): Promise<LagSample> {
    const entity = entityOf(stream, info.name);
    const sample = buildSample(this.#origin, now, entity, workflow, 'ok');
    // Servers from 2.10 stamp the info with their clock (`ts`, per the @nats-io/jetstream
    // typings), the same clock that stamps messages.
    const referenceMs = parseTimestampMs(info.ts) ?? now.getTime();
    const isPush = info.config.deliver_subject !== undefined && info.config.deliver_subject !== '';
    const pushBound = info.push_bound === true;

    sample.depth = info.num_pending;
    sample.inFlight = info.num_ack_pending;
    if (isPush) sample.consumers = pushBound ? 1 : 0;

    const previous = this.#history.get(entity);
    let outflowPerSecond: number | undefined;
    if (previous !== undefined && referenceMs > previous.observedAtMs) {
      // Deliveries include redeliveries, so this is the delivery rate, not the ack rate.
      const delivered = Math.max(0, info.delivered.consumer_seq - previous.deliveredConsumerSeq);
      outflowPerSecond = (delivered * 1000) / (referenceMs - previous.observedAtMs);
      sample.outflowPerSecond = outflowPerSecond;
    }

    const times = await this.#readMessageTimes(stream, info);
    // A pull consumer has no bound client to count, so pending pull requests stand in for consumers.
    let consumers = info.num_waiting;
    if (isPush) consumers = pushBound ? 1 : 0;
    const estimate = estimateQueueLag(
      {
        observedAtMs: referenceMs,
        depth: info.num_pending,
        consumers,
        outflowPerSecond,
        headTimestampMs: times.nextUndeliveredMs,
      },
      previous?.lag,
    );
    this.#history.set(entity, {
      observedAtMs: referenceMs,
      deliveredConsumerSeq: info.delivered.consumer_seq,
      lag: estimate.history,
    });
    if (estimate.lagSeconds !== undefined) sample.lagSeconds = estimate.lagSeconds;
    sample.lagEstimated = estimate.lagEstimated;

    const attributes: Record<string, string> = {
      stream,
      consumer: info.name,
      consumer_type: isPush ? 'push' : 'pull',
      redelivered: String(info.num_redelivered),
      delivered_stream_seq: String(info.delivered.stream_seq),
      ack_floor_stream_seq: String(info.ack_floor.stream_seq),
    };
    if (isPush) attributes.push_bound = String(pushBound);
    else attributes.waiting = String(info.num_waiting);
    if (info.paused === true) attributes.paused = 'true';

    let clockAhead = estimate.clockAhead;
    const lastActiveMs = parseTimestampMs(info.delivered.last_active);
    if (lastActiveMs !== undefined) {
      const seconds = (referenceMs - lastActiveMs) / 1000;
      clockAhead ||= seconds < 0;
      attributes.since_last_delivery_seconds = Math.max(0, seconds).toFixed(3);
    }
    if (times.oldestUnackedMs !== undefined) {
      const seconds = (referenceMs - times.oldestUnackedMs) / 1000;
      clockAhead ||= seconds < 0;
      attributes.oldest_unacked_seconds = Math.max(0, seconds).toFixed(3);
    }
    if (clockAhead) attributes.clock_ahead = 'true';
    if (isPush && !pushBound && info.num_pending > 0) attributes.no_consumers = 'true';
    sample.attributes = attributes;

    const details = [times.readError, estimate.reason].filter((text): text is string => text !== undefined);
    if (details.length > 0) sample.detail = details.join('; ');
    return sample;
  }

  /**
   * Reads the stored time of the next undelivered message and of the oldest
   * unacknowledged one. A failed read leaves the time undefined, so the lag
   * is estimated, and the error goes into the sample's detail.
   */
  async #readMessageTimes(stream: string, info: ConsumerInfo): Promise<MessageTimes> {
    const subjects = filterSubjectsOf(info);
    const times: MessageTimes = {};
    try {
      if (info.num_pending > 0) {
        const time = await this.#client.readMessageTime(stream, info.delivered.stream_seq + 1, subjects);
        if (time !== undefined) times.nextUndeliveredMs = time.getTime();
      }
      if (info.num_ack_pending > 0) {
        // Everything up to the ack floor is acknowledged, so the next message after it is unacknowledged.
        const time = await this.#client.readMessageTime(stream, info.ack_floor.stream_seq + 1, subjects);
        if (time !== undefined) times.oldestUnackedMs = time.getTime();
      }
    } catch (error) {
      times.readError = `cannot read the next message of stream "${stream}": ${describeError(error)}`;
    }
    return times;
  }

  #downSamplesOfStream(now: Date, stream: StreamTarget, detail: string): LagSample[] {
    const consumers =
      stream.consumers ??
      [...(this.#seenConsumers.get(stream.name) ?? [])].sort().map((name) => ({ name, workflow: stream.workflow }));
    if (consumers.length === 0) {
      return [this.#downSample(now, stream.name, { name: WHOLE_STREAM_CONSUMER, workflow: stream.workflow }, detail)];
    }
    return consumers.map((consumer) => this.#downSample(now, stream.name, consumer, detail));
  }

  #downSample(now: Date, stream: string, consumer: ConsumerTarget, detail: string): LagSample {
    const sample = buildSample(this.#origin, now, entityOf(stream, consumer.name), consumer.workflow, 'source_down');
    sample.detail = detail;
    sample.attributes = { stream };
    return sample;
  }

  #forgetStream(stream: string): void {
    for (const name of this.#seenConsumers.get(stream) ?? []) this.#history.delete(entityOf(stream, name));
  }

  #noteDown(reason: string): void {
    if (this.#down) return;
    this.#down = true;
    this.#logger?.warn({ source: this.name, err: reason }, 'jetstream unavailable');
  }

  #noteUp(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#logger?.info({ source: this.name }, 'jetstream available again');
  }
}

function toStreamTarget(entry: z.output<typeof streamEntrySchema>, sourceWorkflow: string): StreamTarget {
  if (typeof entry === 'string') return { name: entry, workflow: sourceWorkflow, consumers: undefined };
  const workflow = entry.workflow ?? sourceWorkflow;
  const consumers = entry.consumers?.map((consumer) =>
    typeof consumer === 'string'
      ? { name: consumer, workflow }
      : { name: consumer.name, workflow: consumer.workflow ?? workflow },
  );
  return { name: entry.name, workflow, consumers };
}

function splitServerUrls(text: string): string[] {
  return text
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url.length > 0);
}

function entityOf(stream: string, consumer: string): string {
  return `${stream}/${consumer}`;
}

/** Returns the consumer's filter subjects, or `>` (every subject) when it has none. */
function filterSubjectsOf(info: ConsumerInfo): string[] {
  const subjects = info.config.filter_subjects?.filter((subject) => subject.length > 0) ?? [];
  if (subjects.length > 0) return subjects;
  const subject = info.config.filter_subject;
  return subject !== undefined && subject.length > 0 ? [subject] : ['>'];
}

/**
 * Parses an RFC 3339 timestamp from the server into milliseconds. The client
 * types `last_active` as nanoseconds, but NATS Server sends a timestamp string.
 */
function parseTimestampMs(value: unknown): number | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
