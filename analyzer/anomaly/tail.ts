/**
 * How rare a value of one signal is, from the signal's own history: a
 * streaming peaks-over-threshold model. A running high quantile `t` splits
 * off the tail. The forgetting mean and variance of the excesses over `t`
 * fit a generalised Pareto tail by the method of moments.
 * `surprise(x)` is -log10 of the estimated probability of a value at least
 * as large as `x`.
 */
export class TailModel {
  /** Running estimate of the `quantile` of the signal. */
  private t = Number.NaN;
  private n = 0;
  private exN = 0;
  private exMean = 0;
  private exM2 = 0;
  private readonly keep: number;

  constructor(
    private readonly quantile: number,
    /** Points after which old history counts half. */
    halfLife: number,
    /** Step of the quantile tracker, as a share of the current excess mean. */
    private readonly rate = 0.05,
    /**
     * Fit an exponential tail (shape 0) from the excess mean alone. That is the
     * tail of a CUSUM of light-tailed residuals, and one mean is steadier than
     * a shape estimated from a few dozen excesses.
     */
    private readonly exponential = false,
  ) {
    this.keep = Math.pow(0.5, 1 / halfLife);
  }

  get observations(): number {
    return this.n;
  }

  /** -log10 of the tail probability of `x`; 0 while the history is short. */
  surprise(x: number): number {
    if (this.exN < 3 || !Number.isFinite(this.t)) return 0;
    const tailShare = Math.max(1 - this.quantile, 1e-9);
    if (x <= this.t) return -Math.log10(Math.min(1, tailShare + (1 - tailShare) * 0.5));
    const m = this.exMean;
    if (this.exponential) {
      const tail = Math.log(tailShare) - (x - this.t) / Math.max(m, 1e-12);
      return -tail / Math.LN10;
    }
    const v = Math.max(this.exM2 / this.exN, 1e-12 * m * m + 1e-300);
    const r = (m * m) / v;
    const xi = Math.max(-0.5, Math.min(0.5, 0.5 * (1 - r)));
    const sigma = Math.max(0.5 * m * (r + 1), 1e-12);
    const y = x - this.t;
    let logTail: number;
    if (Math.abs(xi) < 1e-6) {
      logTail = -y / sigma;
    } else {
      const base = 1 + (xi * y) / sigma;
      logTail = base <= 0 ? -700 : (-1 / xi) * Math.log(base);
    }
    return -(Math.log(tailShare) + logTail) / Math.LN10;
  }

  learn(x: number): void {
    this.n++;
    if (!Number.isFinite(this.t)) {
      this.t = x;
      return;
    }
    const scale = this.exN > 0 ? Math.max(this.exMean, 1e-12) : Math.max(Math.abs(x - this.t), 1e-12);
    if (x > this.t) {
      const y = x - this.t;
      this.exN = this.exN * this.keep + 1;
      const d = y - this.exMean;
      this.exMean += d / this.exN;
      this.exM2 = this.exM2 * this.keep + d * (y - this.exMean);
      this.t += this.rate * scale * this.quantile;
    } else {
      this.t -= this.rate * scale * (1 - this.quantile);
    }
  }
}
