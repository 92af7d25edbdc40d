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
import { addCondition } from './lag-conditions.js';
import { estimateQueueLag, type QueueLagHistory } from './queue-lag-estimate.js';
import { AmqpQueueChecker } from './rabbitmq-amqp.js';
import { ManagementClient, type ManagementQueue } from './rabbitmq-management.js';
import type { LagSample, LagSource, PollResult } from './types.js';
import { detectUnackedStall, type UnackedHistory } from './unacked-stall.js';

export const RABBITMQ_SOURCE_KIND = 'rabbitmq';
export const DEFAULT_RABBITMQ_POLL_INTERVAL_MS = 15_000;
export const DEFAULT_RABBITMQ_TIMEOUT_MS = 5_000;
/** Context of every sample read over AMQP, whose passive declare does not count delivered, unacknowledged messages. */
export const AMQP_UNACKED_NOT_VISIBLE_DETAIL =
  'unacknowledged messages are not visible over AMQP, so a consumer that stopped acknowledging shows no lag. Set managementUrl to detect it';

const queueEntrySchema = z.union([
  z.string().min(1),
  z.strictObject({
    name: z.string().min(1),
    /** Workflow of this queue, in place of the source's. */
    workflow: z.string().min(1).optional(),
  }),
]);

/** Config of one RabbitMQ connection watched as a lag source. */
export const rabbitmqSourceConfigSchema = z
  .strictObject({
    kind: z.literal(RABBITMQ_SOURCE_KIND),
    ...baseSourceFields,
    /** AMQP URL; its path is the virtual host (`amqp://user:pass@host:5672/vhost`). */
    url: z.string().regex(/^amqps?:\/\//, 'expected an amqp:// or amqps:// URL'),
    /** Management API base URL (`http://host:15672`); without it only AMQP counts are read. */
    managementUrl: z.string().regex(/^https?:\/\//, 'expected an http:// or https:// URL').optional(),
    /** Queues to watch, by name or with their own workflow. */
    queues: z.array(queueEntrySchema).optional(),
    /** Regular expression; every queue of the virtual host whose name matches is watched. Needs `managementUrl`. */
    queuePattern: z
      .string()
      .min(1)
      .refine(isValidRegExp, 'expected a valid JavaScript regular expression')
      .optional(),
  })
  .refine((config) => (config.queues?.length ?? 0) > 0 || config.queuePattern !== undefined, {
    message: 'expected "queues" (a list of queue names) or "queuePattern" (a regular expression)',
    path: ['queues'],
  })
  .refine((config) => config.queuePattern === undefined || config.managementUrl !== undefined, {
    message: 'expected "managementUrl" as well: listing queues by pattern needs the management API',
    path: ['queuePattern'],
  });

export type RabbitmqSourceConfigInput = z.input<typeof rabbitmqSourceConfigSchema>;
export type RabbitmqSourceConfig = z.output<typeof rabbitmqSourceConfigSchema>;

/** Services a source uses; all optional. */
export interface SourceDeps {
  logger?: Logger;
}

interface QueueTarget {
  name: string;
  workflow: string;
}

/** One queue's counts from either path, before lag is derived. */
interface QueueCounts {
  depth: number;
  consumers: number;
  inFlight?: number;
  inflowPerSecond?: number;
  outflowPerSecond?: number;
  headTimestampMs?: number;
  attributes: Record<string, string>;
}

/** Creates a RabbitMQ lag source; throws `COLLECTOR_ERR_SOURCE_CONFIG` on an invalid config. */
export function createRabbitmqSource(config: RabbitmqSourceConfigInput, deps: SourceDeps = {}): LagSource {
  return new RabbitmqSource(parseSourceConfig(rabbitmqSourceConfigSchema, config, RABBITMQ_SOURCE_KIND), deps);
}

/**
 * Watches the queues of one RabbitMQ virtual host. Counts, rates and the
 * head message's timestamp come from the management API when it is set and
 * reachable. Otherwise ready messages and consumers come from passive AMQP
 * declares, and the lag is estimated.
 */
export class RabbitmqSource implements LagSource {
  readonly name: string;
  readonly kind = RABBITMQ_SOURCE_KIND;
  readonly intervalMs: number;
  readonly integration: string;
  readonly workflow: string;

  readonly #config: RabbitmqSourceConfig;
  readonly #logger: Logger | undefined;
  readonly #origin: SampleOrigin;
  readonly #vhost: string;
  readonly #pattern: RegExp | undefined;
  readonly #amqp: AmqpQueueChecker;
  readonly #management: ManagementClient | undefined;
  readonly #history = new Map<string, QueueLagHistory>();
  readonly #unackedHistory = new Map<string, UnackedHistory>();
  /** Queues that matched `queuePattern` at the last management read, checked over AMQP when the API is down. */
  #matchedQueues: QueueTarget[] = [];
  #managementDown = false;

  constructor(config: RabbitmqSourceConfig, deps: SourceDeps = {}) {
    this.#config = config;
    this.#logger = deps.logger;
    this.name = config.name;
    this.integration = config.integration;
    this.workflow = config.workflow ?? '';
    this.intervalMs = resolveIntervalMs(config, DEFAULT_RABBITMQ_POLL_INTERVAL_MS);
    this.#origin = { integration: config.integration, source: config.name, sourceKind: RABBITMQ_SOURCE_KIND };
    const timeoutMs = config.timeoutMs ?? DEFAULT_RABBITMQ_TIMEOUT_MS;
    const url = new URL(config.url);
    this.#vhost = url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : '/';
    this.#pattern = config.queuePattern === undefined ? undefined : new RegExp(config.queuePattern);
    this.#amqp = new AmqpQueueChecker(config.url, timeoutMs, `syncwatch ${config.name}`);
    if (config.managementUrl !== undefined) {
      const credentials = {
        username: url.username ? decodeURIComponent(url.username) : 'guest',
        password: url.password ? decodeURIComponent(url.password) : 'guest',
      };
      this.#management = new ManagementClient(config.managementUrl, credentials, timeoutMs);
    }
  }

  async poll(now: Date): Promise<PollResult> {
    let managementError: string | undefined;
    if (this.#management) {
      try {
        const queues = await this.#management.readQueues(this.#vhost);
        this.#noteManagementUp();
        return { samples: this.#samplesFromManagement(queues, now), failures: [] };
      } catch (error) {
        managementError = describeError(error);
        this.#noteManagementDown(managementError);
      }
    }
    return { samples: await this.#samplesFromAmqp(now, managementError), failures: [] };
  }

  async close(): Promise<void> {
    await this.#amqp.close();
  }

  #namedTargets(): QueueTarget[] {
    return (this.#config.queues ?? []).map((entry) =>
      typeof entry === 'string'
        ? { name: entry, workflow: this.workflow }
        : { name: entry.name, workflow: entry.workflow ?? this.workflow },
    );
  }

  #samplesFromManagement(queues: Map<string, ManagementQueue>, now: Date): LagSample[] {
    const targets = this.#namedTargets();
    const named = new Set(targets.map((target) => target.name));
    if (this.#pattern) {
      const matched = [...queues.keys()]
        .filter((name) => !named.has(name) && this.#pattern!.test(name))
        .sort()
        .map((name) => ({ name, workflow: this.workflow }));
      // A queue that matched before and is gone is reported once, so its series does not just stop.
      const current = new Set(matched.map((target) => target.name));
      for (const previous of this.#matchedQueues) {
        if (!current.has(previous.name)) targets.push(previous);
      }
      this.#matchedQueues = matched;
      targets.push(...matched);
    }

    return targets.map((target) => {
      const queue = queues.get(target.name);
      if (!queue) {
        this.#history.delete(target.name);
        this.#unackedHistory.delete(target.name);
        return this.#downSample(now, target, `queue "${target.name}" not found in vhost "${this.#vhost}"`);
      }
      const counts: QueueCounts = {
        depth: queue.messagesReady,
        inFlight: queue.messagesUnacknowledged,
        consumers: queue.consumers,
        attributes: { via: 'management', vhost: this.#vhost },
      };
      if (queue.publishPerSecond !== undefined) counts.inflowPerSecond = queue.publishPerSecond;
      if (queue.deliverPerSecond !== undefined) counts.outflowPerSecond = queue.deliverPerSecond;
      if (queue.headTimestampMs !== undefined) counts.headTimestampMs = queue.headTimestampMs;
      if (queue.type !== undefined) counts.attributes.queue_type = queue.type;
      if (queue.state !== undefined) counts.attributes.queue_state = queue.state;
      const sample = this.#okSample(now, target, counts);
      this.#applyUnackedStall(sample, queue, now);
      return sample;
    });
  }

  /**
   * Sets `stuck`, the `unacked_stalled` condition and a lag of at least the
   * stall's length when the queue's consumers hold messages without
   * acknowledging any. `stuck` stays undefined while one poll cannot tell.
   */
  #applyUnackedStall(sample: LagSample, queue: ManagementQueue, now: Date): void {
    const reading = {
      observedAtMs: now.getTime(),
      unacknowledged: queue.messagesUnacknowledged,
      depth: queue.messagesReady,
      ackPerSecond: queue.ackPerSecond,
      ackTotal: queue.ackTotal,
      deliveredTotal: queue.deliveredTotal,
    };
    const stall = detectUnackedStall(reading, this.#unackedHistory.get(queue.name));
    this.#unackedHistory.set(queue.name, stall.history);
    if (stall.state === 'clear') sample.stuck = 0;
    if (stall.state !== 'stalled') return;

    sample.stuck = queue.messagesUnacknowledged;
    addCondition(sample, 'unacked_stalled');
    const since = new Date(stall.stalledSinceMs).toISOString();
    sample.attributes = { ...sample.attributes, unacked_stalled_since: since };
    if (sample.lagSeconds === undefined || sample.lagSeconds < stall.stalledSeconds) {
      // NOTE: the stall is measured from the first poll that saw it, so one that began earlier reads shorter than it is.
      sample.lagSeconds = stall.stalledSeconds;
      sample.lagEstimated = true;
    }
    sample.detail = `${queue.messagesUnacknowledged} messages unacknowledged with no acknowledgement since ${since}`;
  }

  async #samplesFromAmqp(now: Date, managementError: string | undefined): Promise<LagSample[]> {
    const targets = [...this.#namedTargets(), ...this.#matchedQueues];
    const prefix = managementError === undefined ? '' : `management API unavailable (${managementError}); `;
    if (targets.length === 0) {
      // Only a pattern is configured and the API has never listed the queues.
      const entity = `/${this.#config.queuePattern ?? ''}/`;
      return [this.#downSample(now, { name: entity, workflow: this.workflow }, `${prefix}no queue names known yet`)];
    }

    const samples: LagSample[] = [];
    for (const target of targets) {
      try {
        const check = await this.#amqp.check(target.name);
        if (!check.found) {
          this.#history.delete(target.name);
          samples.push(this.#downSample(now, target, `${prefix}${check.detail} in vhost "${this.#vhost}"`));
          continue;
        }
        const counts: QueueCounts = {
          depth: check.messagesReady,
          consumers: check.consumers,
          attributes: { via: 'amqp', vhost: this.#vhost, unacked_visible: 'false' },
        };
        const previous = this.#history.get(target.name);
        if (previous !== undefined && now.getTime() > previous.observedAtMs) {
          // AMQP gives ready counts only, so successive polls yield the net
          // change of ready messages, not separate publish and deliver rates.
          const netPerSecond = ((check.messagesReady - previous.depth) * 1000) / (now.getTime() - previous.observedAtMs);
          counts.attributes.net_rate_per_second = netPerSecond.toFixed(3);
        }
        const sample = this.#okSample(now, target, counts);
        const details = [sample.detail, AMQP_UNACKED_NOT_VISIBLE_DETAIL].filter((text) => text !== undefined);
        sample.detail = `${prefix}${details.join('; ')}`;
        samples.push(sample);
      } catch (error) {
        // The broker cannot be reached: every remaining queue is down for the same reason.
        const reason = `${prefix}cannot read ${redactUrl(this.#config.url)}: ${describeError(error)}`;
        await this.#amqp.close();
        for (const rest of targets.slice(targets.indexOf(target))) {
          samples.push(this.#downSample(now, rest, reason));
        }
        break;
      }
    }
    return samples;
  }

  #okSample(now: Date, target: QueueTarget, counts: QueueCounts): LagSample {
    const sample = buildSample(this.#origin, now, target.name, target.workflow, 'ok');
    sample.depth = counts.depth;
    sample.consumers = counts.consumers;
    if (counts.inFlight !== undefined) sample.inFlight = counts.inFlight;
    if (counts.inflowPerSecond !== undefined) sample.inflowPerSecond = counts.inflowPerSecond;
    if (counts.outflowPerSecond !== undefined) sample.outflowPerSecond = counts.outflowPerSecond;

    const estimate = estimateQueueLag(
      {
        observedAtMs: now.getTime(),
        depth: counts.depth,
        consumers: counts.consumers,
        outflowPerSecond: counts.outflowPerSecond,
        headTimestampMs: counts.headTimestampMs,
      },
      this.#history.get(target.name),
    );
    this.#history.set(target.name, estimate.history);
    if (estimate.lagSeconds !== undefined) sample.lagSeconds = estimate.lagSeconds;
    sample.lagEstimated = estimate.lagEstimated;
    if (estimate.reason !== undefined) sample.detail = estimate.reason;

    const attributes = { ...counts.attributes };
    if (estimate.clockAhead) attributes.clock_ahead = 'true';
    if (counts.consumers === 0 && counts.depth > 0) attributes.no_consumers = 'true';
    sample.attributes = attributes;
    return sample;
  }

  #downSample(now: Date, target: QueueTarget, detail: string): LagSample {
    const sample = buildSample(this.#origin, now, target.name, target.workflow, 'source_down');
    sample.detail = detail;
    sample.attributes = { vhost: this.#vhost };
    return sample;
  }

  #noteManagementDown(reason: string): void {
    if (this.#managementDown) return;
    this.#managementDown = true;
    this.#logger?.warn(
      { source: this.name, managementUrl: redactUrl(this.#config.managementUrl ?? ''), err: reason },
      'rabbitmq management api unavailable, reading counts over amqp',
    );
  }

  #noteManagementUp(): void {
    if (!this.#managementDown) return;
    this.#managementDown = false;
    this.#logger?.info({ source: this.name }, 'rabbitmq management api available again');
  }
}

function isValidRegExp(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}
