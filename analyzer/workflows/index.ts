export {
  WORKFLOW_OBJECTIVES_TABLE,
  writeWorkflowObjectives,
  type ObjectivesWriteResult,
  type WorkflowConfig,
} from './objectives.js';
export {
  readWorkflowSloStatus,
  WORKFLOW_SLO_STATUSES,
  type TimeWindow,
  type WorkflowSloStatus,
  type WorkflowSloStatusValue,
} from './slo-status.js';
