import { randomUUID } from 'node:crypto';
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import {
  CONSUMER_PREFETCH,
  HTTP_HANDLER_DELAY_MAX_MS,
  HTTP_HANDLER_DELAY_MIN_MS,
  JOB_DELAYED_ETA_MS,
  JOB_DELAYED_ETA_PROBABILITY,
  JOB_EXECUTION_MAX_MS,
  JOB_EXECUTION_MIN_MS,
  JOB_MAX_RETRIES,
  JOB_STUCK_PROBABILITY,
  MESSAGE_PROCESSING_MAX_MS,
  MESSAGE_PROCESSING_MIN_MS,
} from '../tunables.js';
import type { JobOutcome, OdooJob } from './job-queue.js';
import { processMessage, publishMessage } from './messaging.js';
import {
  callPeer,
  IdempotencyCache,
  rejectDuplicate,
  schedulePauses,
  scheduleTransactions,
  type SystemContext,
  type SystemModule,
} from './system-runtime.js';
import {
  chance,
  DemoFailure,
  randomBetween,
  readTransaction,
  recordSpanError,
  runTransaction,
  sleep,
} from './transactions.js';

/** Units of measure in Odoo's master data. Any other unit fails validation. */
export const ODOO_UNITS_OF_MEASURE: readonly string[] = ['Units', 'kg', 'g', 'm', 'L'];

/** Product codes in Odoo's master data. Supplier lines with other codes fail. */
export const ODOO_PRODUCTS: readonly string[] = ['FG-1001', 'FG-1002', 'RM-2001', 'RM-2002', 'PK-3001'];

const JOB_CHANNEL = 'root.supplier';

interface ConsumptionMessage {
  workOrder: string;
  product: string;
  quantity: number;
  uom: string;
}

interface SupplierConfirmation {
  purchaseOrder: string;
  supplier: string;
  lines: Array<{ product: string; quantity: number; promisedDate: string }>;
}

function workBriefly(): Promise<void> {
  return sleep(randomBetween(HTTP_HANDLER_DELAY_MIN_MS, HTTP_HANDLER_DELAY_MAX_MS));
}

function registerRoutes(runtime: SystemContext): void {
  const shipments = new IdempotencyCache();
  const confirmations = new IdempotencyCache();

  runtime.app.post('/webhooks/quality-hold', async (request, reply) => {
    if (chance(runtime.config.failureProbability)) {
      throw new DemoFailure('RateLimitError', 'webhook rate limit of 10 calls per second exceeded for qms', 429);
    }
    await workBriefly();
    const hold = { ...(request.body as Record<string, unknown>), odooHoldId: randomBetween(1, 99_999) };
    await publishMessage(runtime.tracer, runtime.bus, runtime.config.queues.qualityHold, hold);
    return reply.status(202).send({ accepted: true, odooHoldId: hold.odooHoldId });
  });

  runtime.app.post('/api/shipments/:shipmentId/confirm', async (request) => {
    const { shipmentId } = request.params as { shipmentId: string };
    rejectDuplicate(shipments, `shipment confirmation ${shipmentId}`);
    await workBriefly();
    await callPeer(runtime, 'supplier-portal', 'POST', '/api/shipment-milestones', {
      shipmentId,
      milestone: 'shipped',
      ...(request.body as Record<string, unknown>),
    });
    return { shipmentId, state: 'done' };
  });

  runtime.app.post('/api/purchase-confirmations', async (request, reply) => {
    const confirmation = request.body as SupplierConfirmation;
    rejectDuplicate(confirmations, `supplier confirmation of ${confirmation.purchaseOrder}`);
    await workBriefly();
    const job = await enqueueConfirmationJob(runtime, confirmation);
    return reply.status(202).send({ jobUuid: job.uuid });
  });
}

