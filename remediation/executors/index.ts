import type { Logger } from 'pino';
import { createOdooClient } from '../../collector/sources/odoo-rpc-client.js';
import type { RemediationKind } from '../catalogue.js';
import type { RemediationConfig } from '../config.js';
import type { ControlStore } from '../control-store.js';
import { HoldChannelExecutor, RouteSwitchExecutor } from './control-plane.js';
import { NatsRepublishExecutor } from './nats-republish.js';
import { QueueJobOdooExecutor, QueueJobSqlExecutor } from './queue-job.js';
import { DeadLetterReplayExecutor } from './rabbitmq-dlq.js';
import type { ActionExecutor } from './types.js';

/** Time limit of one Odoo API request, in milliseconds. */
const ODOO_TIMEOUT_MS = 15_000;

/**
 * Builds an executor for each action whose system is configured under
 * `remediation.executors`. An action without one fails its targets with
 * `REMEDIATION_EXECUTOR_MISSING` when an approved proposal runs.
 */
export function createExecutors(options: { config: RemediationConfig; store: ControlStore; logger: Logger }): Partial<Record<RemediationKind, ActionExecutor>> {
  const { config, store } = options;
  const executors: Partial<Record<RemediationKind, ActionExecutor>> = {
    reroute: new RouteSwitchExecutor(store),
    hold_channel: new HoldChannelExecutor(store),
  };
  const queueJob = config.executors.queueJob;
  if (queueJob) {
    const actions = ['retry_now', 'retry_after_delay', 'skip_duplicates', 'requeue_failed_jobs'] as const;
    for (const action of actions) {
      // Odoo's API takes precedence for requeues when it is configured.
      if (action === 'requeue_failed_jobs' && config.executors.odoo) continue;
      executors[action] = new QueueJobSqlExecutor({ url: queueJob.url, store, action });
    }
  }
  const odoo = config.executors.odoo;
  if (odoo) {
    const client = createOdooClient({
      url: odoo.url,
      protocol: odoo.protocol,
      database: odoo.database,
      login: odoo.login,
      apiKey: odoo.apiKey,
      timeoutMs: ODOO_TIMEOUT_MS,
    });
    // Requeues through the API pass Odoo's access rules.
    executors.requeue_failed_jobs = new QueueJobOdooExecutor(client, store);
  }
  const rabbitmq = config.executors.rabbitmq;
  if (rabbitmq) executors.replay_dead_letters = new DeadLetterReplayExecutor({ url: rabbitmq.url, store, batchSize: rabbitmq.batchSize });
  if (config.executors.nats) executors.republish_nats = new NatsRepublishExecutor(config.executors.nats.servers, store);
  return executors;
}
