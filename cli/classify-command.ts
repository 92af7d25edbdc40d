import { createReadStream, createWriteStream, existsSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { dirname, resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import { ExceptionClassifier } from '../analyzer/exceptions/classifier.js';
import { toLlmSettings, type ExceptionsConfig } from '../analyzer/exceptions/config.js';
import { LlmClassifier } from '../analyzer/exceptions/llm.js';
import {
  EXCEPTION_CATEGORIES,
  isExceptionCategory,
  RECOMMENDED_ACTIONS,
  recommendedActionFor,
  type ExceptionCategory,
  type RecommendedAction,
} from '../analyzer/exceptions/taxonomy.js';

export class ClassifyUsageError extends Error {}

export interface ClassifyCommandOptions {
  input: string | undefined;
  output: string | undefined;
  /** Require a label on every input line and print the evaluation. */
  requireLabels: boolean;
  exceptions: ExceptionsConfig;
  logger?: Logger;
}

/** A reference label from the input, when the line has one. */
interface ReferenceLabel {
  category: ExceptionCategory;
  retryable: boolean;
  action?: RecommendedAction;
}

interface Evaluated {
  expected: ReferenceLabel;
  category: ExceptionCategory;
  retryable: boolean;
  action: RecommendedAction;
}

/**
 * Labels every line of a JSON Lines file of exceptions (`message`, optionally
 * `system`, `exception_type` and `id`) and writes one label per line. When
 * the lines carry reference labels (`category`, `retryable`, `action`), it
 * also returns the accuracy and the confusion by category.
 */
export async function runClassifyCommand(options: ClassifyCommandOptions): Promise<string> {
  if (!options.input) throw new ClassifyUsageError('classify needs --input FILE, a JSON Lines file with a "message" on every line');
  if (!options.output) throw new ClassifyUsageError('classify needs --output FILE for the labels, one JSON object per line');
  if (!existsSync(options.input)) throw new ClassifyUsageError(`input file not found: ${options.input}`);
  if (resolve(options.input) === resolve(options.output)) {
    throw new ClassifyUsageError(`--output ${options.output} is the input file; choose another file so the input is not overwritten`);
  }
  const outputDir = dirname(resolve(options.output));
  if (!existsSync(outputDir)) throw new ClassifyUsageError(`output folder not found: ${outputDir}; create it or choose another --output`);

  // Logs go to stderr, so the summary on stdout stays clean.
  const logger = options.logger ?? pino({ name: 'syncwatch', level: process.env.SYNCWATCH_LOG_LEVEL ?? 'warn' }, pino.destination(2));
  const llmConfig = options.exceptions.llm;
  const llm = llmConfig ? new LlmClassifier({ settings: toLlmSettings(llmConfig), logger }) : undefined;
  const classifier = new ExceptionClassifier({ redactNames: options.exceptions.redact.names, llm, logger });

  // Labels go to a temporary file beside the output, renamed over it only when every line was read,
  // so an invalid input line or a failed write leaves an existing output file as it was.
  const partialPath = `${resolve(options.output)}.${process.pid}.partial`;
  const output = createWriteStream(partialPath);
  const outputFailed = once(output, 'error').then(([error]) => {
    throw new ClassifyUsageError(`cannot write ${options.output}: ${(error as Error).message}`);
  });
  outputFailed.catch(() => undefined);
  let labelled: LabelledLines;
  try {
    await Promise.race([once(output, 'open'), outputFailed]);
    labelled = await labelLines(options.input, options.requireLabels, classifier, output);
    output.end();
    await Promise.race([once(output, 'finish'), outputFailed]);
    renameSync(partialPath, options.output);
  } catch (error) {
    output.destroy();
    removePartialFile(partialPath);
    // events.once rejects with the stream's own error, which names the temporary path.
    if ((error as NodeJS.ErrnoException).path === partialPath) {
      throw new ClassifyUsageError(`cannot write ${options.output}: ${(error as Error).message.replace(partialPath, options.output)}`);
    }
    throw error;
  }
  const { rows, fingerprints, evaluated } = labelled;

  const summary = [`classified ${rows} rows into ${fingerprints.size} fingerprints; labels written to ${options.output}`];
  if (llm) summary.push(`model calls: ${llm.stats.calls}, requests: ${llm.stats.requests}, tokens: ${llm.stats.tokensUsed}`);
  else summary.push('mode: rules only (no analyzer.exceptions.llm configured)');
  if (evaluated.length > 0) summary.push('', formatEvaluation(evaluated));
  return summary.join('\n');
}

/** Removes the temporary labels file. Anything else at its path, such as a folder, is kept. */
function removePartialFile(path: string): void {
  if (existsSync(path) && statSync(path).isFile()) rmSync(path);
}

interface LabelledLines {
  rows: number;
  fingerprints: Set<string>;
  evaluated: Evaluated[];
}

/** Labels every line of `input` and writes one JSON object per line to `output`. */
async function labelLines(input: string, requireLabels: boolean, classifier: ExceptionClassifier, output: WriteStream): Promise<LabelledLines> {
  const lines = createInterface({ input: createReadStream(input, 'utf8'), crlfDelay: Infinity });
  const evaluated: Evaluated[] = [];
  const fingerprints = new Set<string>();
  let rows = 0;
  let lineNumber = 0;

  for await (const line of lines) {
    lineNumber += 1;
    if (line.trim() === '') continue;
    const record = parseInputLine(line, lineNumber, input);
    const prepared = classifier.prepare({ message: record.message, exceptionType: record.exceptionType, system: record.system });
    const label = await classifier.classify(prepared);
    const action = recommendedActionFor(label.category, label.retryable);
    fingerprints.add(prepared.fingerprint);
    rows += 1;

    const written = {
      ...(record.id === undefined ? {} : { id: record.id }),
      fingerprint: prepared.fingerprint,
      template: prepared.template,
      category: label.category,
      retryable: label.retryable,
      confidence: label.confidence,
      action,
      classified_by: label.classifiedBy,
      ...(label.rule === undefined ? {} : { rule: label.rule }),
      rationale: label.rationale,
    };
    if (!output.write(`${JSON.stringify(written)}\n`)) await once(output, 'drain');

    if (record.expected) evaluated.push({ expected: record.expected, category: label.category, retryable: label.retryable, action });
    else if (requireLabels) {
      throw new ClassifyUsageError(`${input} line ${lineNumber}: --labels expects "category" and "retryable" on every line`);
    }
  }
  return { rows, fingerprints, evaluated };
}

interface InputRecord {
  id?: string;
  message: string;
  exceptionType?: string;
  system?: string;
  expected?: ReferenceLabel;
}

function parseInputLine(line: string, lineNumber: number, path: string): InputRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ClassifyUsageError(`${path} line ${lineNumber}: invalid JSON; expected one object per line`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ClassifyUsageError(`${path} line ${lineNumber}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const object = value as Record<string, unknown>;
  if (typeof object.message !== 'string') {
    throw new ClassifyUsageError(`${path} line ${lineNumber}: missing "message"; expected a string, got ${typeof object.message}`);
  }
  const exceptionType = object.exception_type ?? object.exceptionType;
  const record: InputRecord = {
    message: object.message,
    id: object.id === undefined ? undefined : String(object.id),
    system: typeof object.system === 'string' ? object.system : undefined,
    exceptionType: typeof exceptionType === 'string' ? exceptionType : undefined,
  };
  if (object.category !== undefined || object.retryable !== undefined) {
    if (!isExceptionCategory(object.category)) {
      throw new ClassifyUsageError(`${path} line ${lineNumber}: invalid "category" ${JSON.stringify(object.category)}; expected one of ${EXCEPTION_CATEGORIES.join(', ')}`);
    }
    if (typeof object.retryable !== 'boolean') {
      throw new ClassifyUsageError(`${path} line ${lineNumber}: invalid "retryable" ${JSON.stringify(object.retryable)}; expected true or false`);
    }
    const action = RECOMMENDED_ACTIONS.find((candidate) => candidate === object.action);
    record.expected = { category: object.category, retryable: object.retryable, action };
  }
  return record;
}

/** Formats accuracy figures and, per reference category, what it was labelled as. */
export function formatEvaluation(rows: readonly Evaluated[]): string {
  const total = rows.length;
  const categoryHits = rows.filter((row) => row.category === row.expected.category).length;
  const withAction = rows.filter((row) => row.expected.action !== undefined);
  const actionHits = withAction.filter((row) => row.action === row.expected.action).length;
  const retryableHits = rows.filter((row) => row.retryable === row.expected.retryable).length;
  const unsafeRetries = rows.filter((row) => row.retryable && !row.expected.retryable).length;

  const lines = [
    `category accuracy: ${categoryHits}/${total} (${percent(categoryHits, total)})`,
    `action accuracy: ${actionHits}/${withAction.length} (${percent(actionHits, withAction.length)})`,
    `retryable accuracy: ${retryableHits}/${total} (${percent(retryableHits, total)})`,
    `non-retryable labelled retryable: ${unsafeRetries}`,
    '',
    'confusion by category (reference -> labels):',
  ];
  const width = Math.max(...EXCEPTION_CATEGORIES.map((category) => category.length));
  for (const category of EXCEPTION_CATEGORIES) {
    const expected = rows.filter((row) => row.expected.category === category);
    const labelled = rows.filter((row) => row.category === category);
    if (expected.length === 0 && labelled.length === 0) continue;
    const hits = expected.filter((row) => row.category === category).length;
    const misses = new Map<string, number>();
    for (const row of expected) if (row.category !== category) misses.set(row.category, (misses.get(row.category) ?? 0) + 1);
    const missText = [...misses].map(([label, count]) => `${label} ${count}`).join(', ');
    lines.push(
      `  ${category.padEnd(width)}  ${hits}/${expected.length} correct, precision ${hits}/${labelled.length}${missText ? `; labelled ${missText}` : ''}`,
    );
  }
  return lines.join('\n');
}

function percent(part: number, whole: number): string {
  return whole === 0 ? 'n/a' : `${((part / whole) * 100).toFixed(1)}%`;
}
