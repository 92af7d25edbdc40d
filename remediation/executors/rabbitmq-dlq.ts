import { createHash } from 'node:crypto';
import amqp, { type Channel, type ChannelModel, type GetMessage, type Options } from 'amqplib';
// amqplib has no public call for AMQP transactions; its `rpc` sends any method from the protocol definitions.
import defs from 'amqplib/lib/defs.js';
import { DEFAULT_REPLAY_BATCH_SIZE } from '../config.js';
import type { ControlStore } from '../control-store.js';
import { checkHold } from './control-plane.js';
import type { ActionExecutor, MessageProgress, TargetContext, TargetOutcome } from './types.js';

/** Header set on every replayed message to the id of the proposal that replayed it. */
export const REPLAY_HEADER = 'x-syncwatch-replay';
const CONNECT_TIMEOUT_MS = 10_000;
/** Headers RabbitMQ adds when it dead-letters a message; a replayed message starts without them. */
const DEATH_HEADERS = ['x-death', 'x-first-death-queue', 'x-first-death-reason', 'x-first-death-exchange', 'x-last-death-queue', 'x-last-death-reason', 'x-last-death-exchange'];

interface TransactionalChannel extends Channel {
  rpc(method: number, fields: Record<string, unknown>, expect: number): Promise<unknown>;
}

/**
 * Moves messages from a RabbitMQ dead-letter queue back to the queue they
 * died on, exactly once even when the process is killed mid-way.
 *
 * The channel runs in AMQP transaction mode, and each batch's publishes and
 * dead-letter acknowledgements are committed together. When the process dies
 * before `tx.commit` reaches the broker, the broker discards the batch's
 * publishes and returns its unacknowledged deliveries to the dead-letter
 * queue; after the commit, both happened. So every message is either back on
 * its queue and gone from the dead-letter queue, or still only in the
 * dead-letter queue, and a restarted run continues from there. The control
 * plane records each message key before its batch commits and after, only to
 * count progress: keys left `publishing` by a killed run that do not come
 * back from the dead-letter queue were committed.
 *
 * NOTE: RabbitMQ documents transactions as atomic only within one queue, so
 * a broker crash (not a client crash) during a commit could still leave a
 * message in both queues.
 */
export class DeadLetterReplayExecutor implements ActionExecutor {
  readonly #url: string;
  readonly #store: ControlStore;
  readonly #batchSize: number;

  constructor(options: { url: string; store: ControlStore; batchSize?: number }) {
    this.#url = options.url;
    this.#store = options.store;
    this.#batchSize = options.batchSize ?? DEFAULT_REPLAY_BATCH_SIZE;
  }

