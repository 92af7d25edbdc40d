import { randomUUID } from 'node:crypto';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import type { InProcessMessage } from '../in-process-queue.js';
import type { ParentMessage } from '../process-protocol.js';
import { sendToParent } from './ipc-logger.js';

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
  close(): Promise<void>;
}

/** Creates a message with a new id, published now. */
export function createBusMessage(body: unknown, headers: Record<string, string>): BusMessage {
  return { id: randomUUID(), publishedAtMs: Date.now(), headers, body };
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
  readonly #consumerChannels: Channel[] = [];

  private constructor(connection: ChannelModel, publishChannel: ConfirmChannel) {
    this.#connection = connection;
    this.#publishChannel = publishChannel;
  }

  /** Connects to RabbitMQ and declares the queues (durable, as the network declared them). */
  static async connect(
    url: string,
    queues: string[],
    onError: (error: Error) => void,
  ): Promise<AmqpMessageBus> {
    const connection = await amqp.connect(url);
    connection.on('error', onError);
    const channel = await connection.createConfirmChannel();
    channel.on('error', onError);
    for (const queue of queues) await channel.assertQueue(queue, { durable: true });
    return new AmqpMessageBus(connection, channel);
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
    this.#consumerChannels.push(channel);
    await channel.prefetch(prefetch);

    const onMessage = (delivery: ConsumeMessage | null) => {
      if (!delivery) return;
      handler(toBusMessage(delivery)).then(
        () => channel.ack(delivery),
        // A message that failed is dropped, as a consumer without a dead-letter queue does.
        () => channel.nack(delivery, false, false),
      );
    };

    let consumerTag: string | undefined = (await channel.consume(queue, onMessage)).consumerTag;
    return {
      get paused() {
        return consumerTag === undefined;
      },
      async pause() {
        if (consumerTag === undefined) return;
        const tag = consumerTag;
        consumerTag = undefined;
        await channel.cancel(tag);
      },
      async resume() {
        if (consumerTag !== undefined) return;
        consumerTag = (await channel.consume(queue, onMessage)).consumerTag;
      },
    };
  }

  async close(): Promise<void> {
    await this.#connection.close().catch(() => undefined);
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
  readonly #onParentMessage = (message: ParentMessage) => this.#deliver(message);

  constructor() {
    process.on('message', this.#onParentMessage);
  }

  async publish(queue: string, message: BusMessage): Promise<void> {
    sendToParent({ type: 'publish', queue, message });
  }

  async consume(queue: string, prefetch: number, handler: MessageHandler): Promise<ConsumerHandle> {
    const consumerId = `${process.pid}:${queue}:${randomUUID()}`;
    this.#handlers.set(consumerId, handler);
    let paused = false;
    sendToParent({ type: 'consume', queue, consumerId, prefetch });
    return {
      get paused() {
        return paused;
      },
      async pause() {
        paused = true;
        sendToParent({ type: 'cancel', queue, consumerId });
      },
      async resume() {
        if (!paused) return;
        paused = false;
        sendToParent({ type: 'consume', queue, consumerId, prefetch });
      },
    };
  }

  async close(): Promise<void> {
    process.off('message', this.#onParentMessage);
    this.#handlers.clear();
  }

  #deliver(message: ParentMessage): void {
    if (message.type !== 'deliver') return;
    const handler = this.#handlers.get(message.consumerId);
    if (!handler) return;

    const ack = () => sendToParent({ type: 'ack', queue: message.queue, deliveryTag: message.deliveryTag });
    handler(message.message).then(ack, ack);
  }
}
