import { median } from 'simple-statistics';
import { TailModel } from './tail.js';

/**
 * A streaming anomaly detector for one series. It learns the series' own
 * baseline as points arrive: a daily and a weekly profile (which carry shift
 * boundaries and weekdays), a local level, and the usual size of its
 * residuals. Each point is scored only from what came before it, so scores
 * never depend on later points.
 *
 * Six signals are checked on each point:
 * - spike: the residual against the best of the three baselines;
 * - short and long shift: a sustained residual of one sign against the
 *   seasonal profile or the slow level;
 * - drift: a CUSUM of the residuals against the slow level or a profile
 *   slot seen in earlier periods, which sums a steady departure that is
 *   still inside the band point by point;
 * - extreme: a value beyond the range the series has kept for a long time;
 * - flatline: the same value repeated much longer than the series ever did,
 *   which is how a stopped flow shows even when its value looks normal.
 * The first four are measured by how rare their value is in their own
 * history (see TailModel). An alarm is raised when a signal is rarer than
 * `alarmSurprise`. A value that these minutes held on earlier days raises
 * no spike or extreme alarm. In a series whose bursts come at the same time
 * of every shift, a value held on earlier shifts raises neither, nor a shift
 * alarm. After an alarm the detector stays quiet for `quietPoints`
 * unless a much rarer signal arrives, so one cause raises one alarm.
 */

export type AnomalyKind = 'spike' | 'level_shift' | 'drift' | 'extreme' | 'flatline';

export interface DetectorParams {
  /** Points seen before any alarm; scores are zero before then. */
  warmupPoints: number;
  /** Points after an alarm during which further alarms are held back. */
  quietPoints: number;
  /** Half-life, in points, of each signal's remembered tail. */
  tailHalfLife: number;
  /** Shortest run of equal values that counts as a flatline. */
  minFlatRun: number;
  /** Quantile above which a signal's values form its tail. */
  tailQuantile: number;
  /** -log10 of the tail probability at which a signal raises an alarm. */
  alarmSurprise: number;
  /** Share of the remembered range a value must exceed it by to raise an alarm. */
  extremeMargin: number;
  /** Usual residuals a value must exceed the remembered range by, when that is more than `extremeMargin` of the range. */
  extremeNoiseMargin: number;
  /** Smallest residual against the slow baseline, in usual residuals, for an extreme value to count. */
  extremeMinZ: number;
  /** Share of the range by which the remembered extremes move toward each other per point. */
  extremeRelax: number;
  /** Factor over the last alarm's surprise that raises a new alarm during the quiet time. */
  escalation: number;
  /** Weight of a new sustained residual in the long shift signal. */
  longShiftAlpha: number;
  /** Weight of a new point in the slow level. */
  slowLevelAlpha: number;
  /** Scale of scores while alarms are held back. */
  quietFactor: number;
  /** Weight of a new point in the daily and weekly profiles. */
  profileAlpha: number;
  /** Weight of a new point in the local level. */
  levelAlpha: number;
  /** Factor on the usual residual of the level and weekly baselines when they compete with the daily profile. */
  dailyPreference: number;
  /** Weight of a new residual in the usual residual size. */
  errorAlpha: number;
  /** Weight of a new residual in the sustained residual. */
  shiftAlpha: number;
  /** Usual residuals per point that the drift sum lets pass before it grows. */
  driftAllowance: number;
  /** -log10 of the tail probability at which the drift sum raises an alarm. */
  driftAlarmSurprise: number;
  /** Maximum slots of the daily profile (one per step up to this many). */
  maxDailySlots: number;
  /** Maximum slots of the weekly profile. */
  maxWeeklySlots: number;
  /** Work shifts per day. In a series with a burst every shift, a value that earlier shifts held at that time counts as recurring. */
  shiftsPerDay: number;
}

