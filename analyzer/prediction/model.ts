import { FEATURE_NAMES } from './features.js';

/** A trained or fixed model that maps features to a breach probability. */
export interface BreachModel {
  /** Stored with every prediction, such as `heuristic-1` or `logistic-2026-01-05T06:00:00.000Z`. */
  readonly version: string;
  /** Returns the probability, from 0 to 1, that the key breaches within the horizon. */
  predict(values: readonly number[]): number;
  /** Returns how much each feature pushed the prediction up, in the order of `FEATURE_NAMES`. */
  contributions(values: readonly number[]): number[];
}

export const HEURISTIC_MODEL_VERSION = 'heuristic-1';

/**
 * Weights of the cold-start model on the features, in logit units. They
 * encode rules an operator would write: a breach the extrapolation puts
 * within the horizon, an expiring credential, consumers lost, failures
 * rising and a slowing partner each push towards an alert. These are set by
 * hand, not fitted, so its probabilities are not calibrated.
 */
const HEURISTIC_WEIGHTS: Readonly<Partial<Record<(typeof FEATURE_NAMES)[number], number>>> = {
  breach_within_horizon: 6,
  projected_lag_ratio: 1.5,
  credential_pressure: 6,
  consumer_drop: 3,
  stuck: 1,
  failure_trend: 1.5,
  dead_letter_growth: 1.5,
  partner_latency_trend: 1.5,
  source_down_share: 2,
  net_inflow: 1,
};
const HEURISTIC_BIAS = -5;

/**
 * Creates the model used until the store contains enough labelled history:
 * a fixed logistic score over hand-set weights.
 */
export function createHeuristicModel(): BreachModel {
  const weights = FEATURE_NAMES.map((name) => HEURISTIC_WEIGHTS[name] ?? 0);
  return {
    version: HEURISTIC_MODEL_VERSION,
    predict: (values) => sigmoid(HEURISTIC_BIAS + dot(weights, values)),
    contributions: (values) => values.map((value, index) => value * (weights[index] ?? 0)),
  };
}

/** A logistic regression on standardized features with Platt scaling, as stored and loaded. */
export interface LogisticModelParameters {
  version: string;
  featureNames: string[];
  means: number[];
  deviations: number[];
  weights: number[];
  bias: number;
  /** Platt scaling of the raw logit: probability = sigmoid(plattSlope * logit + plattIntercept). */
  plattSlope: number;
  plattIntercept: number;
}

export function createLogisticModel(parameters: LogisticModelParameters): BreachModel {
  if (parameters.featureNames.join(',') !== FEATURE_NAMES.join(',')) {
    throw new RangeError(
      `invalid model ${parameters.version}: expected features ${FEATURE_NAMES.join(', ')}, got ${parameters.featureNames.join(', ')}`,
    );
  }
  const standardize = (values: readonly number[]) =>
    values.map((value, index) => (value - (parameters.means[index] ?? 0)) / (parameters.deviations[index] ?? 1));
  return {
    version: parameters.version,
    predict: (values) => {
      const logit = parameters.bias + dot(parameters.weights, standardize(values));
      return sigmoid(parameters.plattSlope * logit + parameters.plattIntercept);
    },
    contributions: (values) => standardize(values).map((value, index) => value * (parameters.weights[index] ?? 0)),
  };
}

/** A labelled example: features at one minute, and whether the key breached within the horizon after it. */
export interface TrainingExample {
  values: number[];
  label: boolean;
}

export interface FitOptions {
  /** L2 penalty on the standardized weights. Default 0.01. */
  l2?: number;
  /** Full-batch gradient steps. Default 400. */
  iterations?: number;
  /** Default 0.5. */
  learningRate?: number;
}

/**
 * Fits a logistic regression by full-batch gradient descent on standardized
 * features, then Platt scaling on the `calibration` examples, which must be
 * kept out of `training` so the probabilities are not overconfident.
 */
