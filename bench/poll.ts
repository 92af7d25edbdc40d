/**
 * Poll benchmark: 1,000 entities polled every 10 s through the real
 * scheduler and lag writer into an embedded store in a temporary directory,
 * reporting the CPU share of one core that the whole process used.
 *
 * Entities: 500 queues on the RabbitMQ broker at 127.0.0.1:5672 (10 sources
 * of 50 queues, read over AMQP), 300 job channels in 10 Odoo `queue_job`
 * tables in the PostgreSQL database at 127.0.0.1:5432 (30 channels each) and
 * 200 in-process queues. Queues, tables and the data directory get a random
 * name and are removed at the end.
 *
 * Run with `npm run bench:poll`; `--duration-s` and `--interval-s` change the
 * run time (default 60) and the poll interval (default 10).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ClickHouseClient } from '@clickhouse/client';
import amqp from 'amqplib';
import pg from 'pg';
import { pino } from 'pino';
import { createLagWriter } from '../collector/lag-writer.js';
import { QueueJobSource, queueJobSourceConfigSchema } from '../collector/sources/queue-job.js';
import { RabbitmqSource, rabbitmqSourceConfigSchema } from '../collector/sources/rabbitmq.js';
import {
  startSourcePolling,
  type LagBatch,
  type LagSink,
  type PollOutcome,
  type SourcePollStats,
} from '../collector/sources/scheduler.js';
import type { LagSource } from '../collector/sources/types.js';
import { InProcessQueue } from '../simulator/in-process-queue.js';
import { createQueueJobTable } from '../simulator/odoo-queue-job.js';
import { migrate } from '../store/migrate.js';
import { openClickHouse } from '../store/clickhouse.js';

const AMQP_URL = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const RABBITMQ_SOURCES = 10;
const QUEUES_PER_RABBITMQ_SOURCE = 50;
const QUEUE_JOB_TABLES = 10;
const CHANNELS_PER_TABLE = 30;
const IN_PROCESS_QUEUES = 200;

/** CPU share of one core the run should stay under. */
const CPU_SHARE_GOAL = 0.05;
const PROGRESS_INTERVAL_MS = 10_000;

const MEBIBYTE = 1024 * 1024;

interface BenchOptions {
  durationMs: number;
  intervalMs: number;
}

/** Everything the run creates outside the process, removed at the end. */
interface Fixtures {
  prefix: string;
  schema: string;
  queues: string[];
  dataDir: string;
  sources: LagSource[];
  /** Summary of the entity mix, printed with the results. */
  description: string;
}

/** Sink that passes batches to the lag writer and counts what was stored. */
interface CountingSink extends LagSink {
  samplesWritten: number;
  pollRecordsWritten: number;
  outcomes: Record<PollOutcome, number>;
}

function readOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
      'duration-s': { type: 'string', default: '60' },
      'interval-s': { type: 'string', default: '10' },
    },
  });
  const durationS = Number(values['duration-s']);
  const intervalS = Number(values['interval-s']);
  if (!(durationS > 0) || !(intervalS > 0)) {
    throw new Error(
      `invalid --duration-s "${values['duration-s']}" or --interval-s "${values['interval-s']}": expected positive numbers of seconds`,
    );
  }
  return { durationMs: durationS * 1000, intervalMs: intervalS * 1000 };
}

/** Creates the RabbitMQ queues, adding each name to `queues` as soon as it exists so cleanup finds it. */
async function createRabbitmqQueues(prefix: string, queues: string[]): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  try {
    const channel = await connection.createChannel();
    for (let index = 0; index < RABBITMQ_SOURCES * QUEUES_PER_RABBITMQ_SOURCE; index += 1) {
      const queue = `${prefix}-${String(index).padStart(3, '0')}`;
      await channel.assertQueue(queue, { durable: false, autoDelete: false });
      queues.push(queue);
      // Every fifth queue has a message waiting and no consumer.
      if (index % 5 === 0) channel.sendToQueue(queue, Buffer.from('waiting'));
    }
    await channel.close();
  } finally {
    await connection.close();
  }
}

async function deleteRabbitmqQueues(queues: string[]): Promise<void> {
  if (queues.length === 0) return;
  const connection = await amqp.connect(AMQP_URL);
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.deleteQueue(queue);
    await channel.close();
  } finally {
    await connection.close();
  }
}

