import {
  HTTP_HANDLER_DELAY_MAX_MS,
  HTTP_HANDLER_DELAY_MIN_MS,
  HTTP_TIMEOUT_MS,
} from '../tunables.js';
import { publishMessage } from './messaging.js';
import {
  IdempotencyCache,
  rejectDuplicate,
  scheduleTransactions,
  type SystemContext,
  type SystemModule,
} from './system-runtime.js';
import { chance, pickOne, randomBetween, runTransaction, sleep } from './transactions.js';

/** Units a line terminal sometimes sends that Odoo has no master data for. */
export const UNKNOWN_UNITS_OF_MEASURE: readonly string[] = ['BOX12', 'PAL', 'kgs'];

function registerRoutes(runtime: SystemContext): void {
  const releases = new IdempotencyCache();

  runtime.app.post('/api/production-orders', async (request, reply) => {
    const order = request.body as { productionOrder: string };
    rejectDuplicate(releases, `release of production order ${order.productionOrder}`);

    // Now and then the line controller is busy and responds after the caller's timeout.
    const delayMs = chance(runtime.config.failureProbability)
      ? HTTP_TIMEOUT_MS + 500
      : randomBetween(HTTP_HANDLER_DELAY_MIN_MS, HTTP_HANDLER_DELAY_MAX_MS);
    await sleep(delayMs);

    const workOrder = `${runtime.config.plant ?? 'plant'}-WO-${randomBetween(1, 999_999)}`;
    return reply.status(201).send({ productionOrder: order.productionOrder, workOrder, routing: 'R-100' });
  });
}

function startTraffic(runtime: SystemContext): void {
  const plant = runtime.config.plant ?? runtime.config.plants[0] ?? 'plant-a';
  scheduleTransactions(runtime, 'material_consumption', plant, (transaction) =>
    runTransaction(runtime.tracer, 'report material consumption', transaction, async (span) => {
      const workOrder = `${plant}-WO-${randomBetween(1, 999_999)}`;
      span.setAttribute('mes.work_order', workOrder);
      await publishMessage(runtime.tracer, runtime.bus, runtime.config.queues.materialConsumption, {
        workOrder,
        product: pickOne(['RM-2001', 'RM-2002', 'PK-3001']),
        quantity: randomBetween(1, 50),
        uom: chance(runtime.config.failureProbability) ? pickOne(UNKNOWN_UNITS_OF_MEASURE) : 'kg',
      });
    }),
  );
}

/** MES of one plant: takes production order releases, reports material consumption. */
export const mesSystem: SystemModule = { registerRoutes, startTraffic };
