/** Reading and writing `timestamp,value` series files, as NAB and `syncwatch detect` use them. */

export interface SeriesRow {
  /** Timestamp text as it appeared in the file. */
  text: string;
  /** Milliseconds since the epoch, read as UTC. */
  ts: number;
  /** Value text as it appeared in the file. */
  valueText: string;
  value: number;
}

export class SeriesCsvError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = 'SeriesCsvError';
    this.code = code;
  }
}

const TS_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Parses `YYYY-MM-DD HH:MM[:SS[.fff]]` (UTC unless it has an offset), ISO 8601, or epoch seconds. */
export function parseTimestamp(text: string): number {
  const t = text.trim();
  const m = TS_RE.exec(t);
  if (m) {
    if (m[8]) return Date.parse(t.replace(' ', 'T'));
    const frac = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
    return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, m[6] ? +m[6] : 0) + frac;
  }
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  return Number.NaN;
}

function splitLine(line: string): string[] {
  return line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
}

/** Reads a CSV with `timestamp` and `value` columns (header required; CRLF accepted). */
export function parseSeriesCsv(text: string, source: string): SeriesRow[] {
  const lines = text.split('\n');
  const header = splitLine((lines[0] ?? '').replace(/\r$/, ''));
  const tcol = header.indexOf('timestamp');
  const vcol = header.indexOf('value');
  if (tcol < 0 || vcol < 0) {
    throw new SeriesCsvError(
      'SERIES_ERR_HEADER',
      `${source}: expected a header with "timestamp" and "value" columns, got "${header.join(',')}"`,
    );
  }
  const rows: SeriesRow[] = [];
  for (let k = 1; k < lines.length; k++) {
    const line = lines[k]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const cells = splitLine(line);
    const text = cells[tcol] ?? '';
    const valueText = cells[vcol] ?? '';
    const ts = parseTimestamp(text);
    if (!Number.isFinite(ts)) {
      throw new SeriesCsvError('SERIES_ERR_TIMESTAMP', `${source}: line ${k + 1}: expected a timestamp such as 2024-01-31 08:00:00, got "${text}"`);
    }
    const value = valueText === '' ? Number.NaN : Number(valueText);
    rows.push({ text, ts, valueText, value });
  }
  return rows;
}

/** Formats a score with enough digits to keep the order of close scores. */
export function formatScore(score: number): string {
  return score === 0 ? '0' : score.toPrecision(8).replace(/\.?0+$/, '');
}
