import type { SYNC_MODES, WORKFLOW_CRITICALITIES } from './schema.js';

/** A workflow as written in `syncwatch.yaml`, before defaults apply. */
export interface WorkflowDefinition {
  name: string;
  criticality: (typeof WORKFLOW_CRITICALITIES)[number];
  syncMode: (typeof SYNC_MODES)[number];
  objective?: { percentile: number; within: string };
}

/**
 * The workflows most manufacturing networks around an ERP share, with the
 * criticality and latency tolerance integration teams usually give them.
 * Starting points for a configuration, not limits syncwatch enforces.
 */
export const CANONICAL_WORKFLOWS: readonly WorkflowDefinition[] = [
  { name: 'production_order_release', criticality: 'critical', syncMode: 'real_time', objective: { percentile: 95, within: '1m' } },
  { name: 'material_consumption', criticality: 'critical', syncMode: 'real_time', objective: { percentile: 95, within: '2m' } },
  { name: 'quality_hold', criticality: 'critical', syncMode: 'real_time', objective: { percentile: 95, within: '2m' } },
  { name: 'work_order_completion', criticality: 'high', syncMode: 'real_time', objective: { percentile: 95, within: '5m' } },
  { name: 'stock_move', criticality: 'high', syncMode: 'near_real_time', objective: { percentile: 95, within: '5m' } },
  { name: 'shipment_milestone', criticality: 'high', syncMode: 'near_real_time', objective: { percentile: 95, within: '15m' } },
  { name: 'supplier_confirmation', criticality: 'medium', syncMode: 'near_real_time', objective: { percentile: 95, within: '30m' } },
  { name: 'master_data_sync', criticality: 'low', syncMode: 'batch', objective: { percentile: 95, within: '4h' } },
];