/** Creates the job that applies a supplier confirmation, in a PRODUCER span. */
async function enqueueConfirmationJob(runtime: SystemContext, confirmation: SupplierConfirmation): Promise<OdooJob> {
  const jobQueue = runtime.jobQueue as NonNullable<SystemContext['jobQueue']>;
  const orderId = Number(confirmation.purchaseOrder.replace(/\D/g, '')) || 1;
  const job: OdooJob = {
    uuid: randomUUID(),
    name: `Apply supplier confirmation of ${confirmation.purchaseOrder}`,
    modelName: 'purchase.order',
    methodName: '_apply_supplier_confirmation',
    recordIds: [orderId],
    kwargs: { confirmation },
    channel: JOB_CHANNEL,
    priority: 10,
    identityKey: readTransaction()?.idempotencyKey ?? randomUUID(),
    retry: 0,
    maxRetries: JOB_MAX_RETRIES,
  };
  if (chance(JOB_DELAYED_ETA_PROBABILITY)) job.delayMs = JOB_DELAYED_ETA_MS;

  await runtime.tracer.startActiveSpan(
    `${JOB_CHANNEL} enqueue`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': jobQueue.system,
        'messaging.operation.type': 'send',
        'messaging.destination.name': JOB_CHANNEL,
        'messaging.message.id': job.uuid,
        'odoo.queue_job.uuid': job.uuid,
        'odoo.queue_job.func': `${job.modelName}.${job.methodName}`,
      },
    },
    async (span) => {
      const traceContext: Record<string, string> = {};
      propagation.inject(context.active(), traceContext);
      job.kwargs.trace_context = traceContext;
      try {
        await jobQueue.enqueue(job);
      } catch (error) {
        recordSpanError(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
  );
  return job;
}

/**
 * Runs a supplier confirmation job in a CONSUMER span that continues the trace
 * stored in the job's kwargs, and decides its outcome.
 */
async function executeConfirmationJob(runtime: SystemContext, job: OdooJob): Promise<JobOutcome> {
  const carrier = (job.kwargs.trace_context ?? {}) as Record<string, string>;
  const parent = propagation.extract(ROOT_CONTEXT, carrier);
  const span = runtime.tracer.startSpan(
    `${job.channel} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': runtime.jobQueue?.system ?? 'odoo_queue_job',
        'messaging.operation.type': 'process',
        'messaging.destination.name': job.channel,
        'messaging.message.id': job.uuid,
        'odoo.queue_job.uuid': job.uuid,
        'odoo.queue_job.func': `${job.modelName}.${job.methodName}`,
        'odoo.queue_job.retry': job.retry,
      },
    },
    parent,
  );

  const outcome = await context.with(trace.setSpan(parent, span), () => decideJobOutcome(runtime, job));
  // A stuck job's worker hangs, so its span never ends and is never exported.
  if (outcome.state === 'stuck') return outcome;

  if (outcome.state !== 'done') {
    recordSpanError(span, new DemoFailure(outcome.excName, outcome.excMessage));
  }
  span.setAttribute('odoo.queue_job.state', outcome.state === 'retry' ? 'pending' : outcome.state);
  span.end();
  return outcome;
}

async function decideJobOutcome(runtime: SystemContext, job: OdooJob): Promise<JobOutcome> {
  await sleep(randomBetween(JOB_EXECUTION_MIN_MS, JOB_EXECUTION_MAX_MS));
  if (chance(JOB_STUCK_PROBABILITY)) return { state: 'stuck' };

  const confirmation = job.kwargs.confirmation as SupplierConfirmation;
  const unknown = confirmation.lines.find((line) => !ODOO_PRODUCTS.includes(line.product));
  if (unknown) {
    const message = `Product with internal reference "${unknown.product}" does not exist or has been archived.`;
    return {
      state: 'failed',
      excName: 'odoo.exceptions.UserError',
      excMessage: message,
      excInfo: buildTraceback(job, 'odoo.exceptions.UserError', message),
    };
  }
  if (chance(runtime.config.failureProbability)) {
    const message = 'could not obtain lock on row in relation "purchase_order_line"';
    return {
      state: 'retry',
      excName: 'psycopg2.errors.LockNotAvailable',
      excMessage: message,
      excInfo: buildTraceback(job, 'psycopg2.errors.LockNotAvailable', message),
    };
  }
  return { state: 'done', result: `confirmed ${confirmation.lines.length} lines of ${confirmation.purchaseOrder}` };
}

function buildTraceback(job: OdooJob, excName: string, message: string): string {
  return [
    'Traceback (most recent call last):',
    '  File "/opt/odoo/addons/queue_job/controllers/main.py", line 48, in _try_perform_job',
    '    job.perform()',
    `  File "/opt/odoo/custom/purchase_supplier_sync/models/purchase_order.py", line 212, in ${job.methodName}`,
    '    self._check_confirmation_lines(confirmation)',
    `${excName}: ${message}`,
  ].join('\n');
}

async function startConsumers(runtime: SystemContext): Promise<void> {
  const queue = runtime.config.queues.materialConsumption;
  const consumer = await runtime.bus.consume(queue, CONSUMER_PREFETCH, (message) =>
    processMessage(runtime.tracer, runtime.bus, queue, message, async (span) => {
      const consumption = message.body as ConsumptionMessage;
      span.setAttribute('odoo.work_order', consumption.workOrder);
      await sleep(randomBetween(MESSAGE_PROCESSING_MIN_MS, MESSAGE_PROCESSING_MAX_MS));
      if (!ODOO_UNITS_OF_MEASURE.includes(consumption.uom)) {
        throw new DemoFailure(
          'odoo.exceptions.ValidationError',
          `Unit of measure "${consumption.uom}" not found for product ${consumption.product}`,
        );
      }
    }),
  );
  schedulePauses(runtime, consumer, queue);
  runtime.jobQueue?.start((job) => executeConfirmationJob(runtime, job));
}

function startTraffic(runtime: SystemContext): void {
  for (const plant of runtime.config.plants) {
    scheduleTransactions(runtime, 'production_order_release', plant, (transaction) =>
      runTransaction(runtime.tracer, 'release production order', transaction, async (span) => {
        const order = `${plant.toUpperCase()}/MO/${String(randomBetween(1, 99_999)).padStart(5, '0')}`;
        span.setAttribute('odoo.production_order', order);
        await callPeer(runtime, `mes@${plant}`, 'POST', '/api/production-orders', {
          productionOrder: order,
          product: 'FG-1001',
          quantity: randomBetween(10, 500),
          uom: 'Units',
        });
      }),
    );
  }
}

/** Odoo: the ERP in the middle of every workflow. */
export const odooSystem: SystemModule = { registerRoutes, startConsumers, startTraffic };
