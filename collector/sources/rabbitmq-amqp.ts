import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { withTimeout } from './common.js';

/**
 * Result of a passive queue check: `queue.declare` with `passive` returns the
 * number of ready messages and of consumers. AMQP does not report
 * unacknowledged messages, publish or deliver rates, or the head message's
 * timestamp; only the management API has those.
 */
export type AmqpQueueCheck =
  | { found: true; messagesReady: number; consumers: number }
  | { found: false; detail: string };

/** Keeps one AMQP connection and one channel for passive queue checks. */
export class AmqpQueueChecker {
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #connectionName: string;
  #connection: ChannelModel | undefined;
  #channel: Channel | undefined;

  constructor(url: string, timeoutMs: number, connectionName: string) {
    this.#url = url;
    this.#timeoutMs = timeoutMs;
    this.#connectionName = connectionName;
  }

  /**
   * Checks one queue. A missing queue resolves as `found: false`; a broker
   * that cannot be reached rejects.
   */
  async check(queue: string): Promise<AmqpQueueCheck> {
    const channel = await this.#openChannel();
    try {
      const reply = await withTimeout(channel.checkQueue(queue), this.#timeoutMs, `checking queue "${queue}"`);
      return { found: true, messagesReady: reply.messageCount, consumers: reply.consumerCount };
    } catch (error) {
      // The broker closes the channel on a failed passive declare, so the next check opens a new one.
      this.#channel = undefined;
      if ((error as { code?: unknown }).code === 404) {
        return { found: false, detail: `queue "${queue}" not found` };
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    this.#channel = undefined;
    if (connection) await connection.close().catch(() => undefined);
  }

  async #openChannel(): Promise<Channel> {
    if (this.#channel) return this.#channel;
    const connection = await this.#connect();
    const channel = await withTimeout(connection.createChannel(), this.#timeoutMs, 'opening an AMQP channel');
    // Without listeners the close of a channel after a 404 is re-emitted as an uncaught error.
    channel.on('error', () => undefined);
    channel.on('close', () => {
      if (this.#channel === channel) this.#channel = undefined;
    });
    this.#channel = channel;
    return channel;
  }

  async #connect(): Promise<ChannelModel> {
    if (this.#connection) return this.#connection;
    const connection = await withTimeout(
      amqp.connect(this.#url, {
        timeout: this.#timeoutMs,
        clientProperties: { connection_name: this.#connectionName },
      }),
      this.#timeoutMs,
      'connecting to the broker',
    );
    connection.on('error', () => undefined);
    connection.on('close', () => {
      if (this.#connection === connection) {
        this.#connection = undefined;
        this.#channel = undefined;
      }
    });
    this.#connection = connection;
    return connection;
  }
}
