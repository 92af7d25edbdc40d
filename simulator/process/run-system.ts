import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import Fastify from 'fastify';
import type { ParentMessage, SystemProcessConfig } from '../process-protocol.js';
import type { DemoSystem } from '../workflows.js';
import { createProcessLogger, describeError, sendToParent, type ProcessLogger } from './ipc-logger.js';
import { BusJobQueue, PgJobQueue, type JobQueue } from './job-queue.js';
import { mesSystem } from './mes-system.js';
import { AmqpMessageBus, IpcMessageBus, type MessageBus } from './message-bus.js';
import { odooSystem } from './odoo-system.js';
import { qmsSystem } from './qms-system.js';
import { supplierPortalSystem } from './supplier-portal-system.js';
import { wmsSystem } from './wms-system.js';
import { installErrorHandler, nameServerSpans, type SystemContext, type SystemModule } from './system-runtime.js';

/** How long a stopping process waits for its last spans to be exported. */
export const SPAN_FLUSH_TIMEOUT_MS = 2_000;

const SYSTEM_MODULES: Record<DemoSystem, SystemModule> = {
  odoo: odooSystem,
  mes: mesSystem,
  wms: wmsSystem,
  qms: qmsSystem,
  'supplier-portal': supplierPortalSystem,
};

async function connectBus(
  config: SystemProcessConfig,
  onError: (error: unknown) => void,
  logger: ProcessLogger,
): Promise<MessageBus> {
  if (!config.rabbitmqUrl) return new IpcMessageBus();
  const queues = [config.queues.materialConsumption, config.queues.qualityHold];
  return AmqpMessageBus.connect(config.rabbitmqUrl, queues, onError, logger);
}

/**
 * Creates the error callback of a system. An error that repeats the previous
 * one is logged again only at the 1st, 10th, 100th... repeat, with its count.
 */
function createErrorLog(logger: ProcessLogger): (error: unknown) => void {
  let previousMessage = '';
  let repeats = 0;
  return (error) => {
    const fields = describeError(error);
    const message = JSON.stringify(fields);
    repeats = message === previousMessage ? repeats + 1 : 0;
    previousMessage = message;
    if (repeats === 0 || Number.isInteger(Math.log10(repeats))) {
      logger.error({ repeats, ...fields }, 'system error');
    }
  };
}

function waitForPeers(): Promise<Record<string, string>> {
  return new Promise((resolve) => {
    const onMessage = (message: ParentMessage) => {
      if (message.type !== 'peers') return;
      process.off('message', onMessage);
      resolve(message.peers);
    };
    process.on('message', onMessage);
  });
}

/**
 * Runs one system: starts its HTTP server on an ephemeral loopback port,
 * reports the port, waits for the peers' addresses, then starts consumers and
 * traffic. Stops on SIGTERM, and when the network process goes away.
 */
export async function runSystemProcess(config: SystemProcessConfig, sdk: NodeSDK): Promise<void> {
  const logger = createProcessLogger();
  const onError = createErrorLog(logger);
  const stopSteps: Array<() => Promise<void> | void> = [];

  const bus = await connectBus(config, onError, logger);
  let jobQueue: JobQueue | undefined;
  if (config.system === 'odoo') {
    jobQueue = config.queueJob ? new PgJobQueue(config.queueJob, onError) : new BusJobQueue(bus, config.queues.queueJob);
  }

  const app = Fastify({ logger: false });
  installErrorHandler(app);
  nameServerSpans(app);
  const context: SystemContext = {
    config,
    app,
    tracer: trace.getTracer('syncwatch-demo', '0.1.0'),
    logger,
    bus,
    jobQueue,
    peers: {},
    onStop: (step) => stopSteps.push(step),
  };
  const module = SYSTEM_MODULES[config.system];
  module.registerRoutes(context);

  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'system stopping');
    for (const step of stopSteps) await step();
    await jobQueue?.stop();
    // Consumers stop taking messages while the server finishes its requests,
    // and the bus closes only once the running message handlers are done.
    await Promise.all([bus.stopConsuming(), app.close()]);
    await bus.close();
    await Promise.race([sdk.shutdown(), new Promise((resolve) => setTimeout(resolve, SPAN_FLUSH_TIMEOUT_MS))]);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // Ctrl-C in a terminal reaches the whole process group. The network process
  // decides when to stop and sends SIGTERM, so the systems ignore SIGINT.
  process.on('SIGINT', () => undefined);
  process.on('disconnect', () => void stop('network process gone'));

  await app.listen({ host: '127.0.0.1', port: 0 });
  const peersReceived = waitForPeers();
  sendToParent({ type: 'ready', port: (app.server.address() as AddressInfo).port });
  Object.assign(context.peers, await peersReceived);

  await module.startConsumers?.(context);
  module.startTraffic?.(context);
  logger.info({ bus: bus.system, jobQueue: jobQueue?.system }, 'system started');
}