export const DEFAULT_DETECTOR_PARAMS: Readonly<DetectorParams> = Object.freeze({
  warmupPoints: 200,
  quietPoints: 150,
  tailHalfLife: 2000,
  minFlatRun: 12,
  tailQuantile: 0.98,
  alarmSurprise: 2.7,
  extremeMargin: 0.04,
  extremeNoiseMargin: 0.5,
  extremeRelax: 0.0001,
  extremeMinZ: 4,
  escalation: 2,
  longShiftAlpha: 0.02,
  slowLevelAlpha: 0.02,
  quietFactor: 0.5,
  profileAlpha: 0.25,
  levelAlpha: 0.3,
  dailyPreference: 1.2,
  errorAlpha: 0.01,
  shiftAlpha: 0.1,
  driftAllowance: 1,
  driftAlarmSurprise: 5,
  maxDailySlots: 1440,
  maxWeeklySlots: 336,
  shiftsPerDay: 3,
});

export interface PointScore {
  ts: number;
  value: number;
  /** Value the baseline expected at this time. */
  expected: number;
  /** Band inside which the value counts as normal. */
  lower: number;
  upper: number;
  /** 0 (normal) to just under 1; 0.5 and above is an alarm. */
  score: number;
  /** True on the point that raised an alarm. */
  alarm: boolean;
  /** Strongest signal on this point. */
  kind: AnomalyKind | 'normal' | 'warmup';
  /** Baseline that gave `expected`. */
  baseline: Baseline;
  explanation: string;
}

export type Baseline = 'level' | 'daily' | 'weekly';

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
/** Band half-width in usual residuals; close to 3 sigma for normal noise. */
const BAND_WIDTH = 3.75;
/** Share of the series' spread below which residuals count as zero. */
const SCALE_FLOOR = 0.02;
/** Largest residual, in usual residuals, that a signal records; keeps one wild point from swamping the tail. */
const MAX_Z = 50;
const MAX_SHIFT_Z = 20;
/** Share by which a slot's extremes from earlier periods move toward its mean each period. */
const ENVELOPE_FADE = 0.8;
/** Slots on each side whose earlier values a point is compared with, since a shift change moves by a few minutes. */
const ENVELOPE_REACH = 2;
/** Share of the envelope's width a value may exceed it by and still count as recurring. */
const ENVELOPE_MARGIN = 0.25;
/** Share of the envelope's width a value may exceed it by in a series with a burst every shift, because such bursts vary more. */
const SHIFT_ENVELOPE_MARGIN = 1;
/** Mean absolute deviations from the daily profile's mean beyond which a slot counts as a burst. */
const BURST_DEVIATIONS = 8;
/** Share of bursts that must recur at the same time of every shift before the envelope compares shifts. */
const SHIFT_RECURRENCE = 0.3;
/** Signals that a value recurring at this time of day cannot raise: the spike and the extreme (indexes into the signal list). */
const DAILY_RECURRING_SIGNALS: ReadonlySet<number> = new Set([0, 4]);
/** Signals that a value recurring at this time of every shift cannot raise: also the short and the long shift. */
const SHIFT_RECURRING_SIGNALS: ReadonlySet<number> = new Set([0, 1, 2, 4]);
/** Largest drift sum, in usual residuals, so a long shift does not swamp the drift signal's tail. */
const MAX_DRIFT_Z = 100;

