import type { LagSample, LagSource, PollResult } from '../collector/sources/types.js';
import { IN_PROCESS_POLL_INTERVAL_MS } from './tunables.js';

/** Messages an in-process queue keeps waiting before it drops new ones. */
export const IN_PROCESS_MAX_DEPTH = 100_000;

/** One message of an in-process queue. */
export interface InProcessMessage {
  id: string;
  /** Publish time in milliseconds since the epoch. */
  publishedAtMs: number;
  headers: Record<string, string>;
  body: unknown;
}

/** Callback that hands a message to a consumer, which acks it by `deliveryTag`. */
export type DeliverFunction = (message: InProcessMessage, deliveryTag: number) => void;

/** Options of an in-process queue. */
export interface InProcessQueueOptions {
  name: string;
  integration: string;
  workflow: string;
  /** Poll interval of the queue as a lag source. Default `IN_PROCESS_POLL_INTERVAL_MS`. */
  intervalMs?: number;
  maxDepth?: number;
}

interface Consumer {
  id: string;
  prefetch: number;
  deliver: DeliverFunction;
  inFlight: number;
}

interface Delivery {
  message: InProcessMessage;
  consumerId: string;
}

/**
 * A message queue held in memory, with RabbitMQ-like delivery (prefetch, ack,
 * requeue on cancel). It is also a lag source, so the demo produces lag samples
 * when no broker is reachable.
 */
export class InProcessQueue implements LagSource {
  readonly name: string;
  readonly kind = 'in_process';
  readonly intervalMs: number;

  readonly #integration: string;
  readonly #workflow: string;
  readonly #maxDepth: number;
  readonly #ready: InProcessMessage[] = [];
  readonly #inFlight = new Map<number, Delivery>();
  readonly #consumers: Consumer[] = [];
  #nextDeliveryTag = 1;
  #nextConsumerIndex = 0;
  #published = 0;
  #acknowledged = 0;
  #dropped = 0;
  #lastPoll: { atMs: number; published: number; acknowledged: number } | undefined;
  #closed = false;

  constructor(options: InProcessQueueOptions) {
    this.name = options.name;
    this.intervalMs = options.intervalMs ?? IN_PROCESS_POLL_INTERVAL_MS;
    this.#integration = options.integration;
    this.#workflow = options.workflow;
    this.#maxDepth = options.maxDepth ?? IN_PROCESS_MAX_DEPTH;
  }

  /** Adds a message. Returns false and drops the message when the queue is full or closed. */
  publish(message: InProcessMessage): boolean {
    if (this.#closed || this.#ready.length >= this.#maxDepth) {
      this.#dropped += 1;
      return false;
    }
    this.#ready.push(message);
    this.#published += 1;
    this.#dispatch();
    return true;
  }

  /** Registers a consumer with at most `prefetch` unacknowledged messages at a time. */
  consume(consumerId: string, prefetch: number, deliver: DeliverFunction): void {
    this.cancel(consumerId);
    // A consumer that resumes under the same id still owes acks for its earlier deliveries.
    let inFlight = 0;
    for (const delivery of this.#inFlight.values()) {
      if (delivery.consumerId === consumerId) inFlight += 1;
    }
    this.#consumers.push({ id: consumerId, prefetch: Math.max(1, prefetch), deliver, inFlight });
    this.#dispatch();
  }

  /**
   * Removes a consumer. Its unacknowledged messages stay in flight until acked,
   * unless `requeue` is set (the consumer is gone), which puts them back first in line.
   */
  cancel(consumerId: string, requeue = false): void {
    const index = this.#consumers.findIndex((consumer) => consumer.id === consumerId);
    if (index >= 0) this.#consumers.splice(index, 1);
    if (!requeue) return;

    const returned: InProcessMessage[] = [];
    for (const [tag, delivery] of this.#inFlight) {
      if (delivery.consumerId !== consumerId) continue;
      this.#inFlight.delete(tag);
      returned.push(delivery.message);
    }
    returned.sort((a, b) => a.publishedAtMs - b.publishedAtMs);
    this.#ready.unshift(...returned);
    this.#dispatch();
  }

  /** Acknowledges a delivered message. Unknown tags are ignored. */
  ack(deliveryTag: number): void {
    const delivery = this.#inFlight.get(deliveryTag);
    if (!delivery) return;

    this.#inFlight.delete(deliveryTag);
    this.#acknowledged += 1;
    const consumer = this.#consumers.find((candidate) => candidate.id === delivery.consumerId);
    if (consumer) consumer.inFlight -= 1;
    this.#dispatch();
  }

  /** Messages waiting for a consumer. */
  get depth(): number {
    return this.#ready.length;
  }

  async poll(now: Date): Promise<PollResult> {
    return { samples: [this.#sample(now)], failures: [] };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#consumers.length = 0;
  }

  #sample(now: Date): LagSample {
    const nowMs = now.getTime();
    const oldest = this.#ready[0];
    const sample: LagSample = {
      observedAt: now,
      integration: this.#integration,
      workflow: this.#workflow,
      source: this.name,
      sourceKind: this.kind,
      entity: this.name,
      status: 'ok',
      lagSeconds: oldest ? Math.max(0, nowMs - oldest.publishedAtMs) / 1000 : 0,
      lagEstimated: false,
      depth: this.#ready.length,
      inFlight: this.#inFlight.size,
      consumers: this.#consumers.length,
    };
    if (this.#dropped > 0) {
      const noun = this.#dropped === 1 ? 'message' : 'messages';
      sample.detail = `queue full or closed, dropped ${this.#dropped} ${noun}`;
    }

    const last = this.#lastPoll;
    const elapsedSeconds = last ? (nowMs - last.atMs) / 1000 : 0;
    if (last && elapsedSeconds > 0) {
      sample.inflowPerSecond = (this.#published - last.published) / elapsedSeconds;
      sample.outflowPerSecond = (this.#acknowledged - last.acknowledged) / elapsedSeconds;
    }
    this.#lastPoll = { atMs: nowMs, published: this.#published, acknowledged: this.#acknowledged };
    return sample;
  }

  #dispatch(): void {
    while (this.#ready.length > 0) {
      const consumer = this.#pickConsumer();
      if (!consumer) return;

      const message = this.#ready.shift() as InProcessMessage;
      const deliveryTag = this.#nextDeliveryTag++;
      this.#inFlight.set(deliveryTag, { message, consumerId: consumer.id });
      consumer.inFlight += 1;
      consumer.deliver(message, deliveryTag);
    }
  }

  /** Picks the next consumer with free prefetch capacity, round robin. */
  #pickConsumer(): Consumer | undefined {
    const count = this.#consumers.length;
    for (let step = 0; step < count; step += 1) {
      const index = (this.#nextConsumerIndex + step) % count;
      const consumer = this.#consumers[index] as Consumer;
      if (consumer.inFlight < consumer.prefetch) {
        this.#nextConsumerIndex = (index + 1) % count;
        return consumer;
      }
    }
    return undefined;
  }
}
