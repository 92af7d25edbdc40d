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
import { OutputTail, waitForReady } from './process-start.js';
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
  DEFAULT_RABBITMQ_URL,
  DEMO_PLANTS,
  FAILURE_PROBABILITY,
  IN_PROCESS_POLL_INTERVAL_MS,
  PROCESS_START_TIMEOUT_MS,
  PROCESS_STDERR_TAIL_BYTES,
  PROCESS_STOP_TIMEOUT_MS,
  QUEUE_JOB_SCHEMA_BASE,
  QUEUE_PREFIX_BASE,
  SPAN_EXPORT_INTERVAL_MS,
  TRANSACTIONS_PER_MINUTE,
} from './tunables.js';
import {
  buildQueueNames,
  createRunId,
  describeMessageQueues,
  RUN_ID_PATTERN,
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
  /**
   * Id that keeps this run's queues and schema apart from those of other runs
   * on the same RabbitMQ and PostgreSQL. Default: random, from `createRunId`.
   */
  runId?: string;
  /** Schema of the `queue_job` table. Default `syncwatch_demo_<run id>`. */
  queueJobSchema?: string;
  /** Prefix of the queue names. Default `demo.<run id>`. */
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
  /** How long each system process gets to report ready. Default `PROCESS_START_TIMEOUT_MS`. */
  processStartTimeoutMs?: number;
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
  /** Id of this run, part of its queue names and schema name. */
  runId: string;
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
  runId: string;
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
  processStartTimeoutMs: number;
  removeResourcesOnStop: boolean;
}

function resolveOptions(options: DemoNetworkOptions): ResolvedOptions {
  const multiplier = options.rateMultiplier ?? 1;
  const transactionsPerMinute = Object.fromEntries(
    Object.entries(TRANSACTIONS_PER_MINUTE).map(([workflow, rate]) => [workflow, rate * multiplier]),
  ) as Record<DemoWorkflow, number>;
  const runId = options.runId ?? createRunId();
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new Error(
      `SIMULATOR_ERR_RUN_ID: invalid run id "${runId}"; expected 1 to 32 lowercase letters, digits or underscores`,
    );
  }
  return {
    otlpEndpoint: options.otlpEndpoint,
    logger: options.logger,
    runId,
    rabbitmqUrl: options.rabbitmqUrl ?? process.env.SYNCWATCH_DEMO_RABBITMQ_URL ?? DEFAULT_RABBITMQ_URL,
    postgresUrl: options.postgresUrl ?? process.env.SYNCWATCH_DEMO_PG_URL ?? DEFAULT_PG_URL,
    queueJobSchema: options.queueJobSchema ?? `${QUEUE_JOB_SCHEMA_BASE}_${runId}`,
    queueNames: buildQueueNames(options.queuePrefix ?? `${QUEUE_PREFIX_BASE}.${runId}`),
    plants: [...(options.plants ?? DEMO_PLANTS)],
    transactionsPerMinute,
    failureProbability: options.failureProbability ?? FAILURE_PROBABILITY,
    spanExportIntervalMs: options.spanExportIntervalMs ?? SPAN_EXPORT_INTERVAL_MS,
    connectTimeoutMs: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    inProcessPollIntervalMs: options.inProcessPollIntervalMs ?? IN_PROCESS_POLL_INTERVAL_MS,
    processStartTimeoutMs: options.processStartTimeoutMs ?? PROCESS_START_TIMEOUT_MS,
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
 * that the returned network exposes as lag sources. The queues and the schema
 * carry the run id, so networks running side by side on the same RabbitMQ and
 * PostgreSQL do not share them.
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

  const children = new ProcessGroup(logger, broker, resolved.processStartTimeoutMs);
  try {
    await children.start(buildSystemConfigs(resolved, rabbitmqUrl, queueJob));
  } catch (error) {
    await children.stop();
    await broker.close();
    throw error;
  }
  logger.info(
    {
      runId: resolved.runId,
      systems: children.systems.length,
      rabbitmq: useRabbitMq,
      queues: queueNames,
      queueJobSchema: queueJob?.schema,
      removeResourcesOnStop: resolved.removeResourcesOnStop,
    },
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
    logger.info({ runId: resolved.runId }, 'demo network stopped');
  };

  return {
    runId: resolved.runId,
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
  readonly #startTimeoutMs: number;
  #stopping = false;

  constructor(logger: Logger, broker: InProcessBroker, startTimeoutMs: number) {
    this.#logger = logger;
    this.#broker = broker;
    this.#startTimeoutMs = startTimeoutMs;
  }

  async start(configs: SystemProcessConfig[]): Promise<void> {
    const { entry, execArgv } = resolveChildEntry();
    const started = await Promise.all(configs.map((config) => this.#startOne(entry, execArgv, config)));

    const peers: Record<string, string> = {};
    for (const system of started) peers[buildPeerKey(system.system, system.plant)] = system.url;
    for (const child of this.#children) child.send({ type: 'peers', peers });
    this.systems.push(...started);
  }

  /**
   * Sends SIGTERM to every process, then SIGKILL to those still running after
   * the stop timeout, and resolves once all of them have exited.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#children.map((child) => stopChild(child)));
  }

  async #startOne(entry: URL, execArgv: string[], config: SystemProcessConfig): Promise<DemoSystemProcess> {
    const child = fork(entry, [], {
      execArgv,
      env: { ...process.env, [SYSTEM_CONFIG_ENV]: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.#children.push(child);
    const log = this.#logger.child({ system: config.instanceId });

    // stderr still reaches the terminal, and its tail goes into a start error.
    const stderr = new OutputTail(PROCESS_STDERR_TAIL_BYTES);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr.append(chunk);
      process.stderr.write(chunk);
    });
    child.on('message', (message: ChildMessage) => this.#onMessage(child, log, message));
    child.on('exit', () => this.#broker.releaseProcess(child));
    // 'close' follows 'exit' once the stderr pipe has ended, so the tail is complete.
    child.on('close', (code, signal) => {
      if (!this.#stopping) {
        log.error({ code, signal, stderrTail: stderr.read() }, 'system process exited');
      } else if (code !== 0 && signal !== 'SIGTERM') {
        log.warn({ code, signal, stderrTail: stderr.read() }, 'system process did not stop cleanly');
      }
    });

    const port = await waitForReady(child, config.instanceId, this.#startTimeoutMs, stderr);
    return {
      system: config.system,
      instanceId: config.instanceId,
      plant: config.plant,
      url: `http://127.0.0.1:${port}`,
      pid: child.pid ?? 0,
    };
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
    child.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
