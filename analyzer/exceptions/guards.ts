/** Limits around the model calls: an hourly token budget and a circuit breaker. */

const HOUR_MS = 3_600_000;

export type Clock = () => number;

/**
 * Tokens spent in the last hour, in a sliding window. A call is allowed only
 * when its estimate still fits, so the budget is never exceeded by more than
 * the difference between one call's estimate and its actual usage.
 */
export class TokenBudget {
  private readonly spent: Array<{ at: number; tokens: number }> = [];

  constructor(
    readonly maxTokensPerHour: number,
    private readonly clock: Clock = Date.now,
  ) {}

  /** Tokens spent in the current window. */
  used(): number {
    this.dropExpired();
    return this.spent.reduce((sum, entry) => sum + entry.tokens, 0);
  }

  canSpend(estimate: number): boolean {
    return this.used() + estimate <= this.maxTokensPerHour;
  }

  record(tokens: number): void {
    if (tokens > 0) this.spent.push({ at: this.clock(), tokens });
  }

  private dropExpired(): void {
    const cutoff = this.clock() - HOUR_MS;
    while (this.spent.length > 0 && this.spent[0]!.at <= cutoff) this.spent.shift();
  }
}

export type BreakerState = 'closed' | 'open' | 'half_open';

/**
 * Opens after `failureThreshold` failed classifications in a row and then
 * rejects calls for `cooldownMs`. After the cooldown one trial call goes
 * through: success closes the breaker, failure opens it again.
 */
export class CircuitBreaker {
  private consecutiveFailures = 0;
  private openedAt: number | undefined;
  private trialInFlight = false;

  constructor(
    readonly failureThreshold: number,
    readonly cooldownMs: number,
    private readonly clock: Clock = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return this.clock() - this.openedAt >= this.cooldownMs ? 'half_open' : 'open';
  }

  /** Returns true when a call may go out now, and reserves the trial call of a half-open breaker. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  recordSuccess(): void {
    this.consecutiveFailures = 0;
    this.openedAt = undefined;
    this.trialInFlight = false;
  }

  recordFailure(): void {
    this.consecutiveFailures += 1;
    const wasTrial = this.trialInFlight;
    this.trialInFlight = false;
    if (wasTrial || this.consecutiveFailures >= this.failureThreshold) this.openedAt = this.clock();
  }
}