class Profile {
  readonly mean: Float64Array;
  readonly count: Uint16Array;
  /** Periods in which each slot learned a point, and the last of them. */
  readonly periods: Uint16Array;
  readonly lastPeriod: Float64Array;
  /** Lowest and highest value of each slot in periods before its last one, and in its last one. */
  readonly earlierLow: Float64Array;
  readonly earlierHigh: Float64Array;
  readonly lastLow: Float64Array;
  readonly lastHigh: Float64Array;
  constructor(
    readonly period: number,
    readonly slots: number,
  ) {
    this.mean = new Float64Array(slots);
    this.count = new Uint16Array(slots);
    this.periods = new Uint16Array(slots);
    this.lastPeriod = new Float64Array(slots).fill(Number.NaN);
    this.earlierLow = new Float64Array(slots).fill(Number.POSITIVE_INFINITY);
    this.earlierHigh = new Float64Array(slots).fill(Number.NEGATIVE_INFINITY);
    this.lastLow = new Float64Array(slots).fill(Number.POSITIVE_INFINITY);
    this.lastHigh = new Float64Array(slots).fill(Number.NEGATIVE_INFINITY);
  }
  slot(ts: number): number {
    const phase = ((ts % this.period) + this.period) % this.period;
    // Multiplying first keeps whole-minute phases on exact slot boundaries.
    return Math.min(this.slots - 1, Math.floor((phase * this.slots) / this.period));
  }
  /**
   * Expected value at `ts`, or undefined when the slot has fewer than two
   * points. A slot wider than the step fills within one period, so early on
   * it acts as a local level of that stretch of time.
   */
  expect(ts: number): number | undefined {
    const s = this.slot(ts);
    return this.count[s]! >= 2 ? this.mean[s] : undefined;
  }
  /** True when the slot of `ts` learned points in at least two periods, so it expects this time of the period. */
  seasonal(ts: number): boolean {
    return this.periods[this.slot(ts)]! >= 2;
  }
  /**
   * Returns the lowest and highest values that the slots within `reach`
   * of `ts` held before `ts`, at the same time of each of `parts` equal
   * parts of the period (the shifts of a day). Returns undefined when fewer
   * than two such earlier occurrences are known. The slot of `ts` itself
   * counts only in periods before the one of `ts`.
   */
  envelope(ts: number, reach: number, parts: number): { low: number; high: number } | undefined {
    const period = Math.floor(ts / this.period);
    const own = this.slot(ts);
    const partSlots = this.slots / parts;
    let occurrences = 0;
    let low = Number.POSITIVE_INFINITY;
    let high = Number.NEGATIVE_INFINITY;
    for (let part = 0; part < parts; part++) {
      const at = (own + Math.round(part * partSlots)) % this.slots;
      // Other parts count every period they learned. The part of `ts` has not yet come in this period.
      let seen = this.periods[at]!;
      if (part === 0 && this.lastPeriod[own] === period) seen -= 1;
      occurrences += seen;
      if (seen === 0) continue;
      for (let k = -reach; k <= reach; k++) {
        const s = (at + k + this.slots) % this.slots;
        low = Math.min(low, this.earlierLow[s]!);
        high = Math.max(high, this.earlierHigh[s]!);
        // The own slot's current period may be the anomaly itself.
        if (part !== 0 || this.lastPeriod[s]! < period) {
          low = Math.min(low, this.lastLow[s]!);
          high = Math.max(high, this.lastHigh[s]!);
        }
      }
    }
    return occurrences >= 2 && low <= high ? { low, high } : undefined;
  }
  /**
   * Returns the share of burst slots whose burst recurs in every other of
   * `parts` equal parts of the period, within `reach` slots and at half
   * its size or more. A burst slot's mean is more than `BURST_DEVIATIONS`
   * mean absolute deviations from the profile's mean. The share is near 1
   * when bursts come at the same time of every shift, and 0 with fewer
   * bursts than parts.
   */
  partRecurrence(parts: number, reach: number): number {
    let n = 0;
    let sum = 0;
    for (let s = 0; s < this.slots; s++) {
      if (this.count[s] === 0) continue;
      n++;
      sum += this.mean[s]!;
    }
    if (n < this.slots / 2) return 0;

    const center = sum / n;
    let deviation = 0;
    for (let s = 0; s < this.slots; s++) {
      if (this.count[s]! > 0) deviation += Math.abs(this.mean[s]! - center);
    }
    deviation /= n;
    if (!(deviation > 0)) return 0;

    const partSlots = this.slots / parts;
    const burst = BURST_DEVIATIONS * deviation;
    let bursts = 0;
    let recurring = 0;
    for (let s = 0; s < this.slots; s++) {
      if (this.count[s] === 0) continue;
      const d = this.mean[s]! - center;
      if (Math.abs(d) <= burst) continue;
      bursts++;
      let all = true;
      for (let part = 1; part < parts && all; part++) {
        const at = s + Math.round(part * partSlots);
        let found = false;
        for (let k = -reach; k <= reach && !found; k++) {
          const t = (at + k + this.slots) % this.slots;
          found = this.count[t]! > 0 && (this.mean[t]! - center) * Math.sign(d) > burst / 2;
        }
        all = found;
      }
      if (all) recurring++;
    }
    return bursts >= parts ? recurring / bursts : 0;
  }
  learn(ts: number, value: number, alpha: number): void {
    const s = this.slot(ts);
    const c = this.count[s]!;
    this.mean[s] = c === 0 ? value : this.mean[s]! + Math.max(alpha, 1 / (c + 1)) * (value - this.mean[s]!);
    if (c < 65_535) this.count[s] = c + 1;
    const period = Math.floor(ts / this.period);
    if (period !== this.lastPeriod[s]) {
      if (Number.isFinite(this.lastPeriod[s])) {
        // Earlier extremes fade toward the slot's mean, so a burst that stopped recurring is forgotten.
        const m = this.mean[s]!;
        const low = Math.min(this.lastLow[s]!, m + ENVELOPE_FADE * (this.earlierLow[s]! - m));
        const high = Math.max(this.lastHigh[s]!, m + ENVELOPE_FADE * (this.earlierHigh[s]! - m));
        this.earlierLow[s] = low;
        this.earlierHigh[s] = high;
      }
      this.lastLow[s] = value;
      this.lastHigh[s] = value;
      this.lastPeriod[s] = period;
      if (this.periods[s]! < 65_535) this.periods[s] = this.periods[s]! + 1;
    } else {
      this.lastLow[s] = Math.min(this.lastLow[s]!, value);
      this.lastHigh[s] = Math.max(this.lastHigh[s]!, value);
    }
  }
}