  async runTarget(context: TargetContext): Promise<TargetOutcome> {
    const held = await checkHold(this.#store, context.proposal.integration, context.target.ref);
    if (held) return held;
    // Without noDelay, Nagle's algorithm delays each small frame until the peer's delayed ACK, about 40 ms per get.
    const connection = await amqp.connect(this.#url, {
      timeout: CONNECT_TIMEOUT_MS,
      noDelay: true,
      clientProperties: { connection_name: 'syncwatch-remediation' },
    });
    connection.on('error', () => undefined);
    try {
      return await this.#replay(connection, context);
    } finally {
      await connection.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {}

  async #replay(connection: ChannelModel, context: TargetContext): Promise<TargetOutcome> {
    const { proposal, target, progress } = context;
    const channel = (await connection.createChannel()) as TransactionalChannel;
    channel.on('error', () => undefined);
    await channel.checkQueue(target.ref);
    await channel.rpc(defs.TxSelect, {}, defs.TxSelectOk);
    const limit = typeof proposal.params.maxMessages === 'number' ? proposal.params.maxMessages : Number.POSITIVE_INFINITY;
    const returnQueue = typeof proposal.params.returnQueue === 'string' ? proposal.params.returnQueue : undefined;
    const uncertain = new Set(await progress.listPublishing());
    let processed = (await progress.countDone()) + uncertain.size;
    let stop: string | undefined;
    const checked = new Set<string>();
    while (stop === undefined && processed < limit) {
      const batch = await this.#takeBatch(channel, target.ref, progress, proposal.id, Math.min(this.#batchSize, limit - processed), uncertain);
      stop = batch.stop;
      if (batch.messages.length === 0) break;
      const routed = batch.messages.map((entry) => ({ ...entry, destination: destinationOf(entry.message, returnQueue) }));
      const unroutable = routed.find((entry) => entry.destination === undefined);
      if (unroutable !== undefined) {
        // Return the whole batch, so no message of it moves while one cannot be routed.
        for (const { message } of routed) channel.nack(message, false, true);
        await channel.rpc(defs.TxCommit, {}, defs.TxCommitOk);
        stop = `message ${unroutable.key} has no x-first-death-queue header and no returnQueue is configured`;
        break;
      }
      for (const destination of new Set(routed.map((entry) => entry.destination as string))) {
        // A publish to a missing queue would be dropped silently; a failed check closes the channel, which discards the batch.
        if (!checked.has(destination)) await channel.checkQueue(destination);
        checked.add(destination);
      }
      await progress.markPublishing(routed.map(({ key }) => key));
      for (const { message, destination } of routed) {
        channel.publish('', destination as string, message.content, replayOptions(message, proposal.id));
        channel.ack(message);
      }
      await channel.rpc(defs.TxCommit, {}, defs.TxCommitOk);
      await progress.markDone(batch.messages.map(({ key }) => key));
      for (const { key } of batch.messages) {
        if (uncertain.delete(key)) processed -= 1;
        processed += 1;
      }
    }
    // Keys left in `publishing` by a killed run that did not come back were committed by that run.
    // NOTE: this assumes a rolled-back delivery returns to its old place near the head, as classic
    // queues return it. A delivery returned behind the replay limit would be counted as moved.
    if (stop === undefined) await progress.markDone([...uncertain]);
    const moved = await progress.countDone();
    const summary = `${moved} messages moved from ${target.ref} back to their queue`;
    if (stop !== undefined) return { state: 'failed', result: `${summary}; stopped: ${stop}` };
    return { state: 'done', result: summary };
  }

  /**
   * Gets up to `size` messages without acknowledging them. Stops early at a
   * message this proposal already replayed (dead-lettered again, or a second
   * copy of one), which is returned to the queue and ends the replay.
   */
  async #takeBatch(
    channel: Channel,
    queue: string,
    progress: MessageProgress,
    proposalId: string,
    size: number,
    uncertain: ReadonlySet<string>,
  ): Promise<{ messages: Array<{ message: GetMessage; key: string }>; stop?: string }> {
    const messages: Array<{ message: GetMessage; key: string }> = [];
    const keys = new Set<string>();
    let stop: string | undefined;
    while (messages.length < size) {
      const message = await channel.get(queue, { noAck: false });
      if (message === false) break;
      const key = messageKey(message);
      if (message.properties.headers?.[REPLAY_HEADER] === proposalId || keys.has(key)) {
        channel.nack(message, false, true);
        stop = `message ${key} was dead-lettered again after its replay or appears twice; it stays in ${queue}`;
        break;
      }
      keys.add(key);
      messages.push({ message, key });
    }
    const states = await progress.states([...keys].filter((key) => !uncertain.has(key)));
    const firstSeen = messages.findIndex(({ key }) => states.has(key));
    if (firstSeen < 0) return stop === undefined ? { messages } : { messages, stop };
    for (const { message } of messages.slice(firstSeen)) channel.nack(message, false, true);
    return { messages: messages.slice(0, firstSeen), stop: `message ${messages[firstSeen]?.key} was already replayed; it stays in ${queue}` };
  }
}

/** Returns the message id, or a digest of the body and headers for a message without one. */
export function messageKey(message: GetMessage): string {
  const id = message.properties.messageId;
  if (typeof id === 'string' && id.length > 0) return id;
  const headers = { ...(message.properties.headers ?? {}) };
  for (const header of DEATH_HEADERS) delete headers[header];
  const digest = createHash('sha256').update(message.content).update(JSON.stringify(headers)).digest('hex');
  return `sha256:${digest.slice(0, 32)}`;
}

function destinationOf(message: GetMessage, returnQueue: string | undefined): string | undefined {
  const first = message.properties.headers?.['x-first-death-queue'];
  if (typeof first === 'string' && first.length > 0) return first;
  return returnQueue;
}

/**
 * Copies the message's properties, without the death headers, the
 * expiration (which could dead-letter it again at once) and `userId`
 * (which the broker checks against the publishing connection's user).
 */
function replayOptions(message: GetMessage, proposalId: string): Options.Publish {
  const properties = message.properties;
  const headers: Record<string, unknown> = { ...(properties.headers ?? {}) };
  for (const header of DEATH_HEADERS) delete headers[header];
  headers[REPLAY_HEADER] = proposalId;
  const options: Options.Publish = { headers };
  if (properties.contentType !== undefined) options.contentType = properties.contentType;
  if (properties.contentEncoding !== undefined) options.contentEncoding = properties.contentEncoding;
  if (properties.deliveryMode !== undefined) options.deliveryMode = properties.deliveryMode;
  if (properties.priority !== undefined) options.priority = properties.priority;
  if (properties.correlationId !== undefined) options.correlationId = properties.correlationId;
  if (properties.replyTo !== undefined) options.replyTo = properties.replyTo;
  if (properties.messageId !== undefined) options.messageId = properties.messageId;
  if (properties.timestamp !== undefined) options.timestamp = properties.timestamp;
  if (properties.type !== undefined) options.type = properties.type;
  if (properties.appId !== undefined) options.appId = properties.appId;
  return options;
}
