import type { ClickHouseClient } from '@clickhouse/client';
import { CANONICAL_WORKFLOWS, parseConfigObject, type SyncwatchConfig } from '../config/index.js';
import { createLogger, startService, type Logger, type RunningService } from '../server/index.js';
import { startDemoNetwork, type DemoNetwork } from '../simulator/index.js';
import {
  DEFAULT_SCENARIO_HISTORY_MINUTES,
  ScenarioReplaySource,
  writeScenarioHistory,
  type ScenarioKind,
} from '../simulator/scenarios/index.js';

/** How often the demo prints what the store holds. */
const PROGRESS_INTERVAL_MS = 10_000;
/** Management API the demo's RabbitMQ source reads rates and head-message age from, when reachable. */
const DEFAULT_RABBITMQ_MANAGEMENT_URL = 'http://guest:guest@127.0.0.1:15672';

export interface DemoCommandOptions {
  /** Configuration whose store, collector and API settings the demo keeps. */
  config: SyncwatchConfig;
  /** Stop after this many seconds; run until SIGINT or SIGTERM when undefined. */
  durationSeconds?: number;
  /** Scenario replayed live beside the network's own traffic, as its own queue and partner probe. */
  scenario?: ScenarioKind;
  /** Minutes of the scenario's normal traffic written before it starts. Default `DEFAULT_SCENARIO_HISTORY_MINUTES`. */
  historyMinutes?: number;
}

/** Integrations of the demo network: Odoo and each system beside it. */
const DEMO_INTEGRATIONS = [
  { name: 'odoo-mes', systems: ['odoo', 'mes'], description: 'production orders and material consumption' },
  { name: 'odoo-wms', systems: ['odoo', 'wms'], description: 'stock moves and shipment picking' },
  { name: 'odoo-qms', systems: ['odoo', 'qms'], description: 'quality holds and releases' },
  { name: 'odoo-supplier-portal', systems: ['odoo', 'supplier-portal'], description: 'supplier confirmations and ASNs' },
];

const WORKFLOW_INTEGRATIONS: Record<string, string[]> = {
  production_order_release: ['odoo-mes'],
  material_consumption: ['odoo-mes'],
  work_order_completion: ['odoo-mes'],
  quality_hold: ['odoo-qms', 'odoo-wms'],
  stock_move: ['odoo-wms'],
  shipment_milestone: ['odoo-wms'],
  supplier_confirmation: ['odoo-supplier-portal'],
};

/**
 * Runs syncwatch on the configured store together with a simulated
 * production network that sends it traces over OTLP and keeps real queues
 * busy, then prints what arrives until stopped.
 */
export async function runDemoCommand(options: DemoCommandOptions): Promise<number> {
  const logger = createLogger();
  // Watched from the start, so a Ctrl-C during start-up still stops the demo and removes its queues and schema.
  const stopSignal = watchStopSignal();
  const { otlp } = options.config.collector;
  const otlpHost = otlp.host === '0.0.0.0' ? '127.0.0.1' : otlp.host;
  const network = await startDemoNetwork({
    otlpEndpoint: `http://${otlpHost}:${otlp.port}/v1/traces`,
    rabbitmqUrl: process.env.SYNCWATCH_DEMO_RABBITMQ_URL,
    postgresUrl: process.env.SYNCWATCH_DEMO_PG_URL,
    logger: logger.child({ component: 'demo' }),
    // Each run declares queues and a schema named after its random run id, so
    // it removes them again instead of leaving them behind on every run.
    // NOTE: a demo ended by SIGKILL, a second Ctrl-C or a crash leaves its `demo.<run id>.*`
    // queues and its `syncwatch_demo_<run id>` schema behind.
    removeResourcesOnStop: true,
  });

  let service: RunningService;
  try {
    const config = buildDemoConfig(options.config, network);
    const scenarioSources =
      options.scenario === undefined
        ? []
        : [new ScenarioReplaySource({ kind: options.scenario, historyMinutes: options.historyMinutes ?? DEFAULT_SCENARIO_HISTORY_MINUTES })];
    service = await startService({
      config,
      logger,
      extraSources: [...network.inProcessSources, ...scenarioSources],
      beforeStart: (client) => writeScenarioHistory(client, scenarioSources, logger),
    });
  } catch (error) {
    await network.stop();
    stopSignal.dispose();
    throw error;
  }

  printWelcome(service, network);
  const progress = setInterval(() => void printProgress(service.client, logger), PROGRESS_INTERVAL_MS);
  progress.unref();

  await waitForStop(stopSignal.received, options.durationSeconds);
  stopSignal.dispose();
  clearInterval(progress);
  await network.stop();
  await service.stop();
  return 0;
}