export class SeriesDetector {
  readonly params: DetectorParams;
  private n = 0;
  private lastTs = Number.NaN;
  private lastValue = Number.NaN;
  private readonly diffs: number[] = [];
  private step = 0;
  private daily: Profile | undefined;
  private weekly: Profile | undefined;
  private level = Number.NaN;
  private slowLevel = Number.NaN;
  /** Long-run mean and mean absolute deviation of the values. */
  private mean = 0;
  private spread = 0;
  /** Usual absolute residual of each baseline. */
  private readonly err: Record<Baseline, number> = { level: Number.NaN, daily: Number.NaN, weekly: Number.NaN };
  /** Residuals behind each usual residual, which average evenly until there are 1 / errorAlpha of them. */
  private readonly errCount: Record<Baseline, number> = { level: 0, daily: 0, weekly: 0 };
  private slowErr = Number.NaN;
  private slowErrCount = 0;
  private shortShift = 0;
  private longShift = 0;
  /** Upward and downward drift sums in usual residuals, and the points since each was last zero. */
  private driftUp = 0;
  private driftDown = 0;
  private driftUpRun = 0;
  private driftDownRun = 0;
  private flatRun = 0;
  private maxFlatRun = 0;
  private flatAlarmed = false;
  private changes = 0;
  private readonly tails: TailModel[];
  /** Smallest and largest values seen, relaxing slowly toward the mean. */
  private lo = Number.NaN;
  private hi = Number.NaN;
  private lastAlarmSurprise = 0;
  /** Number of parts of the day the envelope compares: the shifts once bursts recur in each of them, else 1. */
  private shiftParts = 1;
  private quiet = 0;

  constructor(params: Partial<DetectorParams> = {}) {
    this.params = { ...DEFAULT_DETECTOR_PARAMS, ...params };
    this.tails = [0, 1, 2, 3].map((k) => new TailModel(this.params.tailQuantile, this.params.tailHalfLife, undefined, k === 3));
  }

