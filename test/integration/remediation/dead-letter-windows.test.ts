import { randomBytes } from 'node:crypto';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { ControlStore } from '../../../remediation/control-store.js';
import { DeadLetterReplayExecutor } from '../../../remediation/executors/rabbitmq-dlq.js';
import type { MessageProgress, TargetContext } from '../../../remediation/executors/types.js';
import type { StoredProposal } from '../../../remediation/proposals.js';
import { AMQP_URL } from './harness.js';

const MESSAGE_COUNT = 12;
const prefix = `sw-window-${randomBytes(4).toString('hex')}`;
let counter = 0;
let connection: ChannelModel;
let channel: Channel;
const queues: string[] = [];

/** A control plane without holds, which is all the executor reads from it besides progress. */
const storeWithoutHolds = { query: async () => ({ rows: [], rowCount: 0 }) } as unknown as ControlStore;

/** Message progress in memory; `failOn` makes one call throw, as a process that dies there. */
class MemoryProgress implements MessageProgress {
  readonly recorded = new Map<string, 'publishing' | 'done'>();
  failOn: 'markPublishing' | 'markDone' | undefined;

  async states(keys: readonly string[]) {
    return new Map(keys.flatMap((key) => (this.recorded.has(key) ? [[key, this.recorded.get(key)!] as const] : [])));
  }

  async markPublishing(keys: readonly string[]) {
    this.#maybeFail('markPublishing');
    for (const key of keys) if (!this.recorded.has(key)) this.recorded.set(key, 'publishing');
  }

  async markDone(keys: readonly string[]) {
    this.#maybeFail('markDone');
    for (const key of keys) this.recorded.set(key, 'done');
  }

  async listPublishing() {
    return [...this.recorded].filter(([, state]) => state === 'publishing').map(([key]) => key);
  }

  async countDone() {
    return [...this.recorded.values()].filter((state) => state === 'done').length;
  }

  #maybeFail(call: 'markPublishing' | 'markDone'): void {
    if (this.failOn !== call) return;
    this.failOn = undefined;
    throw new Error(`process died in ${call}`);
  }
}

async function createQueues(): Promise<{ work: string; dead: string }> {
  counter += 1;
  const work = `${prefix}-${counter}`;
  const dead = `${work}-dlq`;
  await channel.assertQueue(dead, { durable: false });
  await channel.assertQueue(work, { durable: false, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead } });
  queues.push(work, dead);
  for (let index = 0; index < MESSAGE_COUNT; index += 1) channel.sendToQueue(work, Buffer.from(`m${index}`), { messageId: `m${index}` });
  for (let rejected = 0; rejected < MESSAGE_COUNT; ) {
    const message = await channel.get(work, { noAck: false });
    if (message === false) continue;
    channel.nack(message, false, false);
    rejected += 1;
  }
  while ((await channel.checkQueue(dead)).messageCount < MESSAGE_COUNT) await new Promise((resolve) => setTimeout(resolve, 10));
  return { work, dead };
}

function context(dead: string, progress: MessageProgress): TargetContext {
  const proposal: StoredProposal = {
    id: `rp-${dead}`,
    incidentId: 'inc',
    action: 'replay_dead_letters',
    integration: 'odoo-mes',
    workflow: null,
    plant: null,
    params: { queue: dead, maxMessages: MESSAGE_COUNT },
    status: 'executing',
    requiredApprovals: 1,
    requestedBy: 'syncwatch',
    expiresAt: new Date(Date.now() + 60_000),
    blastRadius: { events: MESSAGE_COUNT, orders: MESSAGE_COUNT, plants: [] },
  };
  return { proposal, target: { position: 0, kind: 'rabbitmq_dlq', ref: dead, state: 'pending' }, progress, resumed: false };
}

async function countIds(queue: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) return counts;
    const id = String(message.properties.messageId);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
}

beforeEach(async () => {
  connection ??= await amqp.connect(AMQP_URL, { noDelay: true });
  channel ??= await connection.createChannel();
});

afterAll(async () => {
  for (const queue of queues) await channel.deleteQueue(queue).catch(() => undefined);
  await connection.close();
});

describe('dead-letter replay windows', () => {
  it.each(['markPublishing', 'markDone'] as const)('moves each message once after dying in %s', async (failOn) => {
    const { work, dead } = await createQueues();
    const executor = new DeadLetterReplayExecutor({ url: AMQP_URL, store: storeWithoutHolds, batchSize: 5 });
    const progress = new MemoryProgress();
    progress.failOn = failOn;

    await expect(executor.runTarget(context(dead, progress))).rejects.toThrow(`process died in ${failOn}`);
    const outcome = await executor.runTarget(context(dead, progress));

    expect(outcome).toEqual({ state: 'done', result: `${MESSAGE_COUNT} messages moved from ${dead} back to their queue` });
    expect((await channel.checkQueue(dead)).messageCount).toBe(0);
    const counts = await countIds(work);
    expect(counts.size).toBe(MESSAGE_COUNT);
    expect([...counts.values()].every((count) => count === 1)).toBe(true);
  });

  it('stops at a message dead-lettered again after its replay', async () => {
    const { work, dead } = await createQueues();
    const executor = new DeadLetterReplayExecutor({ url: AMQP_URL, store: storeWithoutHolds, batchSize: 5 });
    const progress = new MemoryProgress();
    await executor.runTarget(context(dead, progress));
    const replayed = await channel.get(work, { noAck: false });
    if (replayed === false) throw new Error('expected a replayed message');
    channel.nack(replayed, false, false);
    await new Promise((resolve) => setTimeout(resolve, 100));

    const second = await executor.runTarget({ ...context(dead, progress), proposal: { ...context(dead, progress).proposal, params: { queue: dead } } });

    expect(second.state).toBe('failed');
    expect(second.result).toContain('was dead-lettered again after its replay');
    expect((await channel.checkQueue(dead)).messageCount).toBe(1);
  });
});
