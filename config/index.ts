export { CANONICAL_WORKFLOWS, type WorkflowDefinition } from './canonical-workflows.js';
export { durationSchema, parseDurationMs } from './duration.js';
export {
  ConfigError,
  DEFAULT_CONFIG_PATH,
  loadConfigFile,
  parseConfigObject,
  parseConfigText,
  type ConfigProblem,
} from './load.js';
export {
  configSchema,
  DEFAULT_API_PORT,
  DEFAULT_OTLP_PORT,
  SYNC_MODES,
  WORKFLOW_CRITICALITIES,
  type SourceConfig,
  type SyncwatchConfig,
} from './schema.js';
