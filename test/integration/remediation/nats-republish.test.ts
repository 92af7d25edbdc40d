import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORIGINAL_SUBJECT_HEADER } from '../../../remediation/executors/nats-republish.js';
import type { Remediation } from '../../../remediation/index.js';
import { ControlPlaneHarness, exceptionIncident } from './harness.js';

const NATS_URL = 'nats://127.0.0.1:4222';
const MESSAGE_COUNT = 20;
const suffix = randomBytes(4).toString('hex').toUpperCase();
const deadLetterStream = `SW_DLQ_${suffix}`;
const orderStream = `SW_ORDERS_${suffix}`;
const orderSubject = `sw.${suffix}.orders.release`;
const harness = new ControlPlaneHarness('pglite');
let connection: NatsConnection;
let manager: JetStreamManager;
let client: JetStreamClient;
let remediation: Remediation;

beforeAll(async () => {
  connection = await connect({ servers: NATS_URL });
  manager = await jetstreamManager(connection);
  client = jetstream(connection);
  await manager.streams.add({ name: deadLetterStream, subjects: [`sw.${suffix}.dlq.>`] });
  await manager.streams.add({ name: orderStream, subjects: [`sw.${suffix}.orders.>`] });
  for (let index = 0; index < MESSAGE_COUNT; index += 1) {
    const header = headers();
    header.set(ORIGINAL_SUBJECT_HEADER, orderSubject);
    header.set('Correlation-Id', `WO-${index}`);
    await client.publish(`sw.${suffix}.dlq.orders`, JSON.stringify({ order: `WO-${index}` }), { headers: header });
  }
  remediation = await harness.open({
    executeInBackground: false,
    remediation: {
      failureQueues: [{ kind: 'nats_dlq', integration: 'odoo-mes', stream: deadLetterStream }],
      executors: { nats: { servers: [NATS_URL] } },
    },
  });
});

afterAll(async () => {
  await harness.cleanup();
  await manager.streams.delete(deadLetterStream).catch(() => undefined);
  await manager.streams.delete(orderStream).catch(() => undefined);
  await connection.close();
});

describe('NATS republish', () => {
  it('moves dead letters once despite an earlier copy', async () => {
    const proposals = await remediation.propose(exceptionIncident());
    const republish = proposals.find((proposal) => proposal.action === 'republish_nats');
    expect(republish?.targets).toEqual([{ kind: 'nats_dlq', ref: deadLetterStream, detail: `${MESSAGE_COUNT} messages up to sequence ${MESSAGE_COUNT}`, state: 'pending' }]);
    const proposalId = republish?.id as string;
    // A killed run published the first message but did not record it.
    const first = await manager.streams.getMessage(deadLetterStream, { seq: 1 });
    await client.publish(orderSubject, first?.data ?? new Uint8Array(), { msgID: `${proposalId}:${deadLetterStream}:1` });

    const outcome = await remediation.decide({ proposalId, decision: 'approve', userName: 'alice', channel: 'slack' });

    expect(outcome.status).toBe('executed');
    expect(outcome.result).toContain(`${MESSAGE_COUNT} messages republished`);
    expect(outcome.result).toContain('1 dropped by JetStream');
    expect((await manager.streams.info(orderStream)).state.messages).toBe(MESSAGE_COUNT);
    expect((await manager.streams.info(deadLetterStream)).state.messages).toBe(0);
    const last = await manager.streams.getMessage(orderStream, { last_by_subj: orderSubject });
    expect(last?.header.get('Correlation-Id')).toBe(`WO-${MESSAGE_COUNT - 1}`);
    expect(last?.header.get('X-Syncwatch-Replay')).toBe(proposalId);
  });
});