async function createQueueJobTables(schema: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
    const tables: string[] = [];
    for (let index = 0; index < QUEUE_JOB_TABLES; index += 1) {
      const table = `${schema}.queue_job_${index}`;
      await createQueueJobTable(client, table);
      // Two pending jobs per channel, created a minute ago, so each channel reports lag.
      await client.query(
        `INSERT INTO ${table} (uuid, name, model_name, method_name, channel_method_name, channel, state, date_created, retry, max_retries)
         SELECT $1 || '-' || n, 'stock.move.sync', 'stock.move', 'sync', '<stock.move>.sync',
                'root.bench_' || (n % ${CHANNELS_PER_TABLE}), 'pending',
                (now() AT TIME ZONE 'UTC') - interval '1 minute', 0, 5
           FROM generate_series(0, ${CHANNELS_PER_TABLE * 2 - 1}) AS n`,
        [randomUUID()],
      );
      tables.push(table);
    }
    return tables;
  } finally {
    await client.end();
  }
}

async function dropQueueJobSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

function createRabbitmqSources(prefix: string, queues: string[], intervalMs: number): LagSource[] {
  const sources: LagSource[] = [];
  for (let index = 0; index < RABBITMQ_SOURCES; index += 1) {
    const config = rabbitmqSourceConfigSchema.parse({
      kind: 'rabbitmq',
      name: `${prefix}-rabbitmq-${index}`,
      integration: 'odoo-wms',
      workflow: 'stock_move',
      intervalMs,
      url: AMQP_URL,
      queues: queues.slice(index * QUEUES_PER_RABBITMQ_SOURCE, (index + 1) * QUEUES_PER_RABBITMQ_SOURCE),
    });
    sources.push(new RabbitmqSource(config));
  }
  return sources;
}

function createQueueJobSources(prefix: string, tables: string[], intervalMs: number): LagSource[] {
  return tables.map((table, index) => {
    const config = queueJobSourceConfigSchema.parse({
      kind: 'queue_job',
      name: `${prefix}-queue-job-${index}`,
      integration: 'odoo-mes',
      workflow: 'material_consumption',
      intervalMs,
      url: POSTGRES_URL,
      table,
    });
    return new QueueJobSource(config);
  });
}

function createInProcessSources(prefix: string, intervalMs: number): LagSource[] {
  const nowMs = Date.now();
  return Array.from({ length: IN_PROCESS_QUEUES }, (_, index) => {
    const queue = new InProcessQueue({
      name: `${prefix}-in-process-${index}`,
      integration: 'odoo-qms',
      workflow: 'quality_hold',
      intervalMs,
    });
    // Every fourth queue has one message waiting, published 30 s ago.
    if (index % 4 === 0) queue.publish({ id: randomUUID(), publishedAtMs: nowMs - 30_000, headers: {}, body: {} });
    return queue;
  });
}

function createFixtures(): Fixtures {
  const suffix = randomBytes(4).toString('hex');
  return {
    prefix: `sw-bench-${suffix}`,
    schema: `sw_bench_${suffix}`,
    queues: [],
    dataDir: mkdtempSync(join(tmpdir(), 'syncwatch-bench-poll-')),
    sources: [],
    description: '',
  };
}

async function setUpFixtures(fixtures: Fixtures, options: BenchOptions): Promise<void> {
  await createRabbitmqQueues(fixtures.prefix, fixtures.queues);
  const tables = await createQueueJobTables(fixtures.schema);
  fixtures.sources = [
    ...createRabbitmqSources(fixtures.prefix, fixtures.queues, options.intervalMs),
    ...createQueueJobSources(fixtures.prefix, tables, options.intervalMs),
    ...createInProcessSources(fixtures.prefix, options.intervalMs),
  ];
  fixtures.description =
    `${fixtures.queues.length} RabbitMQ queues in ${RABBITMQ_SOURCES} sources (AMQP), ` +
    `${tables.length * CHANNELS_PER_TABLE} queue_job channels in ${tables.length} PostgreSQL tables, ` +
    `${IN_PROCESS_QUEUES} in-process queues`;
}

async function tearDownFixtures(fixtures: Fixtures): Promise<void> {
  await Promise.allSettled(fixtures.sources.map((source) => source.close()));
  const results = await Promise.allSettled([deleteRabbitmqQueues(fixtures.queues), dropQueueJobSchema(fixtures.schema)]);
  for (const result of results) {
    if (result.status === 'rejected') console.error(`cleanup failed: ${String(result.reason)}`);
  }
  rmSync(fixtures.dataDir, { recursive: true, force: true });
}

function createCountingSink(client: ClickHouseClient): CountingSink {
  const writer = createLagWriter(client);
  const sink: CountingSink = {
    samplesWritten: 0,
    pollRecordsWritten: 0,
    outcomes: { ok: 0, down: 0, error: 0, timeout: 0 },
    async write(batch: LagBatch) {
      await writer.write(batch);
      sink.samplesWritten += batch.samples.length;
      for (const record of batch.polls ?? []) {
        sink.pollRecordsWritten += 1;
        sink.outcomes[record.outcome] += 1;
      }
    },
    flush: () => writer.flush(),
  };
  return sink;
}

