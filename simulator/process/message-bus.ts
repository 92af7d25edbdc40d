import { randomUUID } from 'node:crypto';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import type { InProcessMessage } from '../in-process-queue.js';
import type { ParentMessage } from '../process-protocol.js';
import { MESSAGE_DRAIN_TIMEOUT_MS } from '../tunables.js';
import { describeError, sendToParent, type ProcessLogger } from './ipc-logger.js';

/** One message on a demo queue. */
export type BusMessage = InProcessMessage;

/** Handles one delivered message; a rejection marks the message as failed. */
export type MessageHandler = (message: BusMessage) => Promise<void>;

/** A running consumer that can stop taking new messages and start again. */
export interface ConsumerHandle {
  pause(): Promise<void>;
  resume(): Promise<void>;
  readonly paused: boolean;
}

/** Publishes to and consumes from the demo queues. */
export interface MessageBus {
  /** `messaging.system` of the spans: `rabbitmq` or `in_process`. */
  readonly system: string;
  publish(queue: string, message: BusMessage): Promise<void>;
  consume(queue: string, prefetch: number, handler: MessageHandler): Promise<ConsumerHandle>;
  /**
   * Cancels every consumer, then waits up to `drainTimeoutMs` (default
   * `MESSAGE_DRAIN_TIMEOUT_MS`) for the handlers of delivered messages to
   * finish. Consumers cannot be resumed afterwards.
   */
  stopConsuming(drainTimeoutMs?: number): Promise<void>;
  /** Stops consuming as `stopConsuming` does, then closes the connection. */
  close(drainTimeoutMs?: number): Promise<void>;
}

/** The handlers of delivered messages that are still running. */
class RunningHandlers {
  #count = 0;
  #onIdle: Array<() => void> = [];

  get count(): number {
    return this.#count;
  }

  /** Counts `work` as running until it settles. */
  track(work: Promise<void>): void {
    this.#count += 1;
    void work.finally(() => {
      this.#count -= 1;
      if (this.#count > 0) return;
      for (const resolve of this.#onIdle.splice(0)) resolve();
    });
  }

  /** Resolves once no handler is running, or after `timeoutMs`. */
  async waitForIdle(timeoutMs: number): Promise<void> {
    if (this.#count === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.#onIdle.push(resolve)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }
}

/** Creates a message with a new id, published now. */
export function createBusMessage(body: unknown, headers: Record<string, string>): BusMessage {
  return { id: randomUUID(), publishedAtMs: Date.now(), headers, body };
}

/** A consumer of the AMQP bus and the tag RabbitMQ gave it while it consumes. */
interface AmqpConsumer {
  queue: string;
  channel: Channel;
  consumerTag: string | undefined;
}

/**
 * Message bus on RabbitMQ: persistent JSON messages with the AMQP `timestamp` property set.
 * NOTE: it does not reconnect, so after the broker drops the connection publishes fail
 * and consumers stop until the demo network is restarted.
 */
export class AmqpMessageBus implements MessageBus {
  readonly system = 'rabbitmq';
  readonly #connection: ChannelModel;
  readonly #publishChannel: ConfirmChannel;
  readonly #onError: (error: unknown) => void;
  readonly #logger: ProcessLogger;
  readonly #consumers: AmqpConsumer[] = [];
  readonly #runningHandlers = new RunningHandlers();
  #stopping = false;

  private constructor(
    connection: ChannelModel,
    publishChannel: ConfirmChannel,
    onError: (error: unknown) => void,
    logger: ProcessLogger,
  ) {
    this.#connection = connection;
    this.#publishChannel = publishChannel;
    this.#onError = onError;
    this.#logger = logger;
  }

  /** Connects to RabbitMQ and declares the queues (durable, as the network declared them). */
  static async connect(
    url: string,
    queues: string[],
    onError: (error: unknown) => void,
    logger: ProcessLogger,
  ): Promise<AmqpMessageBus> {
    const connection = await amqp.connect(url);
    connection.on('error', onError);
    const channel = await connection.createConfirmChannel();
    channel.on('error', onError);
    for (const queue of queues) await channel.assertQueue(queue, { durable: true });
    return new AmqpMessageBus(connection, channel, onError, logger);
  }

  async publish(queue: string, message: BusMessage): Promise<void> {
    const content = Buffer.from(JSON.stringify(message.body));
    this.#publishChannel.sendToQueue(queue, content, {
      persistent: true,
      contentType: 'application/json',
      messageId: message.id,
      correlationId: message.headers['x-correlation-id'],
      // AMQP timestamps are whole seconds since the epoch.
      timestamp: Math.floor(message.publishedAtMs / 1000),
      headers: { ...message.headers, 'x-published-at-ms': message.publishedAtMs },
    });
    await this.#publishChannel.waitForConfirms();
  }

  async consume(queue: string, prefetch: number, handler: MessageHandler): Promise<ConsumerHandle> {
    const channel = await this.#connection.createChannel();
    channel.on('error', () => undefined);
    await channel.prefetch(prefetch);

    const onMessage = (delivery: ConsumeMessage | null) => {
      if (!delivery) return;
      const work = handler(toBusMessage(delivery)).then(
        () => this.#settle(queue, 'ack', () => channel.ack(delivery)),
        // A message that failed is dropped, as a consumer without a dead-letter queue does.
        () => this.#settle(queue, 'nack', () => channel.nack(delivery, false, false)),
      );
      this.#runningHandlers.track(work);
    };

    const consumer: AmqpConsumer = { queue, channel, consumerTag: undefined };
    consumer.consumerTag = (await channel.consume(queue, onMessage)).consumerTag;
    this.#consumers.push(consumer);
    return {
      get paused() {
        return consumer.consumerTag === undefined;
      },
      pause: () => this.#cancel(consumer),
      resume: async () => {
        if (consumer.consumerTag !== undefined || this.#stopping) return;
        try {
          consumer.consumerTag = (await channel.consume(queue, onMessage)).consumerTag;
        } catch (error) {
          this.#reportChannelError(queue, 'resume', error);
        }
      },
    };
  }

  async stopConsuming(drainTimeoutMs = MESSAGE_DRAIN_TIMEOUT_MS): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#consumers.map((consumer) => this.#cancel(consumer)));
    await this.#runningHandlers.waitForIdle(drainTimeoutMs);
    if (this.#runningHandlers.count > 0) {
      this.#logger.info(
        { handlers: this.#runningHandlers.count, drainTimeoutMs },
        'closing with message handlers still running, so RabbitMQ redelivers their messages',
      );
    }
  }

  async close(drainTimeoutMs = MESSAGE_DRAIN_TIMEOUT_MS): Promise<void> {
    await this.stopConsuming(drainTimeoutMs);
    // Closing a channel waits for RabbitMQ to confirm it, so the acks sent on it
    // are applied. A connection closed right after an ack can lose that ack.
    const channels = [this.#publishChannel, ...this.#consumers.map((consumer) => consumer.channel)];
    await Promise.all(channels.map((channel) => channel.close().catch(() => undefined)));
    await this.#connection.close().catch(() => undefined);
  }

  async #cancel(consumer: AmqpConsumer): Promise<void> {
    const tag = consumer.consumerTag;
    if (tag === undefined) return;
    consumer.consumerTag = undefined;
    try {
      await consumer.channel.cancel(tag);
    } catch (error) {
      this.#reportChannelError(consumer.queue, 'cancel', error);
    }
  }

  /** Runs an ack or nack. A closed channel throws, which is expected once the bus stops. */
  #settle(queue: string, operation: 'ack' | 'nack', settle: () => void): void {
    try {
      settle();
    } catch (error) {
      this.#reportChannelError(queue, operation, error);
    }
  }

  #reportChannelError(queue: string, operation: string, error: unknown): void {
    if (this.#stopping) {
      this.#logger.debug({ queue, operation, ...describeError(error) }, 'channel operation skipped while stopping');
      return;
    }
    this.#onError(error);
  }
}