  get points(): number {
    return this.n;
  }

  /** Usual time between points in milliseconds, 0 until known. */
  get stepMs(): number {
    return this.step;
  }

  update(ts: number, value: number): PointScore {
    const p = this.params;
    if (!Number.isFinite(value)) value = Number.isFinite(this.lastValue) ? this.lastValue : 0;
    this.learnStep(ts);

    // Baselines as they stood before this point.
    const candidates: Array<[Baseline, number]> = [];
    if (Number.isFinite(this.level)) candidates.push(['level', this.level]);
    const d = this.daily?.expect(ts);
    if (d !== undefined) candidates.push(['daily', d]);
    const w = this.weekly?.expect(ts);
    if (w !== undefined) candidates.push(['weekly', w]);
    let baseline: Baseline = 'level';
    let expected = Number.isFinite(this.level) ? this.level : value;
    let bestErr = Number.POSITIVE_INFINITY;
    let bestRank = Number.POSITIVE_INFINITY;
    // The slow baseline: seasonal profiles or the slow level, for sustained shifts.
    let slowExpected = Number.isFinite(this.slowLevel) ? this.slowLevel : value;
    let slowBaseline: Baseline | 'slow level' = 'slow level';
    let slowBest = Number.isFinite(this.slowErr) ? this.slowErr : Number.POSITIVE_INFINITY;
    let slowRank = slowBest * p.dailyPreference;
    // The drift baseline: the slow level, or a profile whose slot has seen this time in earlier periods.
    // A slot seen in one period only acts as a local level of that stretch, which would follow a drift.
    let driftExpected = slowExpected;
    let driftBaseline: Baseline | 'slow level' = 'slow level';
    let driftBest = slowBest;
    let driftRank = slowRank;
    for (const [name, guess] of candidates) {
      const e = this.err[name];
      // A seasonal baseline competes once its usual residual rests on 1 / errorAlpha residuals, because a few lucky
      // residuals would make it look precise and narrow the band far below the series' noise.
      if (!Number.isFinite(e) || (name !== 'level' && this.errCount[name] < 1 / p.errorAlpha)) continue;
      // The daily profile wins near-ties, because only it expects bursts that recur at one time of day.
      const rank = name === 'daily' ? e : e * p.dailyPreference;
      if (rank < bestRank) {
        bestRank = rank;
        bestErr = e;
        baseline = name;
        expected = guess;
      }
      if (name !== 'level' && rank < slowRank) {
        slowRank = rank;
        slowBest = e;
        slowExpected = guess;
        slowBaseline = name;
      }
      const seasonal = name === 'daily' ? this.daily!.seasonal(ts) : name === 'weekly' && this.weekly!.seasonal(ts);
      if (seasonal && rank < driftRank) {
        driftRank = rank;
        driftBest = e;
        driftExpected = guess;
        driftBaseline = name;
      }
    }
    const floor = SCALE_FLOOR * this.spread + 1e-9 * Math.abs(this.mean) + 1e-12;
    if (!Number.isFinite(bestErr)) bestErr = this.spread;
    if (!Number.isFinite(slowBest)) slowBest = this.spread;
    if (!Number.isFinite(driftBest)) driftBest = this.spread;
    const scale = Math.max(bestErr, floor);
    const slowScale = Math.max(slowBest, floor);
    const residual = value - expected;
    const z = Math.min(Math.abs(residual) / scale, MAX_Z);
    const slowZ = Math.max(-MAX_SHIFT_Z, Math.min(MAX_SHIFT_Z, (value - slowExpected) / slowScale));
    const shortNext = this.shortShift + p.shiftAlpha * (slowZ - this.shortShift);
    const longNext = this.longShift + p.longShiftAlpha * (slowZ - this.longShift);
    const flatNext = this.n > 0 && value === this.lastValue ? this.flatRun + 1 : 0;
    // One-sided CUSUMs of the residual in usual residuals, less the allowance per point.
    const driftZ = Math.max(-MAX_SHIFT_Z, Math.min(MAX_SHIFT_Z, (value - driftExpected) / Math.max(driftBest, floor)));
    const upNext = Math.min(MAX_DRIFT_Z, Math.max(0, this.driftUp + driftZ - p.driftAllowance));
    const downNext = Math.min(MAX_DRIFT_Z, Math.max(0, this.driftDown - driftZ - p.driftAllowance));
    const drift = Math.max(upNext, downNext);

    // Each signal against its own history: -log10 of how rare its value is.
    const values = [z, Math.abs(shortNext), Math.abs(longNext), drift];
    // A series that never moved has no flow to stop.
    const flatRatio = this.changes >= p.minFlatRun ? flatNext / Math.max(2 * this.maxFlatRun, p.minFlatRun) : 0;
    const signals: Array<[PointScore['kind'], number]> = [
      ['spike', this.tails[0]!.surprise(z)],
      ['level_shift', this.tails[1]!.surprise(values[1]!)],
      ['level_shift', this.tails[2]!.surprise(values[2]!)],
      // Scaled so that a tail surprise of `driftAlarmSurprise` reaches `alarmSurprise`.
      ['drift', (this.tails[3]!.surprise(drift) * p.alarmSurprise) / p.driftAlarmSurprise],
      // Beyond the kept range and away from the seasonal or slow baseline.
      ['extreme', Math.abs(slowZ) >= p.extremeMinZ ? this.extremeSurprise(value, slowScale) : 0],
      // A run raises at most one alarm, however long it lasts.
      ['flatline', flatRatio >= 1 && !this.flatAlarmed ? p.alarmSurprise * Math.min(flatRatio, 1.5) : Math.min(flatRatio, 1) * p.alarmSurprise * 0.9],
    ];
    // A value inside what these minutes held on earlier days recurs and raises no spike or extreme alarm. With a burst
    // every shift, the envelope spans earlier shifts too and a recurring value raises no shift alarm either.
    // NOTE: a weekly profile seen in one week can still raise a level_shift after it.
    // Whether bursts come every shift is checked once a shift, from the daily profile.
    if (this.daily && this.n % Math.max(1, Math.round(this.daily.slots / p.shiftsPerDay)) === 0) {
      const follows = p.shiftsPerDay > 1 && this.daily.partRecurrence(p.shiftsPerDay, ENVELOPE_REACH) >= SHIFT_RECURRENCE;
      this.shiftParts = follows ? p.shiftsPerDay : 1;
    }
    const envelope = this.daily?.envelope(ts, ENVELOPE_REACH, this.shiftParts);
    const margin = this.shiftParts > 1 ? SHIFT_ENVELOPE_MARGIN : ENVELOPE_MARGIN;
    const slack = envelope ? margin * (envelope.high - envelope.low) : 0;
    const recurring = envelope !== undefined && value >= envelope.low - slack && value <= envelope.high + slack;
    const quieted = this.shiftParts > 1 ? SHIFT_RECURRING_SIGNALS : DAILY_RECURRING_SIGNALS;
    let kind: PointScore['kind'] = 'normal';
    let surprise = 0;
    for (const [index, [k, r]] of signals.entries()) {
      if (recurring && quieted.has(index)) continue;
      if (r > surprise) {
        surprise = r;
        kind = k;
      }
    }
    if (surprise < p.alarmSurprise) kind = 'normal';
    const ratio = surprise / p.alarmSurprise;
    let score = ratio / (1 + ratio);
    let alarm = false;
    if (this.n < p.warmupPoints) {
      score = 0;
      kind = 'warmup';
    } else if (this.quiet > 0 && !(ratio >= 1 && surprise >= p.escalation * this.lastAlarmSurprise)) {
      score = Math.min(score, 0.49) * p.quietFactor;
      this.quiet--;
    } else if (ratio >= 1) {
      alarm = true;
      this.quiet = p.quietPoints;
      this.lastAlarmSurprise = surprise;
    }

    const band = BAND_WIDTH * scale;
    const result: PointScore = {
      ts,
      value,
      expected,
      lower: expected - band,
      upper: expected + band,
      score,
      alarm,
      kind,
      baseline,
      explanation: '',
    };
    result.explanation = explain(result, {
      z,
      slowBaseline,
      slowExpected,
      driftBaseline,
      driftExpected,
      shift: Math.max(Math.abs(shortNext), Math.abs(longNext)),
      drift: upNext >= downNext ? upNext : -downNext,
      driftRun: (upNext >= downNext ? this.driftUpRun : this.driftDownRun) + 1,
      driftAllowance: p.driftAllowance,
      flatRun: flatNext,
      maxFlatRun: this.maxFlatRun,
      lo: this.lo,
      hi: this.hi,
    });

    // Learn from this point.
    // The drift sum starts after the warm-up, because residuals against baselines that are still forming would fill its tail.
    const warm = this.n >= p.warmupPoints;
    for (const [k, tail] of this.tails.entries()) if (k < 3 || warm) tail.learn(values[k]!);
    if (Number.isFinite(this.lo)) {
      const r = p.extremeRelax * (this.hi - this.lo);
      this.lo = Math.min(value, this.lo + r);
      this.hi = Math.max(value, this.hi - r);
    } else {
      this.lo = value;
      this.hi = value;
    }
    this.shortShift = shortNext;
    this.longShift = longNext;
    this.driftUp = warm ? upNext : 0;
    this.driftDown = warm ? downNext : 0;
    this.driftUpRun = this.driftUp > 0 ? this.driftUpRun + 1 : 0;
    this.driftDownRun = this.driftDown > 0 ? this.driftDownRun + 1 : 0;
    if (flatNext === 0) {
      if (this.n > 0) this.changes++;
      this.maxFlatRun = Math.max(this.maxFlatRun, this.flatRun);
      this.flatAlarmed = false;
    } else if (alarm && kind === 'flatline') {
      this.flatAlarmed = true;
    }
    this.flatRun = flatNext;
    for (const [name, guess] of candidates) {
      this.err[name] = learnError(this.err[name], Math.abs(value - guess), this.errCount[name]++, p.errorAlpha, floor);
    }
    if (Number.isFinite(this.slowLevel)) {
      this.slowErr = learnError(this.slowErr, Math.abs(value - this.slowLevel), this.slowErrCount++, p.errorAlpha, floor);
    }
    this.level = Number.isFinite(this.level) ? this.level + p.levelAlpha * (value - this.level) : value;
    this.slowLevel = Number.isFinite(this.slowLevel) ? this.slowLevel + p.slowLevelAlpha * (value - this.slowLevel) : value;
    this.n++;
    const a = Math.max(1 / this.n, 0.001);
    this.mean += a * (value - this.mean);
    this.spread += a * (Math.abs(value - this.mean) - this.spread);
    this.daily?.learn(ts, value, p.profileAlpha);
    this.weekly?.learn(ts, value, p.profileAlpha);
    this.lastTs = ts;
    this.lastValue = value;
    return result;
  }

