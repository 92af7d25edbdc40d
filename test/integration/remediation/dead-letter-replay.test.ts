import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProposalView } from '../../../remediation/contract.js';
import { AMQP_URL, ControlPlaneHarness, exceptionIncident, INTEGRATIONS, type StoreKind } from './harness.js';

const MESSAGE_COUNT = 500;
/** Messages on the work queue after which the first process is killed. */
const KILL_AFTER_MOVED = 150;
/** Longest extra wait before the kill, in milliseconds, so the kill lands in different steps of a batch. */
const MAX_KILL_JITTER_MS = 15;
const POLL_INTERVAL_MS = 5;
const CHILD_TIMEOUT_MS = 60_000;

let connection: ChannelModel;
let channel: Channel;

beforeAll(async () => {
  connection = await amqp.connect(AMQP_URL, { noDelay: true });
  channel = await connection.createChannel();
});

afterAll(async () => {
  await connection.close();
});

function messageId(index: number): string {
  return `order-release-${String(index).padStart(4, '0')}`;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

describe.each<StoreKind>(['pglite', 'postgres'])('dead-letter replay with a %s control plane', (kind) => {
  const prefix = `sw-replay-${kind}-${randomBytes(4).toString('hex')}`;
  const workQueue = `${prefix}-orders`;
  const deadLetterQueue = `${prefix}-orders-dlq`;
  const harness = new ControlPlaneHarness(kind);
  const remediationConfig = {
    failureQueues: [{ kind: 'rabbitmq_dlq' as const, integration: 'odoo-mes', queue: deadLetterQueue }],
    executors: { rabbitmq: { url: AMQP_URL, batchSize: 5 } },
  };

  beforeAll(async () => {
    await channel.assertQueue(deadLetterQueue, { durable: true });
    await channel.assertQueue(workQueue, {
      durable: true,
      arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': deadLetterQueue },
    });
    await fillDeadLetterQueue();
  });

  afterAll(async () => {
    await channel.deleteQueue(workQueue).catch(() => undefined);
    await channel.deleteQueue(deadLetterQueue).catch(() => undefined);
    await harness.cleanup();
  });

  /** Publishes the messages to the work queue and rejects each one, so RabbitMQ dead-letters them. */
  async function fillDeadLetterQueue(): Promise<void> {
    for (let index = 0; index < MESSAGE_COUNT; index += 1) {
      channel.sendToQueue(workQueue, Buffer.from(JSON.stringify({ order: `WO-${index}` })), {
        messageId: messageId(index),
        persistent: true,
        contentType: 'application/json',
      });
    }
    await channel.prefetch(100);
    const { consumerTag } = await channel.consume(workQueue, (message) => {
      if (message) channel.nack(message, false, false);
    });
    await waitFor(async () => (await channel.checkQueue(deadLetterQueue)).messageCount === MESSAGE_COUNT);
    await channel.cancel(consumerTag);
  }

  function startChild(mode: 'approve' | 'resume', proposalId: string): { child: ChildProcess; output: Promise<string> } {
    const entry = new URL('./replay-child.ts', import.meta.url);
    const loader = new URL('../../../simulator/ts-loader-register.mjs', import.meta.url);
    const config = JSON.stringify({
      store: { dataDir: harness.dataDir },
      integrations: INTEGRATIONS,
      remediation: { ...harness.config().remediation, ...remediationConfig },
    });
    const schema = kind === 'postgres' ? harness.schema : '';
    const child = fork(entry, [mode, proposalId, config, schema], {
      execArgv: ['--import', loader.href],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const output = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0 || signal === 'SIGKILL') resolve(stdout);
        else reject(new Error(`replay child exited with ${code ?? signal}: ${stderr}`));
      });
    });
    return { child, output };
  }

  /** Reads every message of the work queue once and returns the count of each message id. */
  async function drainWorkQueue(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (;;) {
      const message = await channel.get(workQueue, { noAck: true });
      if (message === false) break;
      const id = String(message.properties.messageId);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  }

  it('moves each message once across a kill', { timeout: 120_000 }, async () => {
    const proposer = await harness.open({ remediation: remediationConfig });
    const proposals = await proposer.propose(exceptionIncident());
    const replay = proposals.find((proposal) => proposal.action === 'replay_dead_letters') as ProposalView;
    await proposer.close();
    harness.opened.length = 0;
    expect(replay.targets).toEqual([{ kind: 'rabbitmq_dlq', ref: deadLetterQueue, detail: `${MESSAGE_COUNT} messages`, state: 'pending' }]);
    expect(replay.blastRadius.events).toBe(MESSAGE_COUNT);
    expect(replay.requiredApprovals).toBe(2);

    const first = startChild('approve', replay.id);
    await waitFor(async () => (await channel.checkQueue(workQueue)).messageCount >= KILL_AFTER_MOVED, CHILD_TIMEOUT_MS);
    await new Promise((resolve) => setTimeout(resolve, randomInt(MAX_KILL_JITTER_MS + 1)));
    first.child.kill('SIGKILL');
    await first.output;
    const movedBeforeKill = (await channel.checkQueue(workQueue)).messageCount;
    expect(movedBeforeKill).toBeGreaterThanOrEqual(KILL_AFTER_MOVED);
    expect(movedBeforeKill).toBeLessThan(MESSAGE_COUNT);

    const second = startChild('resume', replay.id);
    const lines = (await second.output).trim().split('\n');
    const finished = JSON.parse(lines[lines.length - 1] as string) as ProposalView;
    expect(finished.status).toBe('executed');
    expect(finished.result).toContain(`${MESSAGE_COUNT} messages moved`);

    expect((await channel.checkQueue(deadLetterQueue)).messageCount).toBe(0);
    const counts = await drainWorkQueue();
    expect(counts.size).toBe(MESSAGE_COUNT);
    expect([...counts.values()].every((count) => count === 1)).toBe(true);
    for (let index = 0; index < MESSAGE_COUNT; index += 1) expect(counts.get(messageId(index))).toBe(1);

    const reader = await harness.open({ remediation: remediationConfig });
    const events = (await reader.listAudit({ proposalId: replay.id })).map((entry) => entry.event);
    expect(events).toContain('execution.resumed');
    expect(events.filter((event) => event === 'execution.started')).toHaveLength(1);
  });
});