function formatPercent(share: number): string {
  return `${(share * 100).toFixed(2)}%`;
}

/** Returns the CPU time (user and system, all threads) since `start` as a share of one core over `wallMs`. */
function measureCpuShare(start: NodeJS.CpuUsage, wallMs: number): { cpuMs: number; share: number } {
  const usage = process.cpuUsage(start);
  const cpuMs = (usage.user + usage.system) / 1000;
  return { cpuMs, share: wallMs > 0 ? cpuMs / wallMs : 0 };
}

async function countRows(client: ClickHouseClient, table: string, prefix: string): Promise<number> {
  const result = await client.query({
    query: `SELECT toString(count()) AS rows FROM ${table} WHERE startsWith(source, {prefix: String})`,
    query_params: { prefix },
    format: 'JSONEachRow',
  });
  const [row] = await result.json<{ rows: string }>();
  return Number(row?.rows ?? 0);
}

function sumPolls(stats: readonly SourcePollStats[]): number {
  return stats.reduce((total, source) => total + source.polls, 0);
}

/** Measured totals of one run. */
interface RunTotals {
  polls: number;
  cpuMs: number;
  wallMs: number;
  share: number;
}

async function printSummary(client: ClickHouseClient, fixtures: Fixtures, sink: CountingSink, totals: RunTotals): Promise<void> {
  const storedSamples = await countRows(client, 'integration_lag', fixtures.prefix);
  const storedPolls = await countRows(client, 'source_polls', fixtures.prefix);
  const outcomes = Object.entries(sink.outcomes).map(([outcome, count]) => `${outcome} ${count}`);
  const peakRssMb = (process.resourceUsage().maxRSS * 1024) / MEBIBYTE;
  const verdict = totals.share < CPU_SHARE_GOAL ? 'met' : 'missed';

  console.log('');
  console.log(`polls done: ${totals.polls} (${outcomes.join(', ')})`);
  console.log(`samples written: ${sink.samplesWritten} (${storedSamples} rows in integration_lag, ${storedPolls} in source_polls)`);
  console.log(
    `cpu: ${totals.cpuMs.toFixed(0)} ms user+system over ${totals.wallMs.toFixed(0)} ms wall = ` +
      `${formatPercent(totals.share)} of one core (goal under ${formatPercent(CPU_SHARE_GOAL)}: ${verdict})`,
  );
  console.log(`peak rss: ${peakRssMb.toFixed(0)} MiB (setup included)`);
}

async function runBenchmark(options: BenchOptions, fixtures: Fixtures): Promise<void> {
  const client = openClickHouse({ kind: 'embedded', dataDir: fixtures.dataDir });
  try {
    await migrate(client);
    const sink = createCountingSink(client);
    const logger = pino({ name: 'bench-poll', level: 'warn' }, pino.destination(2));
    console.log(`entities: ${fixtures.description}`);
    console.log(`interval ${options.intervalMs / 1000} s, run ${options.durationMs / 1000} s, store ${fixtures.dataDir}`);

    const cpuStart = process.cpuUsage();
    const wallStart = performance.now();
    const polling = startSourcePolling(fixtures.sources, sink, { logger });
    const progress = setInterval(() => {
      const wallMs = performance.now() - wallStart;
      const { share } = measureCpuShare(cpuStart, wallMs);
      const polls = sumPolls(polling.stats());
      const rssMb = process.memoryUsage().rss / MEBIBYTE;
      console.log(
        `[${(wallMs / 1000).toFixed(0).padStart(4)} s] polls ${polls}, samples written ${sink.samplesWritten}, ` +
          `cpu ${formatPercent(share)} of one core, rss ${rssMb.toFixed(0)} MiB`,
      );
    }, PROGRESS_INTERVAL_MS);
    await new Promise((resolve) => setTimeout(resolve, options.durationMs));
    clearInterval(progress);
    await polling.stop();
    const wallMs = performance.now() - wallStart;
    const { cpuMs, share } = measureCpuShare(cpuStart, wallMs);

    await printSummary(client, fixtures, sink, { polls: sumPolls(polling.stats()), cpuMs, wallMs, share });
  } finally {
    await client.close();
  }
}

async function main(): Promise<void> {
  const options = readOptions();
  const fixtures = createFixtures();
  const cleanUp = () => {
    void tearDownFixtures(fixtures).finally(() => process.exit(130));
  };
  process.once('SIGINT', cleanUp);
  try {
    console.log('setting up queues, tables and the store');
    await setUpFixtures(fixtures, options);
    await runBenchmark(options, fixtures);
  } finally {
    process.off('SIGINT', cleanUp);
    await tearDownFixtures(fixtures);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
