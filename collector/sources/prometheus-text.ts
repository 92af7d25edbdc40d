/**
 * Parser of the Prometheus text exposition format, version 0.0.4: `# HELP`
 * and `# TYPE` lines, samples with optional labels and an optional
 * millisecond timestamp. Histogram and summary samples (`_bucket`, `_sum`,
 * `_count`) are attributed to the family their `# TYPE` line declares.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

const METRIC_TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const METRIC_NAME_PATTERN = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT_PATTERN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const TIMESTAMP_PATTERN = /^-?\d+$/;
/** Suffixes of the samples that belong to a histogram or summary family. */
const FAMILY_SUFFIXES: Record<string, readonly string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

/** One sample line. */
export interface ExpositionSample {
  /** Name on the sample line, such as `http_request_duration_seconds_count`. */
  name: string;
  /** Family the sample belongs to, such as `http_request_duration_seconds`. */
  family: string;
  /** Type declared for the family, `untyped` without a `# TYPE` line. */
  type: MetricType;
  labels: Record<string, string>;
  /** Value; may be NaN or ±Infinity. */
  value: number;
  /** Timestamp in milliseconds since the epoch, when the line carries one. */
  timestampMs?: number;
}

/** Declared metadata of one family. */
export interface ExpositionFamily {
  type: MetricType;
  help?: string;
}

/** Everything one scrape returned. */
export interface Exposition {
  families: Map<string, ExpositionFamily>;
  samples: ExpositionSample[];
}

/** A line that does not follow the exposition format. */
export class ExpositionParseError extends Error {
  readonly line: number;

  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'ExpositionParseError';
    this.line = line;
  }
}

/**
 * Parses a whole exposition. Throws `ExpositionParseError` at the first
 * invalid line, as Prometheus fails a scrape on any invalid line.
 */
export function parseExposition(text: string): Exposition {
  const families = new Map<string, ExpositionFamily>();
  const samples: ExpositionSample[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index += 1) {
    const lineNumber = index + 1;
    const line = (lines[index] ?? '').replace(/\r$/, '');
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      parseCommentLine(line, lineNumber, families);
      continue;
    }
    const sample = parseSampleLine(line, lineNumber);
    const family = findFamily(sample.name, families);
    samples.push({ ...sample, family: family.name, type: family.type });
  }
  return { families, samples };
}

function parseCommentLine(line: string, lineNumber: number, families: Map<string, ExpositionFamily>): void {
  const match = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
  // Any other comment, including OpenMetrics' `# EOF`, carries no data.
  if (!match) return;
  const [, keyword, name = '', rest = ''] = match;
  if (!METRIC_NAME_PATTERN.test(name)) {
    throw new ExpositionParseError(lineNumber, `invalid metric name "${name}" in # ${keyword}`);
  }
  const family = families.get(name) ?? { type: 'untyped' as MetricType };
  if (keyword === 'TYPE') {
    const type = rest.trim();
    if (!METRIC_TYPES.has(type)) {
      throw new ExpositionParseError(
        lineNumber,
        `invalid type "${type}" for ${name}: expected counter, gauge, histogram, summary or untyped`,
      );
    }
    family.type = type as MetricType;
  } else {
    family.help = unescapeHelp(rest);
  }
  families.set(name, family);
}

function unescapeHelp(text: string): string {
  return text.replace(/\\([\\n])/g, (_, escaped: string) => (escaped === 'n' ? '\n' : '\\'));
}

/** Finds the family of a sample name: itself, or a histogram or summary it is a suffix of. */
function findFamily(name: string, families: Map<string, ExpositionFamily>): { name: string; type: MetricType } {
  const own = families.get(name);
  if (own !== undefined) return { name, type: own.type };
  for (const [type, suffixes] of Object.entries(FAMILY_SUFFIXES)) {
    for (const suffix of suffixes) {
      if (!name.endsWith(suffix)) continue;
      const base = name.slice(0, -suffix.length);
      if (families.get(base)?.type === type) return { name: base, type: type as MetricType };
    }
  }
  return { name, type: 'untyped' };
}

