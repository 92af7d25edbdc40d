import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DetectorParams } from '../analyzer/anomaly/detector.js';
import { parseSeriesCsv } from '../analyzer/anomaly/series-csv.js';
import { scoreSeries } from './detect-command.js';

export interface EvalNabOptions {
  /** NAB data folder: `<category>/<file>.csv` under it (or under its `data/`). */
  data: string;
  /** Results folder; gets `<category>/<file>.csv` for every data file. */
  out: string;
  /** Receives one line per file and a summary. */
  progress?: (line: string) => void;
  /** Detector parameters; the defaults are what the service runs. */
  params?: Partial<DetectorParams>;
}

export interface EvalNabSummary {
  files: number;
  rows: number;
  alarms: number;
  seconds: number;
}

export class EvalNabError extends Error {
  readonly code = 'EVAL_ERR_NO_DATA';
  constructor(message: string) {
    super(`EVAL_ERR_NO_DATA: ${message}`);
    this.name = 'EvalNabError';
  }
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

/** `syncwatch eval nab`: scores every data file as a stream from a fresh detector. */
export async function runEvalNab(opts: EvalNabOptions): Promise<EvalNabSummary> {
  const root = (await isDir(join(opts.data, 'data'))) ? join(opts.data, 'data') : opts.data;
  const files: string[] = [];
  for (const category of (await readdir(root)).sort()) {
    if (!(await isDir(join(root, category)))) continue;
    for (const name of (await readdir(join(root, category))).sort()) {
      if (name.endsWith('.csv')) files.push(`${category}/${name}`);
    }
  }
  if (files.length === 0) {
    throw new EvalNabError(`expected <category>/<file>.csv files under ${root}, found none`);
  }
  const started = performance.now();
  const summary: EvalNabSummary = { files: 0, rows: 0, alarms: 0, seconds: 0 };
  for (const [k, rel] of files.entries()) {
    const t0 = performance.now();
    const rows = parseSeriesCsv(await readFile(join(root, rel), 'utf8'), rel);
    const text = scoreSeries(rows, opts.params);
    const alarms = countAlarms(text);
    await mkdir(join(opts.out, rel.split('/')[0]!), { recursive: true });
    await writeFile(join(opts.out, rel), text);
    summary.files++;
    summary.rows += rows.length;
    summary.alarms += alarms;
    opts.progress?.(
      `[${k + 1}/${files.length}] ${rel}: ${rows.length} rows, ${alarms} alarms, ${Math.round(performance.now() - t0)} ms`,
    );
  }
  summary.seconds = (performance.now() - started) / 1000;
  opts.progress?.(
    `scored ${summary.files} files, ${summary.rows} rows, ${summary.alarms} alarms in ${summary.seconds.toFixed(1)} s; results in ${opts.out}`,
  );
  return summary;
}

function countAlarms(csv: string): number {
  let n = 0;
  for (const line of csv.split('\n').slice(1)) {
    if (line !== '' && Number(line.slice(line.lastIndexOf(',') + 1)) >= 0.5) n++;
  }
  return n;
}
