import type { InProcessMessage } from './in-process-queue.js';
import type { DemoQueueNames, DemoSystem, DemoWorkflow } from './workflows.js';

/** Environment variable that carries a system process's configuration as JSON. */
export const SYSTEM_CONFIG_ENV = 'SYNCWATCH_DEMO_SYSTEM_CONFIG';

/** Location of the Odoo `queue_job` table in PostgreSQL. */
export interface QueueJobLocation {
  connectionString: string;
  schema: string;
  table: string;
}

/** Configuration of one system process. */
export interface SystemProcessConfig {
  system: DemoSystem;
  /** Unique name of the process, such as `mes-plant-a`. */
  instanceId: string;
  /** Plant of a plant-local system (MES), absent for central systems. */
  plant?: string;
  plants: string[];
  otlpEndpoint: string;
  spanExportIntervalMs: number;
  /** Set when RabbitMQ is used. Otherwise messages go through the parent's in-process queues. */
  rabbitmqUrl?: string;
  /** Set when PostgreSQL is used. Otherwise jobs go through the parent's in-process queue. */
  queueJob?: QueueJobLocation;
  queues: DemoQueueNames;
  transactionsPerMinute: Record<DemoWorkflow, number>;
  failureProbability: number;
}

/** Messages a system process sends to the network. */
export type ChildMessage =
  | { type: 'ready'; port: number }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; fields: Record<string, unknown>; message: string }
  | { type: 'publish'; queue: string; message: InProcessMessage }
  | { type: 'consume'; queue: string; consumerId: string; prefetch: number }
  | { type: 'cancel'; queue: string; consumerId: string }
  | { type: 'ack'; queue: string; deliveryTag: number };

/** Messages the network sends to a system process. */
export type ParentMessage =
  | { type: 'peers'; peers: Record<string, string> }
  | { type: 'deliver'; queue: string; consumerId: string; deliveryTag: number; message: InProcessMessage };

/** Peer key of a system: `mes@plant-a` for plant-local systems, the system name otherwise. */
export function buildPeerKey(system: DemoSystem, plant?: string): string {
  return plant ? `${system}@${plant}` : system;
}
