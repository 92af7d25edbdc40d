import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoConfig } from '../../../cli/demo-command.js';
import { parseConfigObject } from '../../../config/index.js';
import { startDemoNetwork, type DemoNetwork } from '../../../simulator/index.js';
import { startOtlpSink, waitFor, type OtlpSink } from './otlp-sink.js';

const RABBITMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';
const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
const WAIT_MS = 15_000;
const SPAN_KIND_SERVER = 2;
const SPAN_KIND_PRODUCER = 4;
const SPAN_KIND_CONSUMER = 5;
const STATUS_CODE_ERROR = 2;
const WORKFLOW_PATTERN =
  /^(production_order_release|material_consumption|quality_hold|shipment_milestone|supplier_confirmation)$/;

const suffix = randomBytes(4).toString('hex');
const LEVEL_WARN = 40;
const logRecords: Array<{ level: number; msg: string }> = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logRecords.push(JSON.parse(line)) });

let sink: OtlpSink;
let network: DemoNetwork;

beforeAll(async () => {
  sink = await startOtlpSink();
  network = await startDemoNetwork({
    otlpEndpoint: sink.endpoint,
    logger,
    rabbitmqUrl: RABBITMQ_URL,
    postgresUrl: POSTGRES_URL,
    queuePrefix: `test-${suffix}`,
    queueJobSchema: `syncwatch_demo_${suffix}`,
    rateMultiplier: 10,
    failureProbability: 0.2,
    spanExportIntervalMs: 500,
    removeResourcesOnStop: true,
  });
});

afterAll(async () => {
  await network?.stop();
  await sink?.close();
});