export function fitLogisticModel(
  training: readonly TrainingExample[],
  calibration: readonly TrainingExample[],
  version: string,
  options: FitOptions = {},
): BreachModel & { parameters: LogisticModelParameters } {
  const l2 = options.l2 ?? 0.01;
  const iterations = options.iterations ?? 400;
  const learningRate = options.learningRate ?? 0.5;
  const width = FEATURE_NAMES.length;
  const means = new Array<number>(width).fill(0);
  const deviations = new Array<number>(width).fill(1);
  for (let index = 0; index < width; index += 1) {
    const column = training.map((example) => example.values[index] ?? 0);
    const mean = column.reduce((sum, value) => sum + value, 0) / Math.max(column.length, 1);
    const variance = column.reduce((sum, value) => sum + (value - mean) ** 2, 0) / Math.max(column.length, 1);
    means[index] = mean;
    // A constant feature keeps a deviation of 1, so it standardizes to 0 and never divides by zero.
    deviations[index] = variance > 1e-12 ? Math.sqrt(variance) : 1;
  }
  const rows = training.map((example) => example.values.map((value, index) => (value - means[index]!) / deviations[index]!));
  const labels = training.map((example) => (example.label ? 1 : 0));

  const weights = new Array<number>(width).fill(0);
  let bias = 0;
  for (let step = 0; step < iterations; step += 1) {
    const gradient = new Array<number>(width).fill(0);
    let biasGradient = 0;
    for (let row = 0; row < rows.length; row += 1) {
      const features = rows[row]!;
      const error = sigmoid(bias + dot(weights, features)) - labels[row]!;
      biasGradient += error;
      for (let index = 0; index < width; index += 1) gradient[index]! += error * features[index]!;
    }
    const count = Math.max(rows.length, 1);
    for (let index = 0; index < width; index += 1) {
      weights[index]! -= learningRate * (gradient[index]! / count + l2 * weights[index]!);
    }
    bias -= learningRate * (biasGradient / count);
  }

  const logitOf = (values: readonly number[]) =>
    bias + dot(weights, values.map((value, index) => (value - means[index]!) / deviations[index]!));
  const platt = fitPlattScaling(
    calibration.map((example) => logitOf(example.values)),
    calibration.map((example) => example.label),
  );
  const parameters: LogisticModelParameters = {
    version,
    featureNames: [...FEATURE_NAMES],
    means,
    deviations,
    weights,
    bias,
    plattSlope: platt.slope,
    plattIntercept: platt.intercept,
  };
  return { ...createLogisticModel(parameters), parameters };
}

/**
 * Fits probability = sigmoid(slope * score + intercept) by Newton's method
 * on the log loss, with Platt's smoothed targets so a perfectly separated
 * calibration set does not drive the slope to infinity. Returns the identity
 * (slope 1, intercept 0) when the scores hold only one class.
 */
export function fitPlattScaling(scores: readonly number[], labels: readonly boolean[]): { slope: number; intercept: number } {
  const positives = labels.filter(Boolean).length;
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return { slope: 1, intercept: 0 };
  const high = (positives + 1) / (positives + 2);
  const low = 1 / (negatives + 2);
  const targets = labels.map((label) => (label ? high : low));

  let slope = 1;
  let intercept = 0;
  for (let step = 0; step < 50; step += 1) {
    let gradientSlope = 0;
    let gradientIntercept = 0;
    let hessianSS = 1e-9;
    let hessianSI = 0;
    let hessianII = 1e-9;
    for (let index = 0; index < scores.length; index += 1) {
      const score = scores[index]!;
      const probability = sigmoid(slope * score + intercept);
      const error = probability - targets[index]!;
      const weight = probability * (1 - probability);
      gradientSlope += error * score;
      gradientIntercept += error;
      hessianSS += weight * score * score;
      hessianSI += weight * score;
      hessianII += weight;
    }
    const determinant = hessianSS * hessianII - hessianSI * hessianSI;
    if (Math.abs(determinant) < 1e-12) break;
    const deltaSlope = (hessianII * gradientSlope - hessianSI * gradientIntercept) / determinant;
    const deltaIntercept = (hessianSS * gradientIntercept - hessianSI * gradientSlope) / determinant;
    slope -= deltaSlope;
    intercept -= deltaIntercept;
    if (Math.abs(deltaSlope) + Math.abs(deltaIntercept) < 1e-9) break;
  }
  return { slope, intercept };
}

export function sigmoid(value: number): number {
  if (value >= 0) return 1 / (1 + Math.exp(-value));
  const exponential = Math.exp(value);
  return exponential / (1 + exponential);
}

function dot(left: readonly number[], right: readonly number[]): number {
  let sum = 0;
  for (let index = 0; index < left.length; index += 1) sum += (left[index] ?? 0) * (right[index] ?? 0);
  return sum;
}
