import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import amqp from 'amqplib';
import type pg from 'pg';
import type { Logger } from 'pino';
import { openReadOnlyPool } from '../collector/sources/queue-job.js';
import { quoteQualifiedSqlName } from '../collector/sources/common.js';
import type { FailedJob, FailureFacts } from './builder.js';
import type { FailureQueueConfig, RemediationConfig } from './config.js';

/** Failed jobs read per queue_job table and proposal, oldest first. */
export const MAX_JOB_TARGETS = 1_000;
const READ_TIMEOUT_MS = 10_000;

/**
 * Reads the failed work of an integration from the systems that hold it: failed
 * queue_job rows and their duplicates, and the message counts of dead-letter
 * queues and streams. A system that cannot be read is logged and left out,
 * so the proposals it would have carried are not offered.
 */
export class TargetFinder {
  readonly #config: RemediationConfig;
  readonly #logger: Logger;
  #jobPool: pg.Pool | undefined;

  constructor(config: RemediationConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
  }

  async findFacts(integration: string): Promise<FailureFacts[]> {
    const facts: FailureFacts[] = [];
    for (const queue of this.#config.failureQueues.filter((entry) => entry.integration === integration)) {
      try {
        const fact = await this.#read(queue);
        if (fact !== undefined) facts.push(fact);
      } catch (error) {
        this.#logger.warn({ err: error, integration, failureQueue: queue.kind }, 'failure queue could not be read; its proposals are left out');
      }
    }
    return facts;
  }

  async close(): Promise<void> {
    await this.#jobPool?.end();
    this.#jobPool = undefined;
  }

  async #read(queue: FailureQueueConfig): Promise<FailureFacts | undefined> {
    switch (queue.kind) {
      case 'queue_job':
        return this.#readJobs(queue);
      case 'rabbitmq_dlq':
        return this.#readDeadLetterQueue(queue);
      case 'nats_dlq':
        return this.#readDeadLetterStream(queue);
    }
  }

  async #readJobs(queue: Extract<FailureQueueConfig, { kind: 'queue_job' }>): Promise<FailureFacts | undefined> {
    const url = this.#config.executors.queueJob?.url;
    if (url === undefined) return undefined;
    this.#jobPool ??= openReadOnlyPool(url, READ_TIMEOUT_MS);
    const table = quoteQualifiedSqlName(queue.table);
    const channel = queue.channel ?? null;
    const failed = await this.#jobPool.query<{
      uuid: string;
      channel: string;
      records: string | null;
      exc_name: string | null;
      identity_key: string | null;
      retry: number | null;
      duplicate: boolean;
    }>(
      `SELECT j.uuid, j.channel, j.records, j.exc_name, j.identity_key, j.retry,
              (j.identity_key IS NOT NULL AND EXISTS (
                  SELECT 1 FROM ${table} d WHERE d.identity_key = j.identity_key AND d.state = 'done')) AS duplicate
         FROM ${table} j
        WHERE j.state = 'failed' AND ($1::text IS NULL OR j.channel = $1)
        ORDER BY j.date_created, j.id LIMIT ${MAX_JOB_TARGETS + 1}`,
      [channel],
    );
    const read = failed.rows.slice(0, MAX_JOB_TARGETS);
    const toJob = (row: (typeof failed.rows)[number]): FailedJob => ({
      uuid: row.uuid,
      channel: row.channel,
      records: row.records,
      excName: row.exc_name,
      identityKey: row.identity_key,
      retry: row.retry ?? 0,
    });
    return {
      kind: 'queue_job',
      integration: queue.integration,
      table: queue.table,
      channel: queue.channel,
      failedJobs: read.filter((row) => !row.duplicate).map(toJob),
      duplicateJobs: read.filter((row) => row.duplicate).map(toJob),
      truncated: failed.rows.length > MAX_JOB_TARGETS,
    };
  }

  async #readDeadLetterQueue(queue: Extract<FailureQueueConfig, { kind: 'rabbitmq_dlq' }>): Promise<FailureFacts | undefined> {
    const url = this.#config.executors.rabbitmq?.url;
    if (url === undefined) return undefined;
    const connection = await amqp.connect(url, { timeout: READ_TIMEOUT_MS, noDelay: true });
    try {
      const channel = await connection.createChannel();
      const reply = await channel.checkQueue(queue.queue);
      return { kind: 'rabbitmq_dlq', integration: queue.integration, queue: queue.queue, returnQueue: queue.returnQueue, messages: reply.messageCount };
    } finally {
      await connection.close().catch(() => undefined);
    }
  }

  async #readDeadLetterStream(queue: Extract<FailureQueueConfig, { kind: 'nats_dlq' }>): Promise<FailureFacts | undefined> {
    const servers = this.#config.executors.nats?.servers;
    if (servers === undefined) return undefined;
    const connection = await connect({ servers, timeout: READ_TIMEOUT_MS, name: 'syncwatch-remediation' });
    try {
      const manager = await jetstreamManager(connection);
      const info = await manager.streams.info(queue.stream);
      return {
        kind: 'nats_dlq',
        integration: queue.integration,
        stream: queue.stream,
        subject: queue.subject,
        messages: info.state.messages,
        lastSequence: info.state.last_seq,
      };
    } finally {
      await connection.close().catch(() => undefined);
    }
  }
}
