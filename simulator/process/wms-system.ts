import { CONSUMER_PREFETCH, MESSAGE_PROCESSING_MAX_MS, MESSAGE_PROCESSING_MIN_MS } from '../tunables.js';
import { processMessage } from './messaging.js';
import {
  callPeer,
  schedulePauses,
  scheduleTransactions,
  type SystemContext,
  type SystemModule,
} from './system-runtime.js';
import { chance, DemoFailure, pickOne, randomBetween, runTransaction, sleep } from './transactions.js';

interface QualityHoldMessage {
  lot: string;
  product: string;
}

function registerRoutes(): void {
  // The WMS serves no routes because it takes its work from the quality hold queue.
}

async function startConsumers(runtime: SystemContext): Promise<void> {
  const queue = runtime.config.queues.qualityHold;
  const consumer = await runtime.bus.consume(queue, CONSUMER_PREFETCH, (message) =>
    processMessage(runtime.tracer, runtime.bus, queue, message, async (span) => {
      const hold = message.body as QualityHoldMessage;
      span.setAttribute('wms.lot', hold.lot);
      await sleep(randomBetween(MESSAGE_PROCESSING_MIN_MS, MESSAGE_PROCESSING_MAX_MS));
      if (chance(runtime.config.failureProbability)) {
        throw new DemoFailure('LotNotFoundError', `lot ${hold.lot} of ${hold.product} is not stored in any bin`);
      }
    }),
  );
  schedulePauses(runtime, consumer, queue);
}

function startTraffic(runtime: SystemContext): void {
  for (const plant of runtime.config.plants) {
    scheduleTransactions(runtime, 'shipment_milestone', plant, (transaction) =>
      runTransaction(runtime.tracer, 'confirm shipment', transaction, async (span) => {
        const shipmentId = `${plant.toUpperCase()}-OUT-${randomBetween(1, 99_999)}`;
        span.setAttribute('wms.shipment', shipmentId);
        await callPeer(runtime, 'odoo', 'POST', `/api/shipments/${shipmentId}/confirm`, {
          carrier: pickOne(['DHL Freight', 'DB Schenker', 'Kuehne+Nagel']),
          packages: randomBetween(1, 12),
        });
      }),
    );
  }
}

/** WMS: blocks stock under quality hold, confirms shipments to Odoo. */
export const wmsSystem: SystemModule = { registerRoutes, startConsumers, startTraffic };
