import amqp from 'amqplib';
import pg from 'pg';
import type { Logger } from 'pino';
import { createQueueJobTable, quoteTableName } from './odoo-queue-job.js';
import type { QueueJobLocation } from './process-protocol.js';

/** Table name of the demo's job queue inside its schema. */
export const QUEUE_JOB_TABLE = 'queue_job';

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${operation} timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Strips the password from a connection URL, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<invalid url>';
  }
}

/**
 * Declares the demo queues on RabbitMQ (durable, so they survive a broker
 * restart like production queues). Returns false when the broker cannot be
 * reached, so the network uses in-process queues instead.
 */
export async function prepareRabbitMq(
  url: string,
  queues: string[],
  timeoutMs: number,
  logger: Logger,
): Promise<boolean> {
  try {
    const connection = await withTimeout(amqp.connect(url, { timeout: timeoutMs }), timeoutMs, 'RabbitMQ connect');
    connection.on('error', () => undefined);
    try {
      const channel = await connection.createChannel();
      for (const queue of queues) await channel.assertQueue(queue, { durable: true });
    } finally {
      await connection.close().catch(() => undefined);
    }
    return true;
  } catch (error) {
    logger.warn({ url: redactUrl(url), err: error }, 'rabbitmq unreachable, using in-process queues');
    return false;
  }
}

/** Deletes the demo queues. Failures are logged, not raised. */
export async function deleteRabbitMqQueues(url: string, queues: string[], logger: Logger): Promise<void> {
  try {
    const connection = await amqp.connect(url);
    connection.on('error', () => undefined);
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.deleteQueue(queue);
    await connection.close();
  } catch (error) {
    logger.warn({ err: error, queues }, 'deleting demo queues failed');
  }
}

/**
 * Creates the demo schema and its `queue_job` table and empties the table, so
 * jobs left `started` by an earlier run do not show up as stuck. Returns
 * undefined when PostgreSQL cannot be reached.
 */
export async function prepareQueueJob(
  connectionString: string,
  schema: string,
  timeoutMs: number,
  logger: Logger,
): Promise<QueueJobLocation | undefined> {
  const qualified = quoteTableName(`${schema}.${QUEUE_JOB_TABLE}`);
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await withTimeout(client.connect(), timeoutMs, 'PostgreSQL connect');
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteTableName(schema)}`);
    await createQueueJobTable(client, `${schema}.${QUEUE_JOB_TABLE}`);
    await client.query(`TRUNCATE ${qualified}`);
    return { connectionString, schema, table: QUEUE_JOB_TABLE };
  } catch (error) {
    logger.warn({ url: redactUrl(connectionString), err: error }, 'postgresql unreachable, using an in-process job queue');
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops the demo schema with its table. Failures are logged, not raised. */
export async function dropQueueJobSchema(location: QueueJobLocation, logger: Logger): Promise<void> {
  const client = new pg.Client({ connectionString: location.connectionString });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${quoteTableName(location.schema)} CASCADE`);
  } catch (error) {
    logger.warn({ err: error, schema: location.schema }, 'dropping demo schema failed');
  } finally {
    await client.end().catch(() => undefined);
  }
}