describe('startDemoNetwork with RabbitMQ and PostgreSQL', () => {
  it('uses the real lag sources', () => {
    expect(network.rabbitmqUrl).toBe(RABBITMQ_URL);
    expect(network.queueJob).toEqual({
      connectionString: POSTGRES_URL,
      schema: `syncwatch_demo_${suffix}`,
      table: 'queue_job',
    });
    expect(network.inProcessSources).toEqual([]);
    expect(network.queues.map((queue) => queue.name)).toEqual([
      `test-${suffix}.mes.material_consumption`,
      `test-${suffix}.odoo.quality_hold`,
    ]);
  });

  it('feeds its queues to demo sources', () => {
    const config = buildDemoConfig(parseConfigObject({}), network);

    const rabbitmqQueues = config.sources
      .flatMap((source) => (source.kind === 'rabbitmq' ? (source.queues ?? []) : []))
      .map((queue) => (typeof queue === 'string' ? queue : queue.name));
    expect(rabbitmqQueues.sort()).toEqual(network.queues.map((queue) => queue.name).sort());

    const queueJob = config.sources.find((source) => source.kind === 'queue_job');
    expect(queueJob).toBeDefined();
    expect(queueJob).toHaveProperty('table', `syncwatch_demo_${suffix}.queue_job`);
  });

  it('starts one process per system', () => {
    const instances = network.systems.map((system) => system.instanceId).sort();
    expect(instances).toEqual(['mes-plant-a', 'mes-plant-b', 'odoo', 'qms', 'supplier-portal', 'wms']);
    for (const system of network.systems) expect(system.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('exports spans from every system', async () => {
    const systems = ['odoo', 'mes', 'wms', 'qms', 'supplier-portal'];
    await waitFor(() => systems.every((system) => sink.hasService(system)), WAIT_MS);
    for (const system of systems) expect(sink.hasService(system), `spans of ${system}`).toBe(true);
  });

  it('tags every span with its transaction', () => {
    const spans = sink.decodeSpans();
    expect(spans.length).toBeGreaterThan(0);
    for (const { service, span, attributes } of spans) {
      const where = `${service} span ${span.name}`;
      expect(attributes['syncwatch.correlation_id'], where).toMatch(/^[0-9a-f-]{36}$/);
      expect(attributes['syncwatch.idempotency_key'], where).toBeTruthy();
      expect(attributes['syncwatch.workflow'], where).toMatch(WORKFLOW_PATTERN);
      expect(attributes['syncwatch.plant'], where).toMatch(/^plant-[ab]$/);
      expect(attributes['syncwatch.integration'], where).toMatch(/^odoo-/);
    }
  });

  it('continues traces across processes', async () => {
    const expectedServices: Record<string, string[]> = {
      production_order_release: ['mes', 'odoo'],
      material_consumption: ['mes', 'odoo'],
      shipment_milestone: ['odoo', 'supplier-portal', 'wms'],
      supplier_confirmation: ['odoo', 'supplier-portal'],
    };
    const servicesOf = (workflow: string) => [
      ...new Set(
        sink
          .decodeSpans()
          .filter((entry) => entry.attributes['syncwatch.workflow'] === workflow)
          .map((entry) => entry.service),
      ),
    ].sort();
    // A transaction's later hops export a few seconds after its first, so wait for all of them.
    await waitFor(
      () => Object.entries(expectedServices).every(([workflow, services]) => servicesOf(workflow).join() === services.join()),
      WAIT_MS,
      500,
    );
    for (const [workflow, services] of Object.entries(expectedServices)) {
      expect(servicesOf(workflow), workflow).toEqual(services);
    }

    const spans = sink.decodeSpans();

    for (const entry of spans) {
      const correlationId = entry.attributes['syncwatch.correlation_id'];
      const sameTransaction = spans.filter((other) => other.attributes['syncwatch.correlation_id'] === correlationId);
      const traceIds = new Set(sameTransaction.map((other) => Buffer.from(other.span.traceId).toString('hex')));
      // A replayed transaction reuses its ids in a second trace.
      expect(traceIds.size, `traces of ${correlationId}`).toBeLessThanOrEqual(2);
    }
  });

  it('names server spans by route', () => {
    const serverSpans = sink.decodeSpans().filter((entry) => entry.span.kind === SPAN_KIND_SERVER);
    expect(serverSpans.length).toBeGreaterThan(0);
    for (const { service, span, attributes } of serverSpans) {
      expect(attributes['http.route'], `${service} span ${span.name}`).toMatch(/^\/(api|webhooks)\//);
      expect(span.name).toBe(`POST ${attributes['http.route']}`);
    }
  });

  it('links consumer spans to producer spans', async () => {
    const findLinkedQueueSystems = () => {
      const spans = sink.decodeSpans();
      const spanIds = new Map(spans.map((entry) => [Buffer.from(entry.span.spanId).toString('hex'), entry]));
      const systems = new Set<string>();
      for (const entry of spans) {
        if (entry.span.kind !== SPAN_KIND_CONSUMER) continue;
        const parent = spanIds.get(Buffer.from(entry.span.parentSpanId).toString('hex'));
        if (parent?.span.kind === SPAN_KIND_PRODUCER) systems.add(parent.attributes['messaging.system'] ?? '');
      }
      return systems;
    };
    await waitFor(() => findLinkedQueueSystems().size >= 2, WAIT_MS, 500);

    const queueSystems = findLinkedQueueSystems();
    expect(queueSystems).toContain('rabbitmq');
    expect(queueSystems).toContain('odoo_queue_job');
  });

  it('records failures as error spans', async () => {
    const findFailed = () => sink.decodeSpans().filter((entry) => entry.span.status.code === STATUS_CODE_ERROR);
    const hasException = (entry: ReturnType<typeof findFailed>[number]) =>
      entry.span.events.some((event) => event.name === 'exception');
    // Failures are drawn at random, so an early export may hold none yet.
    await waitFor(() => findFailed().some(hasException), WAIT_MS, 500);

    const failed = findFailed();
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.filter(hasException).length).toBeGreaterThan(0);
  });

  it('publishes to the RabbitMQ queues', async () => {
    const connection = await amqp.connect(RABBITMQ_URL);
    try {
      const channel = await connection.createChannel();
      const [consumption, qualityHold] = network.queues.map((queue) => queue.name) as [string, string];
      let maxWaiting = 0;
      await waitFor(async () => {
        maxWaiting = Math.max(maxWaiting, (await channel.checkQueue(consumption)).messageCount);
        return maxWaiting > 0;
      }, WAIT_MS);
      expect(maxWaiting).toBeGreaterThan(0);

      const holds = await channel.checkQueue(qualityHold);
      expect(holds.consumerCount).toBe(1);
    } finally {
      await connection.close();
    }
  });

  it('moves queue_job rows through several states', async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    const table = `"syncwatch_demo_${suffix}"."queue_job"`;
    const readStates = async () => {
      const result = await client.query<{ state: string }>(`SELECT DISTINCT state FROM ${table}`);
      return result.rows.map((row) => row.state);
    };
    try {
      const seen = new Set<string>();
      await waitFor(async () => {
        for (const state of await readStates()) seen.add(state);
        return seen.has('done') && seen.has('failed') && seen.size >= 3;
      }, WAIT_MS);
      expect(seen).toContain('done');
      expect(seen).toContain('failed');
      expect(seen.size).toBeGreaterThanOrEqual(3);

      const failed = await client.query<{ exc_name: string; exc_message: string }>(
        `SELECT exc_name, exc_message FROM ${table} WHERE state = 'failed'`,
      );
      for (const row of failed.rows) {
        expect(row.exc_name).toMatch(/^(odoo\.exceptions\.UserError|odoo\.addons\.queue_job\.exception\.FailedJobError)$/);
        expect(row.exc_message.length).toBeGreaterThan(0);
      }
    } finally {
      await client.end();
    }
  });

  it('keeps every system process running', () => {
    const exits = logRecords.filter((record) => record.msg === 'system process exited');
    expect(exits).toEqual([]);
  });

  it('stops processes and removes resources', async () => {
    const firstStopRecord = logRecords.length;
    await network.stop();

    const stopWarnings = logRecords.slice(firstStopRecord).filter((record) => record.level >= LEVEL_WARN);
    expect(stopWarnings).toEqual([]);

    for (const system of network.systems) {
      expect(() => process.kill(system.pid, 0), `${system.instanceId} process`).toThrow();
    }

    const connection = await amqp.connect(RABBITMQ_URL);
    try {
      for (const queue of network.queues) {
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        await expect(channel.checkQueue(queue.name), queue.name).rejects.toThrow(/NOT_FOUND/);
      }
    } finally {
      await connection.close();
    }

    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const schemas = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [`syncwatch_demo_${suffix}`]);
      expect(schemas.rowCount).toBe(0);
    } finally {
      await client.end();
    }
  });
});
