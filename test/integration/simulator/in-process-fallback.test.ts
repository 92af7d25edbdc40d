import { createServer } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LagSample } from '../../../collector/sources/types.js';
import { startDemoNetwork, type DemoNetwork } from '../../../simulator/index.js';
import { startOtlpSink, waitFor, type OtlpSink } from './otlp-sink.js';

const WAIT_MS = 15_000;

/** Returns a loopback port that nothing listens on. */
async function findClosedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const logRecords: Array<{ level: number; msg: string }> = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logRecords.push(JSON.parse(line)) });

let sink: OtlpSink;
let network: DemoNetwork;

beforeAll(async () => {
  const closedPort = await findClosedPort();
  sink = await startOtlpSink();
  network = await startDemoNetwork({
    otlpEndpoint: sink.endpoint,
    logger,
    rabbitmqUrl: `amqp://guest:guest@127.0.0.1:${closedPort}`,
    postgresUrl: `postgres://postgres@127.0.0.1:${closedPort}/test`,
    rateMultiplier: 10,
    failureProbability: 0.2,
    spanExportIntervalMs: 500,
    inProcessPollIntervalMs: 500,
  });
});

afterAll(async () => {
  await network?.stop();
  await sink?.close();
});

describe('startDemoNetwork without RabbitMQ and PostgreSQL', () => {
  it('falls back to in-process queues', () => {
    expect(network.rabbitmqUrl).toBeUndefined();
    expect(network.queueJob).toBeUndefined();
    expect(network.inProcessSources.map((source) => source.name)).toEqual([
      `demo.${network.runId}.mes.material_consumption`,
      `demo.${network.runId}.odoo.quality_hold`,
      `demo.${network.runId}.odoo.queue_job`,
    ]);
    for (const source of network.inProcessSources) expect(source.kind).toBe('in_process');
  });

  it('names queues after a random run id', () => {
    expect(network.runId).toMatch(/^[0-9a-f]{6}$/);

    const started = logRecords.find((record) => record.msg === 'demo network started') as
      | { runId?: string; queues?: string[] }
      | undefined;
    expect(started?.runId).toBe(network.runId);
    expect(started?.queues).toEqual(network.queues.map((queue) => queue.name));
  });

  it('logs why it fell back', () => {
    const messages = logRecords.map((record) => record.msg);
    expect(messages).toContain('rabbitmq unreachable, using in-process queues');
    expect(messages).toContain('postgresql unreachable, using an in-process job queue');
  });

  it('produces in-process lag samples', async () => {
    const latest = new Map<string, LagSample>();
    const moved = new Set<string>();
    await waitFor(async () => {
      for (const source of network.inProcessSources) {
        const { samples } = await source.poll(new Date());
        for (const sample of samples) {
          latest.set(source.name, sample);
          if ((sample.inflowPerSecond ?? 0) > 0) moved.add(source.name);
        }
      }
      return moved.size === network.inProcessSources.length;
    }, WAIT_MS, 500);

    expect([...moved].sort()).toEqual(network.inProcessSources.map((source) => source.name).sort());
    for (const [name, sample] of latest) {
      expect(sample.sourceKind, name).toBe('in_process');
      expect(sample.status, name).toBe('ok');
      expect(sample.entity, name).toBe(name);
      expect(sample.consumers, name).toBeGreaterThanOrEqual(1);
      expect(sample.lagSeconds, name).toBeGreaterThanOrEqual(0);
    }
    expect(latest.get(`demo.${network.runId}.mes.material_consumption`)?.workflow).toBe('material_consumption');
    expect(latest.get(`demo.${network.runId}.odoo.queue_job`)?.integration).toBe('odoo-supplier-portal');
  });

  it('still exports spans from every system', async () => {
    const systems = ['odoo', 'mes', 'wms', 'qms', 'supplier-portal'];
    await waitFor(() => systems.every((system) => sink.hasService(system)), WAIT_MS);
    for (const system of systems) expect(sink.hasService(system), `spans of ${system}`).toBe(true);
  });
});
