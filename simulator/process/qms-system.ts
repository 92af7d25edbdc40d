import { callPeer, scheduleTransactions, type SystemContext, type SystemModule } from './system-runtime.js';
import { pickOne, randomBetween, runTransaction } from './transactions.js';

function registerRoutes(): void {
  // The QMS serves no routes because it only sends quality holds to Odoo's webhook.
}

function startTraffic(runtime: SystemContext): void {
  for (const plant of runtime.config.plants) {
    scheduleTransactions(runtime, 'quality_hold', plant, (transaction) =>
      runTransaction(runtime.tracer, 'raise quality hold', transaction, async (span) => {
        const lot = `LOT-${plant.slice(-1).toUpperCase()}${randomBetween(10_000, 99_999)}`;
        span.setAttribute('qms.lot', lot);
        await callPeer(runtime, 'odoo', 'POST', '/webhooks/quality-hold', {
          lot,
          product: pickOne(['FG-1001', 'FG-1002']),
          reason: pickOne(['dimension out of tolerance', 'surface defect', 'missing certificate']),
        });
      }),
    );
  }
}

/** QMS: raises quality holds. */
export const qmsSystem: SystemModule = { registerRoutes, startTraffic };
