import { randomBytes } from 'node:crypto';
import { RUN_ID_BYTES, type TRANSACTIONS_PER_MINUTE } from './tunables.js';

/** Systems of the demo network, each running as its own process. */
export type DemoSystem = 'odoo' | 'mes' | 'wms' | 'qms' | 'supplier-portal';

/** Business workflows the demo network runs. */
export type DemoWorkflow = keyof typeof TRANSACTIONS_PER_MINUTE;

/** One workflow: the integration it belongs to and the system that starts it. */
export interface DemoWorkflowSpec {
  integration: string;
  origin: DemoSystem;
  /** Systems the transaction passes, in order. */
  hops: readonly DemoSystem[];
}

/** Workflow catalogue; an integration is Odoo and one system beside it, such as `odoo-mes`. */
export const DEMO_WORKFLOWS: Readonly<Record<DemoWorkflow, DemoWorkflowSpec>> = {
  production_order_release: { integration: 'odoo-mes', origin: 'odoo', hops: ['odoo', 'mes'] },
  material_consumption: { integration: 'odoo-mes', origin: 'mes', hops: ['mes', 'odoo'] },
  quality_hold: { integration: 'odoo-qms', origin: 'qms', hops: ['qms', 'odoo', 'wms'] },
  shipment_milestone: {
    integration: 'odoo-wms',
    origin: 'wms',
    hops: ['wms', 'odoo', 'supplier-portal'],
  },
  supplier_confirmation: {
    integration: 'odoo-supplier-portal',
    origin: 'supplier-portal',
    hops: ['supplier-portal', 'odoo'],
  },
};

/** A message queue of the demo network and the workflow whose messages it carries. */
export interface DemoQueue {
  name: string;
  integration: string;
  workflow: DemoWorkflow;
}

/** Names of the demo queues. */
export interface DemoQueueNames {
  materialConsumption: string;
  qualityHold: string;
  /** In-process stand-in for the `queue_job` table, used when PostgreSQL is unreachable. */
  queueJob: string;
}

/**
 * Run ids are part of queue names and of a PostgreSQL schema name, so they
 * are limited to characters that need no quoting in either.
 */
export const RUN_ID_PATTERN = /^[a-z0-9_]{1,32}$/;

/**
 * Creates a random run id such as `3f9a1c`. A second demo on the same ports
 * starts its network before it fails to bind those ports. With names derived
 * from a port it would empty and then remove the first demo's queues and
 * schema, so the id is random.
 */
export function createRunId(): string {
  return randomBytes(RUN_ID_BYTES).toString('hex');
}

/** Builds the queue names from a prefix such as `demo.3f9a1c`. */
export function buildQueueNames(prefix: string): DemoQueueNames {
  return {
    materialConsumption: `${prefix}.mes.material_consumption`,
    qualityHold: `${prefix}.odoo.quality_hold`,
    queueJob: `${prefix}.odoo.queue_job`,
  };
}

/** Describes the message queues (not the job queue) with their workflows. */
export function describeMessageQueues(names: DemoQueueNames): DemoQueue[] {
  return [
    { name: names.materialConsumption, integration: 'odoo-mes', workflow: 'material_consumption' },
    { name: names.qualityHold, integration: 'odoo-qms', workflow: 'quality_hold' },
  ];
}
