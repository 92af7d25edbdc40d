import { readFileSync } from 'node:fs';
import {
  type ConsumerInfo,
  type JetStreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  type MsgRequest,
} from '@nats-io/jetstream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { withTimeout } from './common.js';

/** Connection settings of one NATS server or cluster. */
export interface NatsClientOptions {
  /** Server URLs such as `nats://user:pass@127.0.0.1:4222`. */
  servers: string[];
  /** Path of a `.creds` file holding a user JWT and its NKey seed. */
  credentialsFile?: string | undefined;
  /** JetStream domain, for servers that run JetStream under a domain. */
  domain?: string | undefined;
  timeoutMs: number;
  /** Connection name shown in the server's monitoring. */
  connectionName: string;
}

/** Result of reading one consumer. */
export type ConsumerReadResult =
  | { found: true; info: ConsumerInfo }
  | { found: false; detail: string };

/**
 * One NATS connection and its JetStream manager, opened on first use. The
 * client does not reconnect by itself: a lost connection is closed and the
 * next read opens a new one, so a poll never waits on a reconnect loop.
 */
export class JetstreamClient {
  readonly #options: NatsClientOptions;
  #connection: NatsConnection | undefined;
  #manager: JetStreamManager | undefined;

  constructor(options: NatsClientOptions) {
    this.#options = options;
  }

  /** Lists the consumers of `stream`, or returns undefined when the stream does not exist. */
  async listConsumers(stream: string): Promise<ConsumerInfo[] | undefined> {
    const manager = await this.#open();
    try {
      const consumers: ConsumerInfo[] = [];
      for await (const info of manager.consumers.list(stream)) consumers.push(info);
      return consumers;
    } catch (error) {
      if (isApiError(error, JetStreamApiCodes.StreamNotFound)) return undefined;
      throw error;
    }
  }

  /** Reads one consumer; a missing stream or consumer is a result, not an error. */
  async readConsumer(stream: string, consumer: string): Promise<ConsumerReadResult> {
    const manager = await this.#open();
    try {
      return { found: true, info: await manager.consumers.info(stream, consumer) };
    } catch (error) {
      if (isApiError(error, JetStreamApiCodes.StreamNotFound)) {
        return { found: false, detail: `stream "${stream}" not found` };
      }
      if (isApiError(error, JetStreamApiCodes.ConsumerNotFound)) {
        return { found: false, detail: `consumer "${consumer}" not found on stream "${stream}"` };
      }
      throw error;
    }
  }

  /**
   * Returns the stored time of the first message at or after `sequence`
   * whose subject matches one of `subjects`, or undefined when there is none.
   * The request goes to `$JS.API.STREAM.MSG.GET`, which the stream leader
   * serves. Direct get is not used because any replica may serve it, and a
   * replica behind the leader could return an older message.
   */
  async readMessageTime(stream: string, sequence: number, subjects: string[]): Promise<Date | undefined> {
    const manager = await this.#open();
    let earliest: { seq: number; time: Date } | undefined;
    for (const subject of subjects) {
      // `next_by_subj` skips deleted sequences and subjects outside the
      // consumer's filter. NATS Server accepts it on MSG.GET (checked on
      // 2.9.10), though the client types it for direct get only.
      const request = { seq: sequence, next_by_subj: subject } as unknown as MsgRequest;
      const message = await manager.streams.getMessage(stream, request);
      if (message !== null && (earliest === undefined || message.seq < earliest.seq)) {
        earliest = { seq: message.seq, time: message.time };
      }
    }
    return earliest?.time;
  }

  /** Closes the connection after a failed read, so the next read opens a fresh one. */
  async reset(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    this.#manager = undefined;
    if (connection !== undefined && !connection.isClosed()) {
      await connection.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.reset();
  }

  async #open(): Promise<JetStreamManager> {
    if (this.#connection !== undefined && this.#manager !== undefined && !this.#connection.isClosed()) {
      return this.#manager;
    }
    await this.reset();
    const { servers, credentialsFile, domain, timeoutMs, connectionName } = this.#options;
    const connection = await connect({
      servers,
      name: connectionName,
      timeout: timeoutMs,
      reconnect: false,
      ...(credentialsFile === undefined ? {} : { authenticator: credsAuthenticator(readFileSync(credentialsFile)) }),
    });
    try {
      const manager = await withTimeout(
        jetstreamManager(connection, { timeout: timeoutMs, ...(domain === undefined ? {} : { domain }) }),
        timeoutMs,
        'jetstream account info request',
      );
      this.#connection = connection;
      this.#manager = manager;
      return manager;
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
  }
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}
