import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AmqpMessageBus, createBusMessage, type ProcessLogger } from '../../../simulator/process/index.js';
import { waitFor } from './otlp-sink.js';

const RABBITMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';
const WAIT_MS = 5_000;

interface LogRecord {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

const createdQueues: string[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);
process.on('unhandledRejection', onUnhandled);

function createRecordingLogger(records: LogRecord[]): ProcessLogger {
  const log = (level: string) => (fields: Record<string, unknown>, message: string) =>
    void records.push({ level, fields, message });
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

function createQueueName(): string {
  const queue = `test.bus.${randomBytes(4).toString('hex')}`;
  createdQueues.push(queue);
  return queue;
}

async function readMessageCount(queue: string): Promise<number> {
  const connection = await amqp.connect(RABBITMQ_URL);
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

afterEach(() => {
  expect(unhandled).toEqual([]);
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  const connection = await amqp.connect(RABBITMQ_URL);
  try {
    const channel = await connection.createChannel();
    for (const queue of createdQueues) await channel.deleteQueue(queue);
  } finally {
    await connection.close();
  }
});

describe('AmqpMessageBus close', () => {
  it('waits for running handlers', async () => {
    const queue = createQueueName();
    const errors: unknown[] = [];
    const records: LogRecord[] = [];
    const bus = await AmqpMessageBus.connect(RABBITMQ_URL, [queue], (error) => errors.push(error), createRecordingLogger(records));

    let started = false;
    let finished = false;
    await bus.consume(queue, 2, async () => {
      started = true;
      await sleep(300);
      finished = true;
    });
    await bus.publish(queue, createBusMessage({ workOrder: 'plant-a-WO-1' }, {}));
    await waitFor(() => started, WAIT_MS, 20);

    await bus.close();

    expect(started).toBe(true);
    expect(finished).toBe(true);
    expect(errors).toEqual([]);
    expect(records.filter((record) => record.level !== 'debug')).toEqual([]);
    // The handler's ack reached RabbitMQ before the connection closed.
    expect(await readMessageCount(queue)).toBe(0);
  });

  it('ignores acks after the drain timeout', async () => {
    const queue = createQueueName();
    const errors: unknown[] = [];
    const records: LogRecord[] = [];
    const bus = await AmqpMessageBus.connect(RABBITMQ_URL, [queue], (error) => errors.push(error), createRecordingLogger(records));

    let started = false;
    let finished = false;
    await bus.consume(queue, 2, async () => {
      started = true;
      await sleep(400);
      finished = true;
    });
    await bus.publish(queue, createBusMessage({ lot: 'LOT-1' }, {}));
    await waitFor(() => started, WAIT_MS, 20);

    await bus.close(50);
    expect(finished).toBe(false);
    await waitFor(() => finished, WAIT_MS, 20);
    await sleep(50);

    expect(errors).toEqual([]);
    const skipped = records.filter((record) => record.message === 'channel operation skipped while stopping');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]?.level).toBe('debug');
    expect(skipped[0]?.fields.operation).toBe('ack');
    expect(skipped[0]?.fields.queue).toBe(queue);
    const drainNotes = records.filter((record) => record.level === 'info');
    expect(drainNotes.map((record) => record.fields.handlers)).toEqual([1]);
    // The unacknowledged message went back to the queue when the connection closed.
    expect(await readMessageCount(queue)).toBe(1);
  });

  it('keeps a stopped consumer paused', async () => {
    const queue = createQueueName();
    const errors: unknown[] = [];
    const bus = await AmqpMessageBus.connect(RABBITMQ_URL, [queue], (error) => errors.push(error), createRecordingLogger([]));

    let handled = 0;
    const consumer = await bus.consume(queue, 2, async () => {
      handled += 1;
    });
    expect(consumer.paused).toBe(false);

    await bus.stopConsuming();
    expect(consumer.paused).toBe(true);
    await consumer.resume();
    expect(consumer.paused).toBe(true);

    await bus.publish(queue, createBusMessage({ lot: 'LOT-2' }, {}));
    await sleep(200);
    expect(handled).toBe(0);

    await bus.close();
    await consumer.pause();
    await consumer.resume();
    expect(errors).toEqual([]);
    expect(await readMessageCount(queue)).toBe(1);
  });
});
