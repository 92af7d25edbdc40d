import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import type { AlertEvent } from '../../alerts/alert.js';
import type { AnalyzerStage } from '../stage.js';
import { LOOKBACK_MINUTES } from './features.js';
import { createHeuristicModel, type BreachModel } from './model.js';
import { predictKey, PredictionIncidents, type Prediction } from './predict.js';
import { writePredictions } from './predictions-table.js';
import { readMinuteSeries, readObjectiveSeconds } from './series.js';
import { buildExamples, chooseQuietStride, trainBreachModel, type LabelledExample } from './training.js';

/** Defaults of the `analyzer.prediction` configuration. */
export const PREDICTION_DEFAULTS = {
  horizonMs: 15 * 60_000,
  threshold: 0.5,
  retrainIntervalMs: 6 * 3_600_000,
  trainingWindowMs: 14 * 86_400_000,
} as const;

export interface PredictionStageOptions {
  client: ClickHouseClient;
  logger: Logger;
  /** How far ahead a prediction looks. Default 15 minutes. */
  horizonMs?: number;
  /** Probability from which a prediction raises an alert. Default 0.5. */
  threshold?: number;
  /** Time between retrainings on the store's history. Default 6 hours. */
  retrainIntervalMs?: number;
  /** History a retraining reads. Default 14 days. */
  trainingWindowMs?: number;
  /** Model to start with. Default: the heuristic model until the first training. */
  model?: BreachModel;
}

/**
 * The failure-prediction step of the analyzer cycle. Each run predicts the
 * probability that every integration, workflow and plant with recent lag
 * samples and an objective breaches it within the horizon. It writes the
 * predictions to `predictions` and returns incident events for those at or
 * above the threshold. It retrains its model on the store's history when
 * the retrain interval has passed. While the history has too few breaches,
 * it keeps the heuristic model.
 */
export class PredictionStage implements AnalyzerStage {
  readonly name = 'prediction';
  readonly #client: ClickHouseClient;
  readonly #logger: Logger;
  readonly #horizonSeconds: number;
  readonly #threshold: number;
  readonly #retrainIntervalMs: number;
  readonly #trainingWindowMs: number;
  readonly #incidents = new PredictionIncidents();
  #model: BreachModel;
  #lastTrainingMs: number | undefined;

  constructor(options: PredictionStageOptions) {
    this.#client = options.client;
    this.#logger = options.logger;
    this.#horizonSeconds = (options.horizonMs ?? PREDICTION_DEFAULTS.horizonMs) / 1000;
    this.#threshold = options.threshold ?? PREDICTION_DEFAULTS.threshold;
    this.#retrainIntervalMs = options.retrainIntervalMs ?? PREDICTION_DEFAULTS.retrainIntervalMs;
    this.#trainingWindowMs = options.trainingWindowMs ?? PREDICTION_DEFAULTS.trainingWindowMs;
    this.#model = options.model ?? createHeuristicModel();
    if (!(this.#threshold > 0 && this.#threshold < 1)) {
      throw new RangeError(`invalid prediction threshold ${this.#threshold}: expected a probability between 0 and 1`);
    }
  }

  /** Version of the model the next run predicts with. */
  get modelVersion(): string {
    return this.#model.version;
  }

  async run(now: Date): Promise<AlertEvent[]> {
    if (this.#lastTrainingMs === undefined || now.getTime() - this.#lastTrainingMs >= this.#retrainIntervalMs) {
      await this.retrain(now);
    }
    const objectives = await readObjectiveSeconds(this.#client);
    // The end is exclusive, so one millisecond past `now` keeps the samples stamped exactly at `now`.
    const series = await readMinuteSeries(this.#client, new Date(now.getTime() - LOOKBACK_MINUTES * 60_000), new Date(now.getTime() + 1));
    const predictions: Prediction[] = [];
    const events: AlertEvent[] = [];
    for (const entry of series) {
      const objectiveSeconds = objectives.get(entry.workflow);
      if (objectiveSeconds === undefined) continue;
      const prediction = predictKey(entry, now, objectiveSeconds, this.#horizonSeconds, this.#threshold, this.#model);
      if (!prediction) continue;
      predictions.push(prediction);
      const event = this.#incidents.update(prediction);
      if (event) events.push(event);
    }
    await writePredictions(this.#client, predictions);
    return events;
  }

  /**
   * Trains a new model on the history before `now` and uses it when the
   * history had enough breaches. A failed training keeps the current model,
   * logs the error and is retried after the next interval.
   */
  async retrain(now: Date): Promise<void> {
    this.#lastTrainingMs = now.getTime();
    const started = performance.now();
    try {
      const history = await readMinuteSeries(this.#client, new Date(now.getTime() - this.#trainingWindowMs), now);
      const objectives = await readObjectiveSeconds(this.#client);
      const minutes = history.reduce((sum, entry) => sum + entry.points.length, 0);
      const quietStride = chooseQuietStride(minutes);
      const examples: LabelledExample[] = [];
      for (const entry of history) {
        examples.push(...buildExamples([entry], objectives, this.#horizonSeconds, { quietStride }));
        // Feature extraction takes about 0.1 ms an example, so yielding per key keeps ingest and the API responsive.
        await new Promise((resolve) => setImmediate(resolve));
      }
      // NOTE: the fit runs in one go on the event loop. On 20,000 examples, the most a long history
      // is thinned to, it took 2.3 s on a shared, busy 2-core machine, during which ingest waits.
      const result = trainBreachModel(examples, `logistic-${now.toISOString()}`);
      const details = { examples: result.examples, positives: result.positives, durationMs: Math.round(performance.now() - started) };
      if (result.coldStart) {
        this.#logger.info({ ...details, model: this.#model.version }, 'prediction model kept: too few breaches in the history to train');
        return;
      }
      this.#model = result.model;
      this.#logger.info({ ...details, model: result.model.version }, 'prediction model retrained');
    } catch (error) {
      this.#logger.error({ err: error, model: this.#model.version }, 'prediction model training failed; keeping the current model');
    }
  }
}