/** Adds the demo's integrations, workflows and sources to `base`. */
export function buildDemoConfig(base: SyncwatchConfig, network: DemoNetwork): SyncwatchConfig {
  const sources: unknown[] = [...base.sources];
  if (network.rabbitmqUrl) {
    // One source per integration, because a source's samples carry one integration.
    const integrations = [...new Set(network.queues.map((queue) => queue.integration))];
    for (const integration of integrations) {
      sources.push({
        kind: 'rabbitmq',
        name: `demo-rabbitmq-${integration}`,
        integration,
        url: network.rabbitmqUrl,
        managementUrl: process.env.SYNCWATCH_DEMO_RABBITMQ_MANAGEMENT_URL ?? DEFAULT_RABBITMQ_MANAGEMENT_URL,
        interval: '5s',
        queues: network.queues
          .filter((queue) => queue.integration === integration)
          .map((queue) => ({ name: queue.name, workflow: queue.workflow })),
      });
    }
  }
  if (network.queueJob) {
    sources.push({
      kind: 'queue_job',
      name: 'demo-odoo-queue-job',
      integration: 'odoo-supplier-portal',
      workflow: 'supplier_confirmation',
      url: network.queueJob.connectionString,
      table: `${network.queueJob.schema}.${network.queueJob.table}`,
      interval: '5s',
      stuckAfterSeconds: { started: 60, enqueued: 30 },
    });
  }
  return parseConfigObject(
    {
      ...base,
      integrations: [...base.integrations, ...DEMO_INTEGRATIONS],
      workflows: [
        ...base.workflows,
        ...CANONICAL_WORKFLOWS.map((workflow) => ({ ...workflow, integrations: WORKFLOW_INTEGRATIONS[workflow.name] ?? [] })),
      ],
      sources,
    },
    'demo configuration',
  );
}

function printWelcome(service: RunningService, network: DemoNetwork): void {
  const lagSources = [
    network.rabbitmqUrl ? `RabbitMQ queues ${network.queues.map((queue) => queue.name).join(', ')}` : undefined,
    network.queueJob ? `queue_job table ${network.queueJob.schema}.${network.queueJob.table} in PostgreSQL` : undefined,
    network.inProcessSources.length > 0 ? `${network.inProcessSources.length} in-process queues` : undefined,
  ].filter(Boolean);
  process.stdout.write(
    [
      '',
      `syncwatch demo ${network.runId} is running.`,
      `  OTLP/HTTP traces:  ${service.otlpUrl}/v1/traces`,
      `  query API:         ${service.apiUrl}/api/sql`,
      `  lag sources:       ${lagSources.join(', ')}`,
      '',
      'In another terminal:',
      '  npx syncwatch sql "SELECT ServiceName, count() FROM otel_traces GROUP BY ServiceName"',
      '  npx syncwatch sql "SELECT source, entity, status, lag_seconds, depth FROM integration_lag ORDER BY observed_at DESC LIMIT 10"',
      '',
      'Stop with Ctrl-C.',
      '',
    ].join('\n'),
  );
}

async function printProgress(client: ClickHouseClient, logger: Logger): Promise<void> {
  try {
    const result = await client.query({
      query: `SELECT
        (SELECT count() FROM otel_traces) AS spans,
        (SELECT uniqExact(TraceId) FROM otel_traces) AS traces,
        (SELECT count() FROM otel_traces WHERE StatusCode = 'Error') AS errorSpans,
        (SELECT count() FROM integration_lag) AS lagSamples,
        (SELECT max(lag_seconds) FROM integration_lag WHERE observed_at > now() - INTERVAL 1 MINUTE) AS maxLagSecondsLastMinute`,
      format: 'JSONEachRow',
    });
    const [row] = await result.json<Record<string, string | number | null>>();
    if (!row) return;
    const maxLag = row.maxLagSecondsLastMinute === null ? 'none' : `${Number(row.maxLagSecondsLastMinute).toFixed(1)} s`;
    logger.info(
      row,
      `stored ${row.spans} spans of ${row.traces} traces (${row.errorSpans} with errors) and ${row.lagSamples} lag samples; max lag in the last minute ${maxLag}`,
    );
  } catch (error) {
    logger.warn({ err: error }, 'demo progress query failed');
  }
}

/**
 * Listens for the first SIGINT or SIGTERM. The listeners remove themselves
 * on it, so a second signal ends the process at once, as Node does by default.
 */
function watchStopSignal(): { received: Promise<void>; dispose(): void } {
  let onSignal = () => {};
  const received = new Promise<void>((resolve) => {
    onSignal = () => {
      dispose();
      resolve();
    };
  });
  function dispose() {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { received, dispose };
}

/** Waits for the stop signal, or for `durationSeconds` when given. */
async function waitForStop(signal: Promise<void>, durationSeconds: number | undefined): Promise<void> {
  if (durationSeconds === undefined) return signal;
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, durationSeconds * 1000);
  });
  await Promise.race([signal, elapsed]);
  clearTimeout(timer);
}
