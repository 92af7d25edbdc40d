import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWorkflowObjectives, type WorkflowConfig } from '../analyzer/workflows/index.js';
import {
  buildExamples,
  createHeuristicModel,
  HEURISTIC_MODEL_VERSION,
  PREDICTION_DEFAULTS,
  readMinuteSeries,
  readObjectiveSeconds,
  readRunSeries,
  replayModel,
  replayStaticThreshold,
  scoreAlerts,
  summarizeCalibration,
  STATIC_THRESHOLD_MINUTES,
  STATIC_THRESHOLD_SHARE,
  trainBreachModel,
  type CalibrationSummary,
  type EvaluationRun,
  type EvaluationScore,
  type ModelReplay,
  type RunAlerts,
} from '../analyzer/prediction/index.js';
import { CANONICAL_WORKFLOWS, parseDurationMs } from '../config/index.js';
import { migrate, openClickHouse } from '../store/index.js';
import { renderLeadTimeChart } from './lead-time-chart.js';
import {
  DEFAULT_SCENARIO_MINUTES,
  generateScenario,
  SCENARIO_KINDS,
  SCENARIO_WORKFLOW_INTEGRATIONS,
  writeScenarioRuns,
  type ScenarioRun,
} from '../simulator/scenarios/index.js';

/** Defaults of `syncwatch eval predict`: the service's `analyzer.prediction` defaults and 20 training seeds. */
export const EVAL_PREDICT_DEFAULTS = {
  horizonSeconds: PREDICTION_DEFAULTS.horizonMs / 1000,
  threshold: PREDICTION_DEFAULTS.threshold,
  trainingSeeds: 20,
} as const;

/** Simulated time between the starts of two runs, so their windows never overlap. */
const RUN_SPACING_MS = 4 * 3_600_000;
const TRAINING_START = new Date('2026-01-05T00:00:00.000Z');

export interface EvalPredictOptions {
  /** First and last held-out seed, inclusive. */
  firstSeed: number;
  lastSeed: number;
  /** Seeds trained on, all outside the held-out range. Default: the `trainingSeeds` seeds after `lastSeed`. */
  trainingSeeds?: number[];
  horizonSeconds?: number;
  threshold?: number;
  /** Receives progress lines. */
  progress?: (line: string) => void;
}

/**
 * Writes the printed report and an SVG chart of the lead times into `outDir`
 * (created when absent) as `eval-predict.txt` and `lead-times.svg`, and
 * returns their paths.
 */
export function writeEvalPredictFiles(report: EvalPredictReport, text: string, outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const reportPath = join(outDir, 'eval-predict.txt');
  const chartPath = join(outDir, 'lead-times.svg');
  writeFileSync(reportPath, `${text}\n`);
  writeFileSync(chartPath, renderLeadTimeChart(report.byKind, `Lead time on held-out seeds, ${report.heldOutRuns} runs`));
  return [reportPath, chartPath];
}

export interface EvalPredictReport {
  model: EvaluationScore;
  /** The cold-start model on the same runs, as a service with no breach history would predict. */
  heuristic: EvaluationScore;
  staticThreshold: EvaluationScore;
  modelVersion: string;
  trainingSeeds: number[];
  trainingExamples: number;
  trainingPositives: number;
  heldOutRuns: number;
  /** Calibration of the model's probabilities on the held-out minutes before each breach. */
  calibration: CalibrationSummary;
  /** The same scores for the runs of each scenario. */
  byKind: Record<string, { model: EvaluationScore; staticThreshold: EvaluationScore }>;
  seconds: number;
}

export class EvalPredictUsageError extends Error {
  readonly code = 'EVAL_ERR_INVALID_SEEDS';
  constructor(message: string) {
    super(`EVAL_ERR_INVALID_SEEDS: ${message}`);
    this.name = 'EvalPredictUsageError';
  }
}

/** Parses `A..B` into an inclusive seed range. */
export function parseSeedRange(text: string): { firstSeed: number; lastSeed: number } {
  const match = /^(\d+)\.\.(\d+)$/.exec(text.trim());
  if (!match) throw new EvalPredictUsageError(`invalid --seeds "${text}": expected a range such as 100..119`);
  const firstSeed = Number(match[1]);
  const lastSeed = Number(match[2]);
  if (firstSeed > lastSeed) {
    throw new EvalPredictUsageError(`invalid --seeds "${text}": expected the first seed at or below the last`);
  }
  return { firstSeed, lastSeed };
}

/**
 * `syncwatch eval predict`: writes every scenario on training seeds into a
 * fresh embedded store, trains the breach model on that history, then writes
 * the held-out seeds and replays the prediction stage and a static threshold
 * alert minute by minute over them.
 */
