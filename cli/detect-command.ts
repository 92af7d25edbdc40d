import { readFile, writeFile } from 'node:fs/promises';
import { SeriesDetector, type DetectorParams } from '../analyzer/anomaly/detector.js';
import { formatScore, parseSeriesCsv, type SeriesRow } from '../analyzer/anomaly/series-csv.js';

/** Scores rows in order with a fresh detector; returns `timestamp,value,anomaly_score` CSV text. */
export function scoreSeries(rows: SeriesRow[], params?: Partial<DetectorParams>): string {
  const detector = new SeriesDetector(params);
  const out = ['timestamp,value,anomaly_score'];
  for (const row of rows) {
    const s = detector.update(row.ts, row.value);
    out.push(`${row.text},${row.valueText},${formatScore(s.score)}`);
  }
  return `${out.join('\n')}\n`;
}

export interface DetectOptions {
  input: string;
  output: string;
}

/** `syncwatch detect`: one series file in, the same rows with an anomaly score out. */
export async function runDetectCommand(opts: DetectOptions): Promise<{ rows: number; alarms: number }> {
  const rows = parseSeriesCsv(await readFile(opts.input, 'utf8'), opts.input);
  const text = scoreSeries(rows);
  await writeFile(opts.output, text);
  const alarms = text.split('\n').slice(1).filter((l) => l !== '' && Number(l.slice(l.lastIndexOf(',') + 1)) >= 0.5).length;
  return { rows: rows.length, alarms };
}