  /** Surprise of a value beyond the remembered range, in margins: `extremeMargin` of the range or `extremeNoiseMargin` usual residuals, whichever is wider. */
  private extremeSurprise(value: number, noise: number): number {
    const p = this.params;
    const range = this.hi - this.lo;
    if (!(range > 0) || this.n < p.warmupPoints) return 0;
    const beyond = Math.max(value - this.hi, this.lo - value);
    const margin = Math.max(p.extremeMargin * range, p.extremeNoiseMargin * noise);
    return beyond > 0 ? (p.alarmSurprise * beyond) / margin : 0;
  }

  private learnStep(ts: number): void {
    if (this.step > 0 || !Number.isFinite(this.lastTs)) return;
    const diff = ts - this.lastTs;
    if (diff > 0) this.diffs.push(diff);
    if (this.diffs.length < 16) return;
    this.step = median(this.diffs);
    this.diffs.length = 0;
    const p = this.params;
    if (this.step <= DAY_MS / 4) {
      this.daily = new Profile(DAY_MS, Math.max(1, Math.min(p.maxDailySlots, Math.round(DAY_MS / this.step))));
      this.weekly = new Profile(WEEK_MS, Math.max(1, Math.min(p.maxWeeklySlots, Math.round(WEEK_MS / this.step))));
    } else if (this.step <= WEEK_MS / 4) {
      this.weekly = new Profile(WEEK_MS, Math.max(1, Math.min(p.maxWeeklySlots, Math.round(WEEK_MS / this.step))));
    }
  }
}

