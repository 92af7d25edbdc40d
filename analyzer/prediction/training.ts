import { computeFeatures } from './features.js';
import { createHeuristicModel, fitLogisticModel, type BreachModel, type TrainingExample } from './model.js';
import { keyOf, type KeyedSeries } from './series.js';

/** Minimum examples of each class for fitting a model. With fewer, the heuristic model stays. */
export const MIN_EXAMPLES_PER_CLASS = 30;

/** Length of the blocks of history kept together when examples are split for calibration. */
const CALIBRATION_BLOCK_MS = 4 * 3_600_000;

/** Every fourth block of history calibrates, the rest trains. */
const CALIBRATION_EVERY = 4;

export interface LabelledExample extends TrainingExample {
  /** Examples of one key and block of history share a group, so they land on the same side of the split. */
  group: string;
}

/**
 * Builds one example per key and minute at which lag was known and still
 * below the objective. The label is true when lag reached the objective
 * within the horizon after that minute. Minutes whose horizon extends past
 * the stored history are left out unless they already have a breach in it,
 * because their outcome is unknown. With `quietStride` above 1, only every
 * so many minutes without a breach ahead becomes an example, which bounds
 * the work on a long history while keeping every breach example.
 */
export function buildExamples(
  series: readonly KeyedSeries[],
  objectives: ReadonlyMap<string, number>,
  horizonSeconds: number,
  options: { quietStride?: number } = {},
): LabelledExample[] {
  const horizonMs = horizonSeconds * 1000;
  const quietStride = Math.max(1, Math.floor(options.quietStride ?? 1));
  const examples: LabelledExample[] = [];
  for (const entry of series) {
    const objectiveSeconds = objectives.get(entry.workflow);
    if (objectiveSeconds === undefined) continue;
    const points = entry.points;
    const lastMinuteMs = points.at(-1)?.minuteMs ?? 0;
    for (let index = 0; index < points.length; index += 1) {
      const point = points[index]!;
      if (point.lagSeconds === null || point.lagSeconds >= objectiveSeconds) continue;
      let label = false;
      for (let next = index + 1; next < points.length; next += 1) {
        const later = points[next]!;
        if (later.minuteMs > point.minuteMs + horizonMs) break;
        if (later.lagSeconds !== null && later.lagSeconds >= objectiveSeconds) {
          label = true;
          break;
        }
      }
      if (!label && point.minuteMs + horizonMs > lastMinuteMs) continue;
      if (!label && index % quietStride !== 0) continue;
      const features = computeFeatures(points, point.minuteMs, objectiveSeconds, horizonSeconds);
      if (!features) continue;
      examples.push({
        values: features.values,
        label,
        group: `${keyOf(entry)}\u0000${Math.floor(point.minuteMs / CALIBRATION_BLOCK_MS)}`,
      });
    }
  }
  return examples;
}

export interface TrainingResult {
  model: BreachModel;
  /** True when the history was too thin and the heuristic model stays. */
  coldStart: boolean;
  examples: number;
  positives: number;
}

/**
 * Trains a breach model on labelled history: a logistic regression on three
 * quarters of the blocks and Platt scaling on the rest. With fewer than
 * `MIN_EXAMPLES_PER_CLASS` breaches or non-breaches it returns the heuristic
 * model, so an empty or uneventful store still gets sensible predictions.
 */
export function trainBreachModel(examples: readonly LabelledExample[], version: string): TrainingResult {
  const positives = examples.filter((example) => example.label).length;
  const negatives = examples.length - positives;
  if (positives < MIN_EXAMPLES_PER_CLASS || negatives < MIN_EXAMPLES_PER_CLASS) {
    return { model: createHeuristicModel(), coldStart: true, examples: examples.length, positives };
  }
  const training: LabelledExample[] = [];
  const calibration: LabelledExample[] = [];
  for (const example of examples) {
    (hashString(example.group) % CALIBRATION_EVERY === 0 ? calibration : training).push(example);
  }
  // A split that left one side without both classes would calibrate on nothing, so calibrate in-sample instead.
  const usable = (set: LabelledExample[]) => set.some((example) => example.label) && set.some((example) => !example.label);
  const model =
    usable(training) && usable(calibration)
      ? fitLogisticModel(training, calibration, version)
      : fitLogisticModel(examples, examples, version);
  return { model, coldStart: false, examples: examples.length, positives };
}

/** FNV-1a, for a split that is the same on every run. */
function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Examples a retraining aims at; longer histories keep every breach example and thin out the rest. */
export const TARGET_TRAINING_EXAMPLES = 20_000;

/** Returns the stride that thins a history of `minutes` key-minutes to about `TARGET_TRAINING_EXAMPLES`. */
export function chooseQuietStride(minutes: number): number {
  return Math.max(1, Math.ceil(minutes / TARGET_TRAINING_EXAMPLES));
}
