import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SeriesDetector, type PointScore } from '../../../analyzer/anomaly/detector.js';
import { parseSeriesCsv } from '../../../analyzer/anomaly/series-csv.js';
import { runDetectCommand, scoreSeries } from '../../../cli/detect-command.js';
import { runEvalNab } from '../../../cli/eval-nab-command.js';

const STEP = 5 * 60_000;
const START = Date.UTC(2024, 0, 1);

/** Deterministic normal noise (mulberry32 and Box-Muller). */
function noise(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
}

interface Injected {
  spike: number;
  shiftStart: number;
  shiftEnd: number;
  flatStart: number;
  flatEnd: number;
}

/** Three weeks of five-minute points: daily cycle, shift-change step at 06:00 and 14:00, weekend dip. */
function syntheticSeries(inject: Injected | undefined): Array<[number, number]> {
  const rnd = noise(7);
  const out: Array<[number, number]> = [];
  let flatValue = 0;
  for (let i = 0; i < 6048; i++) {
    const ts = START + i * STEP;
    const hour = (ts % 86_400_000) / 3_600_000;
    const weekday = new Date(ts).getUTCDay();
    let v = 50 + 10 * Math.sin((2 * Math.PI * hour) / 24) + (hour >= 6 && hour < 14 ? 8 : 0) + (weekday === 0 || weekday === 6 ? -15 : 0);
    v += rnd();
    if (inject) {
      if (i === inject.spike) v += 12;
      if (i >= inject.shiftStart && i < inject.shiftEnd) v += 12;
      if (i === inject.flatStart) flatValue = v;
      if (i >= inject.flatStart && i < inject.flatEnd) v = flatValue;
    }
    out.push([ts, v]);
  }
  return out;
}

function run(points: Array<[number, number]>): PointScore[] {
  const d = new SeriesDetector();
  return points.map(([ts, v]) => d.update(ts, v));
}

describe('SeriesDetector', () => {
  const inject: Injected = { spike: 4500, shiftStart: 5000, shiftEnd: 5200, flatStart: 5600, flatEnd: 5700 };
  const series = syntheticSeries(inject);
  const scores = run(series);

  it('scores a prefix as the whole series does', () => {
    for (const k of [1, 17, 250, 2301, 4501, 5050, 6048]) {
      const prefix = run(series.slice(0, k));
      expect(prefix.map((s) => s.score)).toEqual(scores.slice(0, k).map((s) => s.score));
    }
    const rows = parseSeriesCsv(
      `timestamp,value\n${series.map(([ts, v]) => `${new Date(ts).toISOString()},${v}`).join('\n')}\n`,
      'synthetic',
    );
    const whole = scoreSeries(rows).split('\n');
    const part = scoreSeries(rows.slice(0, 1000)).split('\n');
    expect(part.slice(0, 1001)).toEqual(whole.slice(0, 1001));
  });

  it('alarms once per injected anomaly', () => {
    const alarmsAt = scores.flatMap((s, i) => (s.alarm ? [i] : []));
    const near = (at: number, within: number) => alarmsAt.filter((i) => i >= at && i <= at + within);
    expect(near(inject.spike, 0)).toEqual([inject.spike]);
    expect(near(inject.shiftStart, 5)).toHaveLength(1);
    expect(near(inject.flatStart, 40)).toHaveLength(1);
    expect(scores[inject.spike]!.kind).toBe('spike');

    // Weekends and the Monday mornings after them are new to the detector for two weeks.
    // From the third Monday's first shift on, the clean series raises nothing.
    const clean = run(syntheticSeries(undefined));
    expect(clean.slice(4200).filter((s) => s.alarm).map((s) => s.explanation)).toEqual([]);
    expect(alarmsAt.filter((i) => i >= 4200 && i < inject.spike)).toEqual([]);
  });

  it('explains every alarm with its expected value and band', () => {
    const spike = scores[inject.spike]!;
    expect(spike.lower).toBeLessThan(spike.expected);
    expect(spike.upper).toBeGreaterThan(spike.expected);
    expect(spike.value).toBeGreaterThan(spike.upper);
    expect(spike.baseline).not.toBe('level');
    expect(spike.explanation).toMatch(/^value [\d.]+ is outside [\d.]+\.\.[\d.]+ around the (daily|weekly) baseline [\d.]+/);
  });
});

