import { z } from 'zod';
import { durationSchema } from '../../config/duration.js';
import { PREDICTION_DEFAULTS, PredictionStage, type PredictionStageOptions } from './stage.js';

/** `analyzer.prediction`: how far ahead breaches are predicted, when they alert, and how often the model retrains. */
export const predictionConfigSchema = z.strictObject({
  /** How far ahead a prediction looks. */
  horizon: durationSchema.default(PREDICTION_DEFAULTS.horizonMs),
  /** Breach probability from which a prediction raises an alert. */
  threshold: z.number().gt(0).lt(1).default(PREDICTION_DEFAULTS.threshold),
  /** Time between retrainings of the model on the store's history. */
  retrainInterval: durationSchema.default(PREDICTION_DEFAULTS.retrainIntervalMs),
  /** History a retraining reads. */
  trainingWindow: durationSchema.default(PREDICTION_DEFAULTS.trainingWindowMs),
});

export type PredictionConfig = z.output<typeof predictionConfigSchema>;

export const DEFAULT_PREDICTION_CONFIG: PredictionConfig = {
  horizon: PREDICTION_DEFAULTS.horizonMs,
  threshold: PREDICTION_DEFAULTS.threshold,
  retrainInterval: PREDICTION_DEFAULTS.retrainIntervalMs,
  trainingWindow: PREDICTION_DEFAULTS.trainingWindowMs,
};

/** Creates the prediction stage from its `analyzer.prediction` settings. */
export function createPredictionStage(
  config: PredictionConfig,
  dependencies: Pick<PredictionStageOptions, 'client' | 'logger'>,
): PredictionStage {
  return new PredictionStage({
    ...dependencies,
    horizonMs: config.horizon,
    threshold: config.threshold,
    retrainIntervalMs: config.retrainInterval,
    trainingWindowMs: config.trainingWindow,
  });
}
