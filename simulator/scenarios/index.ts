/**
 * Seeded failure scenarios of the demo network with their ground truth.
 * `generateScenario(kind, { seed })` returns a run's minute-by-minute
 * indicators and the minute its lag first reaches the workflow's objective.
 * `writeScenarioRuns` stores runs in `integration_lag` and
 * `integration_failures` as the collector would, for tests and evaluations
 * in simulated time. `ScenarioReplaySource` replays one run as a live pull
 * source, which is what `syncwatch demo --scenario <kind>` adds.
 */
export { DEFAULT_SCENARIO_MINUTES, DEFAULT_SCENARIO_START, describeTarget, generateScenario, SCENARIO_WORKFLOW_INTEGRATIONS } from './generators.js';
export { SeededRandom } from './random.js';
export {
  DEFAULT_SCENARIO_HISTORY_MINUTES,
  LIVE_SCENARIO_ONSET_MINUTES,
  pickLiveSeed,
  ScenarioReplaySource,
  writeScenarioHistory,
  type ScenarioReplayOptions,
} from './replay-source.js';
export {
  buildScenarioPoll,
  MAX_FAILURE_ROWS_PER_MINUTE,
  SCENARIO_PROBE_SOURCE,
  SCENARIO_QUEUE_SOURCE,
  writeScenarioRuns,
  type ScenarioTiming,
} from './samples.js';
export {
  BENIGN_SCENARIO_KINDS,
  SCENARIO_KINDS,
  type ScenarioKind,
  type ScenarioMinute,
  type ScenarioOptions,
  type ScenarioRun,
  type ScenarioTarget,
} from './types.js';