describe('SeriesDetector on recurring bursts', () => {
  const MINUTE = 60_000;

  /** Four days of one-minute points of a quiet series, with a burst whose height varies at each shift change. */
  function burstSeries(extraBurstAt?: number): Array<[number, number]> {
    const rnd = noise(11);
    const out: Array<[number, number]> = [];
    for (let i = 0; i < 4 * 1440; i++) {
      const minuteOfShift = i % 480;
      const height = 12 + 6 * Math.abs(rnd());
      let v = 2 + 0.3 * rnd();
      if (minuteOfShift >= 360 && minuteOfShift < 364) v += height;
      if (extraBurstAt !== undefined && i >= extraBurstAt && i < extraBurstAt + 4) v += height;
      out.push([START + i * MINUTE, v]);
    }
    return out;
  }

  it('stays quiet on bursts seen on earlier days', () => {
    const scores = run(burstSeries());
    const inBursts = scores.slice(2 * 1440).filter((s) => (s.ts - START) % (480 * MINUTE) >= 360 * MINUTE && (s.ts - START) % (480 * MINUTE) < 364 * MINUTE);
    expect(inBursts).toHaveLength(2 * 3 * 4);
    expect(inBursts.filter((s) => s.alarm).map((s) => `${new Date(s.ts).toISOString()} ${s.explanation}`)).toEqual([]);
  });

  it('alarms on a burst at a new time', () => {
    const at = 3 * 1440 + 100;
    const scores = run(burstSeries(at));
    expect(scores.slice(at, at + 4).some((s) => s.alarm)).toBe(true);
  });

  /** Scores the last day's first burst of a series like `burstSeries`, with the burst height of each day and shift given. */
  function lastFirstBurst(height: (day: number, shift: number) => number): PointScore[] {
    const rnd = noise(13);
    const out: Array<[number, number]> = [];
    for (let i = 0; i < 4 * 1440; i++) {
      const minuteOfShift = i % 480;
      let v = 2 + 0.3 * rnd();
      if (minuteOfShift >= 360 && minuteOfShift < 364) v += height(Math.floor(i / 1440), Math.floor((i % 1440) / 480));
      out.push([START + i * MINUTE, v]);
    }
    const first = 3 * 1440 + 360;
    return run(out).slice(first, first + 4);
  }

  it('stays quiet on a burst like other shifts', () => {
    // The last day's first burst is more than twice as high as the same minutes on earlier days, and like the other shifts' bursts.
    const scores = lastFirstBurst((day, shift) => {
      if (shift !== 0) return 22;
      return day === 3 ? 24 : 10;
    });
    expect(scores.filter((s) => s.alarm).map((s) => s.explanation)).toEqual([]);
  });

  it('alarms on a burst beyond every shift', () => {
    const scores = lastFirstBurst((day, shift) => (shift === 0 && day === 3 ? 80 : 16));
    expect(scores.some((s) => s.alarm)).toBe(true);
  });
});

describe('detect and eval nab commands', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('writes NAB result rows', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'syncwatch-detect-'));
    dirs.push(dir);
    const series = syntheticSeries(undefined).slice(0, 600);
    const csv = `timestamp,value\r\n${series.map(([ts, v]) => `${new Date(ts).toISOString().replace('T', ' ').slice(0, 19)},${v}`).join('\r\n')}\r\n`;
    await writeFile(join(dir, 'series.csv'), csv);
    const result = await runDetectCommand({ input: join(dir, 'series.csv'), output: join(dir, 'scores.csv') });
    expect(result.rows).toBe(600);
    const out = (await readFile(join(dir, 'scores.csv'), 'utf8')).trim().split('\n');
    expect(out[0]).toBe('timestamp,value,anomaly_score');
    expect(out).toHaveLength(601);
    expect(out[1]!.split(',')).toHaveLength(3);

    await mkdir(join(dir, 'nab', 'data', 'plant'), { recursive: true });
    await writeFile(join(dir, 'nab', 'data', 'plant', 'line.csv'), csv);
    const lines: string[] = [];
    const summary = await runEvalNab({ data: join(dir, 'nab'), out: join(dir, 'results'), progress: (l) => lines.push(l) });
    expect(summary.files).toBe(1);
    expect(await readFile(join(dir, 'results', 'plant', 'line.csv'), 'utf8')).toBe(await readFile(join(dir, 'scores.csv'), 'utf8'));
    expect(lines.at(-1)).toMatch(/^scored 1 files, 600 rows/);
  });

  it('names the expected header when the columns are missing', () => {
    expect(() => parseSeriesCsv('time,val\n1,2\n', 'x.csv')).toThrow(/SERIES_ERR_HEADER: x.csv: expected a header with "timestamp" and "value"/);
  });
});
