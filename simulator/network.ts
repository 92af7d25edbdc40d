import { fork, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { LagSource } from '../collector/sources/types.js';
import {
  deleteRabbitMqQueues,
  dropQueueJobSchema,
  prepareQueueJob,
  prepareRabbitMq,
} from './demo-backends.js';
import { InProcessBroker } from './in-process-broker.js';
import { InProcessQueue } from './in-process-queue.js';
import {
  buildPeerKey,
  SYSTEM_CONFIG_ENV,
  type ChildMessage,
  type QueueJobLocation,
  type SystemProcessConfig,
} from './process-protocol.js';
import {
  CONNECT_TIMEOUT_MS,
  DEFAULT_PG_URL,
  DEFAULT_QUEUE_JOB_SCHEMA,
  DEFAULT_QUEUE_PREFIX,
  DEFAULT_RABBITMQ_URL,
  DEMO_PLANTS,
  FAILURE_PROBABILITY,
  IN_PROCESS_POLL_INTERVAL_MS,
  PROCESS_START_TIMEOUT_MS,
  PROCESS_STOP_TIMEOUT_MS,
  SPAN_EXPORT_INTERVAL_MS,
  TRANSACTIONS_PER_MINUTE,
} from './tunables.js';
import {
  buildQueueNames,
  describeMessageQueues,
  type DemoQueue,
  type DemoQueueNames,
  type DemoSystem,
  type DemoWorkflow,
} from './workflows.js';

/** Options of the demo network. */
export interface DemoNetworkOptions {
  /** OTLP/HTTP traces endpoint, such as `http://127.0.0.1:4318/v1/traces`. */
  otlpEndpoint: string;
  logger: Logger;
  /** Default: `SYNCWATCH_DEMO_RABBITMQ_URL`, else `DEFAULT_RABBITMQ_URL`. */
  rabbitmqUrl?: string;
  /** PostgreSQL of the `queue_job` table. Default: `SYNCWATCH_DEMO_PG_URL`, else `DEFAULT_PG_URL`. */
  postgresUrl?: string;
  /** Schema of the `queue_job` table. Default `DEFAULT_QUEUE_JOB_SCHEMA`. */
  queueJobSchema?: string;
  /** Prefix of the queue names. Default `DEFAULT_QUEUE_PREFIX`. */
  queuePrefix?: string;
  /** Default `DEMO_PLANTS`. */
  plants?: readonly string[];
  /** Factor applied to every rate of `TRANSACTIONS_PER_MINUTE`. Default 1. */
  rateMultiplier?: number;
  /** Default `FAILURE_PROBABILITY`. */
  failureProbability?: number;
  /** Default `SPAN_EXPORT_INTERVAL_MS`. */
  spanExportIntervalMs?: number;
  /** Default `CONNECT_TIMEOUT_MS`. */
  connectTimeoutMs?: number;
  /** Poll interval of the in-process lag sources. Default `IN_PROCESS_POLL_INTERVAL_MS`. */
  inProcessPollIntervalMs?: number;
  /** Deletes the RabbitMQ queues and drops the `queue_job` schema on stop. Default false. */
  removeResourcesOnStop?: boolean;
}

/** One running system process. */
export interface DemoSystemProcess {
  system: DemoSystem;
  instanceId: string;
  plant?: string;
  url: string;
  pid: number;
}

/** A running demo network and the lag sources it keeps busy. */
export interface DemoNetwork {
  /** Set when the message queues are on RabbitMQ. */
  rabbitmqUrl?: string;
  /** Set when the Odoo job queue is a `queue_job` table in PostgreSQL. */
  queueJob?: QueueJobLocation;
  /** In-process queues that replace whatever was unreachable. Empty when everything was reachable. */
  inProcessSources: LagSource[];
  /** The message queues (on RabbitMQ or in process) with the integration and workflow of their messages. */
  queues: DemoQueue[];
  systems: DemoSystemProcess[];
  stop(): Promise<void>;
}

interface ResolvedOptions {
  otlpEndpoint: string;
  logger: Logger;
  rabbitmqUrl: string;
  postgresUrl: string;
  queueJobSchema: string;
  queueNames: DemoQueueNames;
  plants: string[];
  transactionsPerMinute: Record<DemoWorkflow, number>;
  failureProbability: number;
  spanExportIntervalMs: number;
  connectTimeoutMs: number;
  inProcessPollIntervalMs: number;
  removeResourcesOnStop: boolean;
}

function resolveOptions(options: DemoNetworkOptions): ResolvedOptions {
  const multiplier = options.rateMultiplier ?? 1;
  const transactionsPerMinute = Object.fromEntries(
    Object.entries(TRANSACTIONS_PER_MINUTE).map(([workflow, rate]) => [workflow, rate * multiplier]),
  ) as Record<DemoWorkflow, number>;
  return {
    otlpEndpoint: options.otlpEndpoint,
    logger: options.logger,
    rabbitmqUrl: options.rabbitmqUrl ?? process.env.SYNCWATCH_DEMO_RABBITMQ_URL ?? DEFAULT_RABBITMQ_URL,
    postgresUrl: options.postgresUrl ?? process.env.SYNCWATCH_DEMO_PG_URL ?? DEFAULT_PG_URL,
    queueJobSchema: options.queueJobSchema ?? DEFAULT_QUEUE_JOB_SCHEMA,
    queueNames: buildQueueNames(options.queuePrefix ?? DEFAULT_QUEUE_PREFIX),
    plants: [...(options.plants ?? DEMO_PLANTS)],
    transactionsPerMinute,
    failureProbability: options.failureProbability ?? FAILURE_PROBABILITY,
    spanExportIntervalMs: options.spanExportIntervalMs ?? SPAN_EXPORT_INTERVAL_MS,
    connectTimeoutMs: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    inProcessPollIntervalMs: options.inProcessPollIntervalMs ?? IN_PROCESS_POLL_INTERVAL_MS,
    removeResourcesOnStop: options.removeResourcesOnStop ?? false,
  };
}

/**
 * Locates the entry of a system process next to this file. From `dist/` the
 * entry is plain JavaScript. Under vitest this file is TypeScript source, so
 * the child is forked with a small TypeScript loader (`ts-loader-register.mjs`).
 */
function resolveChildEntry(): { entry: URL; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./process/system-process.${fromSource ? 'ts' : 'js'}`, import.meta.url);
  const loader = new URL('./ts-loader-register.mjs', import.meta.url);
  return { entry, execArgv: fromSource ? ['--import', loader.href] : [] };
}

/** Builds one process configuration per system, with one MES per plant. */
function buildSystemConfigs(
  resolved: ResolvedOptions,
  rabbitmqUrl: string | undefined,
  queueJob: QueueJobLocation | undefined,
): SystemProcessConfig[] {
  const base = {
    plants: resolved.plants,
    otlpEndpoint: resolved.otlpEndpoint,
    spanExportIntervalMs: resolved.spanExportIntervalMs,
    rabbitmqUrl,
    queueJob,
    queues: resolved.queueNames,
    transactionsPerMinute: resolved.transactionsPerMinute,
    failureProbability: resolved.failureProbability,
  };
  const central: DemoSystem[] = ['odoo', 'wms', 'qms', 'supplier-portal'];
  return [
    ...central.map((system) => ({ ...base, system, instanceId: system })),
    ...resolved.plants.map((plant) => ({ ...base, system: 'mes' as const, instanceId: `mes-${plant}`, plant })),
  ];
}

function createInProcessQueues(
  resolved: ResolvedOptions,
  useRabbitMq: boolean,
  useQueueJob: boolean,
): InProcessQueue[] {
  const intervalMs = resolved.inProcessPollIntervalMs;
  const queues: InProcessQueue[] = [];
  if (!useRabbitMq) {
    for (const queue of describeMessageQueues(resolved.queueNames)) {
      queues.push(new InProcessQueue({ ...queue, intervalMs }));
    }
  }
  if (!useQueueJob) {
    queues.push(
      new InProcessQueue({
        name: resolved.queueNames.queueJob,
        integration: 'odoo-supplier-portal',
        workflow: 'supplier_confirmation',
        intervalMs,
      }),
    );
  }
  return queues;
}

/**
 * Starts the demo production network: one process per system, each an
 * instrumented fastify server on a loopback port exporting spans to
 * `otlpEndpoint`. Queues go to RabbitMQ and Odoo jobs to a `queue_job` table
 * in PostgreSQL where those are reachable, otherwise to in-process queues
 * that the returned network exposes as lag sources.
 */
export async function startDemoNetwork(options: DemoNetworkOptions): Promise<DemoNetwork> {
  const resolved = resolveOptions(options);
  const { logger } = resolved;
  const messageQueues = describeMessageQueues(resolved.queueNames);
  const queueNames = messageQueues.map((queue) => queue.name);

  const [useRabbitMq, queueJob] = await Promise.all([
    prepareRabbitMq(resolved.rabbitmqUrl, queueNames, resolved.connectTimeoutMs, logger),
    prepareQueueJob(resolved.postgresUrl, resolved.queueJobSchema, resolved.connectTimeoutMs, logger),
  ]);
  const rabbitmqUrl = useRabbitMq ? resolved.rabbitmqUrl : undefined;

  const broker = new InProcessBroker();
  for (const queue of createInProcessQueues(resolved, useRabbitMq, queueJob !== undefined)) broker.addQueue(queue);

  const children = new ProcessGroup(logger, broker);
  try {
    await children.start(buildSystemConfigs(resolved, rabbitmqUrl, queueJob));
  } catch (error) {
    await children.stop();
    await broker.close();
    throw error;
  }
  logger.info(
    { systems: children.systems.length, rabbitmq: useRabbitMq, queueJob: queueJob !== undefined },
    'demo network started',
  );

  let stopped: Promise<void> | undefined;
  const stop = async () => {
    await children.stop();
    await broker.close();
    if (resolved.removeResourcesOnStop) {
      if (rabbitmqUrl) await deleteRabbitMqQueues(rabbitmqUrl, queueNames, logger);
      if (queueJob) await dropQueueJobSchema(queueJob, logger);
    }
    logger.info({}, 'demo network stopped');
  };

  return {
    rabbitmqUrl,
    queueJob,
    inProcessSources: broker.queues,
    queues: messageQueues,
    systems: children.systems,
    stop: () => (stopped ??= stop()),
  };
}

/** The system processes: starts them, routes their messages, stops them. */
class ProcessGroup {
  readonly systems: DemoSystemProcess[] = [];
  readonly #children: ChildProcess[] = [];
  readonly #logger: Logger;
  readonly #broker: InProcessBroker;
  #stopping = false;

  constructor(logger: Logger, broker: InProcessBroker) {
    this.#logger = logger;
    this.#broker = broker;
  }

  async start(configs: SystemProcessConfig[]): Promise<void> {
    const { entry, execArgv } = resolveChildEntry();
    const started = await Promise.all(configs.map((config) => this.#startOne(entry, execArgv, config)));

    const peers: Record<string, string> = {};
    for (const system of started) peers[buildPeerKey(system.system, system.plant)] = system.url;
    for (const child of this.#children) child.send({ type: 'peers', peers });
    this.systems.push(...started);
  }

  /** Sends SIGTERM to every process, then SIGKILL to those still running after the stop timeout. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#children.map((child) => stopChild(child)));
  }

  #startOne(entry: URL, execArgv: string[], config: SystemProcessConfig): Promise<DemoSystemProcess> {
    const child = fork(entry, [], {
      execArgv,
      env: { ...process.env, [SYSTEM_CONFIG_ENV]: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#children.push(child);
    const log = this.#logger.child({ system: config.instanceId });
    child.on('message', (message: ChildMessage) => this.#onMessage(child, log, message));
    child.on('exit', (code, signal) => {
      this.#broker.releaseProcess(child);
      if (!this.#stopping) log.error({ code, signal }, 'system process exited');
    });

    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`SIMULATOR_ERR_PROCESS_START: system ${config.instanceId} timed out after ${PROCESS_START_TIMEOUT_MS} ms before it was ready; see its stderr output`));
      }, PROCESS_START_TIMEOUT_MS);
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`SIMULATOR_ERR_PROCESS_START: system ${config.instanceId} exited with code ${code} before it was ready; see its stderr output`));
      };
      child.once('exit', onExit);
      child.on('message', (message: ChildMessage) => {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve({
          system: config.system,
          instanceId: config.instanceId,
          plant: config.plant,
          url: `http://127.0.0.1:${message.port}`,
          pid: child.pid ?? 0,
        });
      });
    });
  }

  #onMessage(child: ChildProcess, log: Logger, message: ChildMessage): void {
    if (message.type === 'log') {
      log[message.level](message.fields, message.message);
      return;
    }
    if (message.type !== 'ready') this.#broker.handle(child, message);
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();

  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), PROCESS_STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