export async function runEvalPredict(options: EvalPredictOptions): Promise<EvalPredictReport> {
  const horizonSeconds = options.horizonSeconds ?? EVAL_PREDICT_DEFAULTS.horizonSeconds;
  const threshold = options.threshold ?? EVAL_PREDICT_DEFAULTS.threshold;
  const trainingSeeds =
    options.trainingSeeds ??
    Array.from({ length: EVAL_PREDICT_DEFAULTS.trainingSeeds }, (_, index) => options.lastSeed + 1 + index);
  const overlap = trainingSeeds.filter((seed) => seed >= options.firstSeed && seed <= options.lastSeed);
  if (overlap.length > 0) {
    throw new EvalPredictUsageError(`training seeds ${overlap.join(', ')} fall inside the held-out range ${options.firstSeed}..${options.lastSeed}`);
  }
  const progress = options.progress ?? (() => undefined);
  const started = performance.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-eval-predict-'));
  const client = openClickHouse({ kind: 'embedded', dataDir });
  try {
    await migrate(client);
    await writeWorkflowObjectives(client, demoWorkflows(), TRAINING_START);

    const trainingRuns = generateRuns(trainingSeeds, TRAINING_START);
    progress(`writing ${trainingRuns.length} training runs (seeds ${describeSeeds(trainingSeeds)}) into a temporary store`);
    await writeScenarioRuns(client, trainingRuns);
    const trainingEnd = new Date(TRAINING_START.getTime() + trainingRuns.length * RUN_SPACING_MS);
    const history = await readMinuteSeries(client, TRAINING_START, trainingEnd);
    const examples = buildExamples(history, await readObjectiveSeconds(client), horizonSeconds);
    const training = trainBreachModel(examples, `logistic-eval-${describeSeeds(trainingSeeds)}`);
    progress(
      `trained ${training.model.version} on ${training.examples} examples (${training.positives} breach within ${horizonSeconds / 60} min)${training.coldStart ? ', too few: kept the heuristic model' : ''}`,
    );

    const seeds = Array.from({ length: options.lastSeed - options.firstSeed + 1 }, (_, index) => options.firstSeed + index);
    const heldOut = generateRuns(seeds, trainingEnd);
    progress(`writing ${heldOut.length} held-out runs (seeds ${describeSeeds(seeds)})`);
    await writeScenarioRuns(client, heldOut);

    const modelResults: ModelReplay[] = [];
    const heuristicResults: RunAlerts[] = [];
    const heuristic = createHeuristicModel();
    const staticResults: RunAlerts[] = [];
    const kinds: string[] = [];
    for (const [index, scenario] of heldOut.entries()) {
      const run = toEvaluationRun(scenario);
      const series = await readRunSeries(client, run);
      modelResults.push(replayModel(run, series, training.model, horizonSeconds, threshold));
      heuristicResults.push(replayModel(run, series, heuristic, horizonSeconds, threshold));
      staticResults.push(replayStaticThreshold(run, series));
      kinds.push(scenario.kind);
      if ((index + 1) % SCENARIO_KINDS.length === 0 || index + 1 === heldOut.length) {
        progress(`replayed ${index + 1}/${heldOut.length} held-out runs`);
      }
    }
    return {
      model: scoreAlerts(modelResults, horizonSeconds),
      heuristic: scoreAlerts(heuristicResults, horizonSeconds),
      staticThreshold: scoreAlerts(staticResults, horizonSeconds),
      calibration: summarizeCalibration(modelResults.flatMap((result) => result.outcomes)),
      modelVersion: training.model.version,
      trainingSeeds,
      trainingExamples: training.examples,
      trainingPositives: training.positives,
      heldOutRuns: heldOut.length,
      byKind: Object.fromEntries(
        SCENARIO_KINDS.map((kind) => [
          kind,
          {
            model: scoreAlerts(modelResults.filter((_, index) => kinds[index] === kind), horizonSeconds),
            staticThreshold: scoreAlerts(staticResults.filter((_, index) => kinds[index] === kind), horizonSeconds),
          },
        ]),
      ),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await client.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Formats the report as the tables `syncwatch eval predict` prints. */
export function formatEvalPredictReport(report: EvalPredictReport, horizonSeconds: number, threshold: number): string {
  const staticName = `static lag >= ${STATIC_THRESHOLD_SHARE * 100}% of objective for ${STATIC_THRESHOLD_MINUTES} min`;
  const header = ['method', 'precision', 'recall', 'median lead (min)', 'true/all alerts', 'detected/breach runs'];
  const overall = [
    header,
    formatScore('prediction model', report.model),
    formatScore(`cold-start model (${HEURISTIC_MODEL_VERSION})`, report.heuristic),
    formatScore(staticName, report.staticThreshold),
  ];
  const perKind = [['scenario', 'model precision', 'recall', 'lead', 'static precision', 'recall', 'lead']];
  for (const [kind, scores] of Object.entries(report.byKind)) {
    const model = formatScore(kind, scores.model);
    const fixed = formatScore(kind, scores.staticThreshold);
    perKind.push([kind, `${model[1]} (${model[4]})`, model[2]!, model[3]!, `${fixed[1]} (${fixed[4]})`, fixed[2]!, fixed[3]!]);
  }
  return [
    `held-out runs: ${report.heldOutRuns}; trained on seeds ${describeSeeds(report.trainingSeeds)} (${report.trainingExamples} examples, ${report.trainingPositives} positive)`,
    `horizon ${horizonSeconds / 60} min, threshold ${threshold}, model ${report.modelVersion}`,
    '',
    ...formatTable(overall),
    '',
    'by scenario (precision with true/all alerts; recall; median lead in minutes):',
    ...formatTable(perKind),
    '',
    `calibration on ${report.calibration.predictions} held-out predictions before a breach: Brier score ${report.calibration.brierScore.toFixed(4)}`,
    ...formatTable([
      ['probability', 'predictions', 'mean probability', 'observed breach rate'],
      ...report.calibration.bins.map((bin) => [
        `${bin.from.toFixed(1)}-${bin.to.toFixed(1)}`,
        String(bin.count),
        bin.meanProbability.toFixed(3),
        bin.observedRate.toFixed(3),
      ]),
    ]),
    '',
    `finished in ${report.seconds.toFixed(1)} s`,
  ].join('\n');
}

function formatScore(name: string, score: EvaluationScore): string[] {
  return [
    name,
    score.alerts === 0 ? '-' : score.precision.toFixed(3),
    score.breachRuns === 0 ? '-' : score.recall.toFixed(3),
    score.medianLeadMinutes === null ? '-' : score.medianLeadMinutes.toFixed(1),
    `${score.truePositiveAlerts}/${score.alerts}`,
    `${score.detectedRuns}/${score.breachRuns}`,
  ];
}

/** Pads columns to their widest cell: the first column left-aligned, the others right-aligned. */
function formatTable(rows: readonly string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return rows.map((row) =>
    row.map((cell, index) => (index === 0 ? cell.padEnd(widths[index]!) : cell.padStart(widths[index]!))).join('  ').trimEnd(),
  );
}

/** Generates every scenario kind on every seed, one after another in simulated time. */
function generateRuns(seeds: readonly number[], start: Date): ScenarioRun[] {
  const runs: ScenarioRun[] = [];
  for (const seed of seeds) {
    for (const kind of SCENARIO_KINDS) {
      const startedAt = new Date(start.getTime() + runs.length * RUN_SPACING_MS);
      runs.push(generateScenario(kind, { seed, startedAt }));
    }
  }
  return runs;
}

function toEvaluationRun(scenario: ScenarioRun): EvaluationRun {
  return {
    label: `${scenario.kind} seed ${scenario.seed}`,
    integration: scenario.target.integration,
    workflow: scenario.target.workflow,
    plant: scenario.target.plant,
    objectiveSeconds: scenario.target.objectiveSeconds,
    startedAt: scenario.startedAt,
    endedAt: new Date(scenario.startedAt.getTime() + DEFAULT_SCENARIO_MINUTES * 60_000),
    breachAt: scenario.breachAt,
  };
}

/** Returns the canonical workflows that the scenarios use, with their demo integrations. */
function demoWorkflows(): WorkflowConfig[] {
  return CANONICAL_WORKFLOWS.filter((workflow) => SCENARIO_WORKFLOW_INTEGRATIONS[workflow.name] !== undefined).map((workflow) => ({
    name: workflow.name,
    criticality: workflow.criticality,
    syncMode: workflow.syncMode,
    integrations: [SCENARIO_WORKFLOW_INTEGRATIONS[workflow.name]!],
    ...(workflow.objective ? { objective: { percentile: workflow.objective.percentile, within: parseDurationMs(workflow.objective.within) } } : {}),
  }));
}

function describeSeeds(seeds: readonly number[]): string {
  if (seeds.length === 0) return 'none';
  const sorted = [...seeds].sort((a, b) => a - b);
  const contiguous = sorted.every((seed, index) => index === 0 || seed === sorted[index - 1]! + 1);
  return contiguous ? `${sorted[0]}..${sorted.at(-1)}` : sorted.join(',');
}