function toBusMessage(delivery: ConsumeMessage): BusMessage {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(delivery.properties.headers ?? {})) {
    if (value !== undefined && value !== null) headers[key] = String(value);
  }
  const publishedAtMs = Number(headers['x-published-at-ms']) || Number(delivery.properties.timestamp) * 1000;
  return {
    id: String(delivery.properties.messageId ?? ''),
    publishedAtMs,
    headers,
    body: JSON.parse(delivery.content.toString('utf8')),
  };
}

/**
 * Message bus over the IPC channel to the network process, which keeps the
 * queues in memory when RabbitMQ is unreachable.
 */
export class IpcMessageBus implements MessageBus {
  readonly system = 'in_process';
  readonly #handlers = new Map<string, MessageHandler>();
  /** Queue of each consumer that currently takes messages, by consumer id. */
  readonly #consuming = new Map<string, string>();
  readonly #runningHandlers = new RunningHandlers();
  readonly #onParentMessage = (message: ParentMessage) => this.#deliver(message);
  #stopping = false;

  constructor() {
    process.on('message', this.#onParentMessage);
  }

  async publish(queue: string, message: BusMessage): Promise<void> {
    sendToParent({ type: 'publish', queue, message });
  }

  async consume(queue: string, prefetch: number, handler: MessageHandler): Promise<ConsumerHandle> {
    const consumerId = `${process.pid}:${queue}:${randomUUID()}`;
    this.#handlers.set(consumerId, handler);
    const consuming = this.#consuming;
    const start = () => {
      consuming.set(consumerId, queue);
      sendToParent({ type: 'consume', queue, consumerId, prefetch });
    };
    start();
    return {
      get paused() {
        return !consuming.has(consumerId);
      },
      pause: async () => this.#cancel(consumerId),
      resume: async () => {
        if (consuming.has(consumerId) || this.#stopping) return;
        start();
      },
    };
  }

  async stopConsuming(drainTimeoutMs = MESSAGE_DRAIN_TIMEOUT_MS): Promise<void> {
    this.#stopping = true;
    for (const consumerId of [...this.#consuming.keys()]) this.#cancel(consumerId);
    await this.#runningHandlers.waitForIdle(drainTimeoutMs);
  }

  async close(drainTimeoutMs = MESSAGE_DRAIN_TIMEOUT_MS): Promise<void> {
    await this.stopConsuming(drainTimeoutMs);
    process.off('message', this.#onParentMessage);
    this.#handlers.clear();
  }

  #cancel(consumerId: string): void {
    const queue = this.#consuming.get(consumerId);
    if (queue === undefined) return;
    this.#consuming.delete(consumerId);
    sendToParent({ type: 'cancel', queue, consumerId });
  }

  #deliver(message: ParentMessage): void {
    if (message.type !== 'deliver') return;
    const handler = this.#handlers.get(message.consumerId);
    if (!handler) return;

    const ack = () => sendToParent({ type: 'ack', queue: message.queue, deliveryTag: message.deliveryTag });
    this.#runningHandlers.track(handler(message.message).then(ack, ack));
  }
}