/**
 * Returns the usual absolute residual after one more residual `e`. The
 * first 1 / alpha residuals are averaged evenly, so a lucky first residual
 * does not make a new baseline look precise. Residuals above five times the
 * usual one are clipped, so one wild point does not widen the band for long.
 */
function learnError(prev: number, e: number, count: number, alpha: number, floor: number): number {
  if (!Number.isFinite(prev)) return e;
  return prev + Math.max(alpha, 1 / (count + 1)) * (Math.min(e, 5 * prev + floor) - prev);
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 0.01 || a >= 1e6)) return x.toExponential(2);
  return String(Math.round(x * 100) / 100);
}

interface ExplainFacts {
  z: number;
  slowBaseline: Baseline | 'slow level';
  slowExpected: number;
  driftBaseline: Baseline | 'slow level';
  driftExpected: number;
  shift: number;
  /** Signed drift sum: positive above the drift baseline. */
  drift: number;
  driftRun: number;
  driftAllowance: number;
  flatRun: number;
  maxFlatRun: number;
  lo: number;
  hi: number;
}

function slowName(baseline: Baseline | 'slow level'): string {
  return baseline === 'slow level' ? 'slow level' : `${baseline} baseline`;
}

function explain(s: PointScore, f: ExplainFacts): string {
  const base = `${s.baseline} baseline`;
  switch (s.kind) {
    case 'warmup':
      return `learning the baseline; value ${fmt(s.value)}`;
    case 'flatline':
      return `value ${fmt(s.value)} repeated ${f.flatRun + 1} times in a row; the longest earlier run was ${f.maxFlatRun + 1}`;
    case 'level_shift':
      return `value ${fmt(s.value)} has stayed ${s.value >= f.slowExpected ? 'above' : 'below'} the ${slowName(f.slowBaseline)} ${fmt(f.slowExpected)} for several points (${fmt(f.shift)} usual residuals on average)`;
    case 'drift':
      return `value ${fmt(s.value)} against the ${slowName(f.driftBaseline)} ${fmt(f.driftExpected)}: the last ${f.driftRun} points ran ${f.drift >= 0 ? 'above' : 'below'} it by ${fmt(Math.abs(f.drift))} usual residuals in sum beyond ${fmt(f.driftAllowance)} per point (band ${fmt(s.lower)}..${fmt(s.upper)} around the ${base} ${fmt(s.expected)})`;
    case 'extreme':
      return `value ${fmt(s.value)} is ${s.value > f.hi ? 'above' : 'below'} the range ${fmt(f.lo)}..${fmt(f.hi)} the series has kept so far`;
    case 'spike':
      return `value ${fmt(s.value)} is outside ${fmt(s.lower)}..${fmt(s.upper)} around the ${base} ${fmt(s.expected)} (${fmt(f.z)} usual residuals)`;
    case 'normal':
      return `value ${fmt(s.value)}, expected ${fmt(s.expected)} from the ${base} (band ${fmt(s.lower)}..${fmt(s.upper)}); no signal is rare enough to alarm`;
  }
}
