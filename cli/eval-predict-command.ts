import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWorkflowObjectives, type WorkflowConfig } from '../analyzer/workflows/index.js';
import {
  buildExamples,
  readMinuteSeries,
  readObjectiveSeconds,
  readRunSeries,
  replayModel,
  replayStaticThreshold,
  scoreAlerts,
  STATIC_THRESHOLD_MINUTES,
  STATIC_THRESHOLD_SHARE,
  trainBreachModel,
  type EvaluationRun,
  type EvaluationScore,
  type RunAlerts,
} from '../analyzer/prediction/index.js';
import { CANONICAL_WORKFLOWS, parseDurationMs } from '../config/index.js';
import { migrate, openClickHouse } from '../store/index.js';
import {
  DEFAULT_SCENARIO_MINUTES,
  generateScenario,
  SCENARIO_KINDS,
  SCENARIO_WORKFLOW_INTEGRATIONS,
  writeScenarioRuns,
  type ScenarioRun,
} from '../simulator/scenarios/index.js';

/** Defaults of `syncwatch eval predict`, matching the service's `analyzer.prediction` defaults. */
export const EVAL_PREDICT_DEFAULTS = {
  horizonSeconds: 900,
  threshold: 0.5,
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

export interface EvalPredictReport {
  model: EvaluationScore;
  staticThreshold: EvaluationScore;
  modelVersion: string;
  trainingSeeds: number[];
  trainingExamples: number;
  trainingPositives: number;
  heldOutRuns: number;
  /** Lead time in minutes of each detected held-out run, by scenario, for the model. */
  leadMinutesByKind: Record<string, number[]>;
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

    const modelResults: RunAlerts[] = [];
    const staticResults: RunAlerts[] = [];
    const leadMinutesByKind: Record<string, number[]> = {};
    for (const [index, scenario] of heldOut.entries()) {
      const run = toEvaluationRun(scenario);
      const series = await readRunSeries(client, run);
      const modelAlerts = replayModel(run, series, training.model, horizonSeconds, threshold);
      modelResults.push(modelAlerts);
      staticResults.push(replayStaticThreshold(run, series));
      const lead = scoreAlerts([modelAlerts], horizonSeconds).leadMinutes;
      (leadMinutesByKind[scenario.kind] ??= []).push(...lead);
      if ((index + 1) % SCENARIO_KINDS.length === 0 || index + 1 === heldOut.length) {
        progress(`replayed ${index + 1}/${heldOut.length} held-out runs`);
      }
    }
    return {
      model: scoreAlerts(modelResults, horizonSeconds),
      staticThreshold: scoreAlerts(staticResults, horizonSeconds),
      modelVersion: training.model.version,
      trainingSeeds,
      trainingExamples: training.examples,
      trainingPositives: training.positives,
      heldOutRuns: heldOut.length,
      leadMinutesByKind,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await client.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Formats the report as the table `syncwatch eval predict` prints. */
export function formatEvalPredictReport(report: EvalPredictReport, horizonSeconds: number, threshold: number): string {
  const row = (name: string, score: EvaluationScore) =>
    [
      name.padEnd(34),
      score.precision.toFixed(3).padStart(9),
      score.recall.toFixed(3).padStart(7),
      (score.medianLeadMinutes === null ? '-' : score.medianLeadMinutes.toFixed(1)).padStart(17),
      `${score.truePositiveAlerts}/${score.alerts}`.padStart(13),
      `${score.detectedRuns}/${score.breachRuns}`.padStart(15),
    ].join('');
  const lines = [
    `held-out runs: ${report.heldOutRuns}; trained on seeds ${describeSeeds(report.trainingSeeds)} (${report.trainingExamples} examples, ${report.trainingPositives} positive)`,
    `horizon ${horizonSeconds / 60} min, threshold ${threshold}, model ${report.modelVersion}`,
    '',
    `${'method'.padEnd(34)}${'precision'.padStart(9)}${'recall'.padStart(7)}${'median lead (min)'.padStart(17)}${'true alerts'.padStart(13)}${'detected runs'.padStart(15)}`,
    row('prediction model', report.model),
    row(`static lag >= ${STATIC_THRESHOLD_SHARE * 100}% of objective, ${STATIC_THRESHOLD_MINUTES} min`, report.staticThreshold),
    '',
    'model lead time by scenario (median min, detected runs):',
    ...Object.entries(report.leadMinutesByKind).map(([kind, leads]) => {
      const sorted = [...leads].sort((a, b) => a - b);
      const middle = sorted.length === 0 ? '-' : (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
      return `  ${kind.padEnd(22)} ${typeof middle === 'number' ? middle.toFixed(1) : middle} (${leads.length})`;
    }),
    '',
    `finished in ${report.seconds.toFixed(1)} s`,
  ];
  return lines.join('\n');
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

