import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { createQueueJobTable } from '../../../simulator/odoo-queue-job.js';

/** A job to insert into a test `queue_job` table. */
export interface JobSpec {
  channel: string;
  model: string;
  method: string;
  state: string;
  /** Seconds before the database clock; negative values lie in the future. */
  createdSecondsAgo?: number;
  etaSecondsAgo?: number;
  startedSecondsAgo?: number;
  enqueuedSecondsAgo?: number;
  excName?: string;
  excMessage?: string;
  excInfo?: string;
  retry?: number;
}

/** Test `queue_job` tables in one PostgreSQL schema, numbered in creation order. */
export class QueueJobTables {
  #tableCounter = 0;

  constructor(
    private readonly admin: pg.Client,
    readonly schema: string,
  ) {}

  /** Number of tables created so far, which tests use to give each source its own name. */
  get created(): number {
    return this.#tableCounter;
  }

  /** Creates the next empty `queue_job` table and returns its qualified name. */
  async create(): Promise<string> {
    this.#tableCounter += 1;
    const table = `${this.schema}.queue_job_${this.#tableCounter}`;
    await createQueueJobTable(this.admin, table);
    return table;
  }

  /** Inserts one job with its times taken from the database clock, and returns its uuid. */
  async insertJob(table: string, job: JobSpec): Promise<string> {
    const uuid = randomUUID();
    await this.admin.query(
      `INSERT INTO ${table} (uuid, name, model_name, method_name, channel_method_name, channel, state,
                             date_created, eta, date_started, date_enqueued, exc_name, exc_message, exc_info, retry, max_retries)
       VALUES ($1, $2, $3, $4, $5, $6, $7,
               ${secondsAgo(job.createdSecondsAgo ?? 0)}, ${secondsAgo(job.etaSecondsAgo)},
               ${secondsAgo(job.startedSecondsAgo)}, ${secondsAgo(job.enqueuedSecondsAgo)},
               $8, $9, $10, $11, 5)`,
      [
        uuid,
        `${job.model}.${job.method}`,
        job.model,
        job.method,
        `<${job.model}>.${job.method}`,
        job.channel,
        job.state,
        job.excName ?? null,
        job.excMessage ?? null,
        job.excInfo ?? null,
        job.retry ?? 0,
      ],
    );
    return uuid;
  }
}

function secondsAgo(seconds: number | undefined): string {
  return seconds === undefined ? 'NULL' : `(now() AT TIME ZONE 'UTC') - make_interval(secs => ${seconds})`;
}
