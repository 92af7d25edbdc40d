export {
  readRunSeries,
  replayModel,
  replayStaticThreshold,
  scoreAlerts,
  summarizeCalibration,
  STATIC_THRESHOLD_MINUTES,
  STATIC_THRESHOLD_SHARE,
  type EvaluationRun,
  type CalibrationSummary,
  type EvaluationScore,
  type ModelReplay,
  type ProbabilityOutcome,
  type RunAlerts,
} from './evaluate.js';
export {
  computeFeatures,
  FEATURE_NAMES,
  LOOKBACK_MINUTES,
  MIN_HISTORY_MINUTES,
  TREND_MINUTES,
  type FeatureName,
  type FeatureVector,
  type Indicator,
} from './features.js';
export {
  createHeuristicModel,
  createLogisticModel,
  fitLogisticModel,
  fitPlattScaling,
  HEURISTIC_MODEL_VERSION,
  type BreachModel,
  type LogisticModelParameters,
  type TrainingExample,
} from './model.js';
export { CRITICAL_PROBABILITY, predictKey, PredictionIncidents, RESOLVE_AFTER_EVALUATIONS, type Prediction } from './predict.js';
export { keyOf, readMinuteSeries, readObjectiveSeconds, type KeyedSeries, type MinutePoint, type SeriesKey } from './series.js';
export {
  estimateTimeToBreach,
  MAX_LAG_GROWTH_SECONDS_PER_MINUTE,
  median,
  theilSenSlope,
  type BreachEstimate,
  type SeriesPoint,
  type TimeToBreachInput,
} from './time-to-breach.js';
export {
  buildExamples,
  chooseQuietStride,
  MIN_EXAMPLES_PER_CLASS,
  TARGET_TRAINING_EXAMPLES,
  trainBreachModel,
  type LabelledExample,
  type TrainingResult,
} from './training.js';
export { PREDICTIONS_TABLE, writePredictions } from './predictions-table.js';
export { PREDICTION_DEFAULTS, PredictionStage, type PredictionStageOptions } from './stage.js';
export { createPredictionStage, DEFAULT_PREDICTION_CONFIG, predictionConfigSchema, type PredictionConfig } from './config.js';
