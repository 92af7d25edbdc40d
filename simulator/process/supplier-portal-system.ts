import {
  HTTP_HANDLER_DELAY_MAX_MS,
  HTTP_HANDLER_DELAY_MIN_MS,
  HTTP_TIMEOUT_MS,
} from '../tunables.js';
import { callPeer, scheduleTransactions, type SystemContext, type SystemModule } from './system-runtime.js';
import { chance, DemoFailure, pickOne, randomBetween, runTransaction, sleep } from './transactions.js';

/** Product codes a supplier sometimes sends that Odoo does not know. */
export const UNKNOWN_PRODUCT_CODES: readonly string[] = ['RM-2001-OLD', 'SUP-77812'];

function registerRoutes(runtime: SystemContext): void {
  runtime.app.post('/api/shipment-milestones', async () => {
    if (chance(runtime.config.failureProbability)) {
      throw new DemoFailure('RateLimitError', 'partner API quota of 60 calls per minute exceeded', 429);
    }
    const slow = chance(runtime.config.failureProbability / 2);
    await sleep(slow ? HTTP_TIMEOUT_MS + 500 : randomBetween(HTTP_HANDLER_DELAY_MIN_MS, HTTP_HANDLER_DELAY_MAX_MS));
    return { received: true };
  });
}

function startTraffic(runtime: SystemContext): void {
  for (const plant of runtime.config.plants) {
    scheduleTransactions(runtime, 'supplier_confirmation', plant, (transaction) =>
      runTransaction(runtime.tracer, 'send supplier confirmation', transaction, async (span) => {
        const purchaseOrder = `P${String(randomBetween(1, 99_999)).padStart(5, '0')}`;
        span.setAttribute('supplier_portal.purchase_order', purchaseOrder);
        const product = chance(runtime.config.failureProbability)
          ? pickOne(UNKNOWN_PRODUCT_CODES)
          : pickOne(['RM-2001', 'RM-2002', 'PK-3001']);
        const promisedDate = new Date(Date.now() + randomBetween(2, 20) * 86_400_000);
        await callPeer(runtime, 'odoo', 'POST', '/api/purchase-confirmations', {
          purchaseOrder,
          supplier: pickOne(['Acme Metals', 'Nordic Plastics', 'Rhein Packaging']),
          lines: [{ product, quantity: randomBetween(100, 5_000), promisedDate: promisedDate.toISOString().slice(0, 10) }],
        });
      }),
    );
  }
}

/** Supplier and transport portal: sends supplier confirmations, takes shipment milestones. */
export const supplierPortalSystem: SystemModule = { registerRoutes, startTraffic };