function parseSampleLine(line: string, lineNumber: number): Omit<ExpositionSample, 'family' | 'type'> {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) throw new ExpositionParseError(lineNumber, `expected a metric name at the start of "${line}"`);
  const name = nameMatch[0];
  let position = name.length;
  let labels: Record<string, string> = {};
  if (line[position] === '{') {
    const parsed = parseLabels(line, position + 1, lineNumber);
    labels = parsed.labels;
    position = parsed.end;
  }
  const rest = line.slice(position);
  if (rest !== '' && !/^[ \t]/.test(rest)) {
    throw new ExpositionParseError(lineNumber, `expected a space before the value of ${name}`);
  }
  const fields = rest.trim().split(/[ \t]+/);
  if (fields.length < 1 || fields.length > 2 || fields[0] === '') {
    throw new ExpositionParseError(lineNumber, `expected a value and an optional timestamp after ${name}, found "${rest.trim()}"`);
  }
  const value = parseValue(fields[0] ?? '', lineNumber);
  const sample: Omit<ExpositionSample, 'family' | 'type'> = { name, labels, value };
  const timestamp = fields[1];
  if (timestamp !== undefined) {
    if (!TIMESTAMP_PATTERN.test(timestamp)) {
      throw new ExpositionParseError(lineNumber, `invalid timestamp "${timestamp}": expected integer milliseconds`);
    }
    sample.timestampMs = Number(timestamp);
  }
  return sample;
}

/** Parses the labels after `{` at `start`, up to and including the closing `}`. */
function parseLabels(line: string, start: number, lineNumber: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  let position = start;
  const skipSpaces = () => {
    while (line[position] === ' ' || line[position] === '\t') position += 1;
  };
  for (;;) {
    skipSpaces();
    if (line[position] === '}') return { labels: { ...labels }, end: position + 1 };
    const nameMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(position));
    if (!nameMatch || !LABEL_NAME_PATTERN.test(nameMatch[0])) {
      throw new ExpositionParseError(lineNumber, `expected a label name at column ${position + 1}`);
    }
    const labelName = nameMatch[0];
    position += labelName.length;
    skipSpaces();
    if (line[position] !== '=') {
      throw new ExpositionParseError(lineNumber, `expected "=" after label ${labelName}`);
    }
    position += 1;
    skipSpaces();
    if (line[position] !== '"') {
      throw new ExpositionParseError(lineNumber, `expected a quoted value for label ${labelName}`);
    }
    position += 1;
    let value = '';
    for (;;) {
      const char = line[position];
      if (char === undefined) throw new ExpositionParseError(lineNumber, `unterminated value of label ${labelName}`);
      position += 1;
      if (char === '"') break;
      if (char !== '\\') {
        value += char;
        continue;
      }
      const escaped = line[position];
      position += 1;
      if (escaped === 'n') value += '\n';
      else if (escaped === '\\' || escaped === '"') value += escaped;
      else throw new ExpositionParseError(lineNumber, `invalid escape "\\${escaped ?? ''}" in label ${labelName}`);
    }
    if (labelName in labels) throw new ExpositionParseError(lineNumber, `duplicate label ${labelName}`);
    labels[labelName] = value;
    skipSpaces();
    if (line[position] === ',') {
      position += 1;
      continue;
    }
    if (line[position] !== '}') throw new ExpositionParseError(lineNumber, `expected "," or "}" after label ${labelName}`);
  }
}

function parseValue(text: string, lineNumber: number): number {
  switch (text) {
    case 'NaN':
      return Number.NaN;
    case '+Inf':
    case 'Inf':
      return Number.POSITIVE_INFINITY;
    case '-Inf':
      return Number.NEGATIVE_INFINITY;
  }
  if (!FLOAT_PATTERN.test(text)) {
    throw new ExpositionParseError(lineNumber, `invalid value "${text}": expected a number, NaN, +Inf or -Inf`);
  }
  return Number(text);
}

/**
 * Tells whether a sample only ever grows until its process restarts: a
 * counter, the `_bucket`, `_sum` and `_count` samples of a histogram or
 * summary, or an untyped sample whose name ends in `_total`.
 */
export function isCounterSample(sample: ExpositionSample): boolean {
  if (sample.type === 'counter') return true;
  if (sample.type === 'histogram' || sample.type === 'summary') return sample.name !== sample.family;
  return sample.type === 'untyped' && sample.name.endsWith('_total');
}
