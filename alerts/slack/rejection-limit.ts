/** Rejected requests one remote address may send per window before it gets 429. */
export const DEFAULT_MAX_REJECTIONS_PER_WINDOW = 30;
/** Length of a rate-limit window, in milliseconds. */
export const DEFAULT_REJECTION_WINDOW_MS = 60_000;
/** Addresses tracked at once; past this, the oldest windows are dropped first. */
const MAX_TRACKED_ADDRESSES = 10_000;

interface AddressWindow {
  endsAtMs: number;
  rejections: number;
}

/**
 * Limits requests from an address that keeps sending rejected ones. Only
 * rejections count, so Slack's own requests, which pass the checks, are not
 * limited unless a sender behind the same address (such as a shared proxy)
 * is rejected too often. Windows are fixed and start at the first rejection.
 */
export class RejectionLimiter {
  readonly #maxRejections: number;
  readonly #windowMs: number;
  readonly #windows = new Map<string, AddressWindow>();

  constructor(maxRejections = DEFAULT_MAX_REJECTIONS_PER_WINDOW, windowMs = DEFAULT_REJECTION_WINDOW_MS) {
    this.#maxRejections = maxRejections;
    this.#windowMs = windowMs;
  }

  /** Returns the seconds until the address may send again, or undefined when it may send now. */
  retryAfterSeconds(address: string, nowMs: number): number | undefined {
    const window = this.#windows.get(address);
    if (!window) return undefined;
    if (nowMs >= window.endsAtMs) {
      this.#windows.delete(address);
      return undefined;
    }
    if (window.rejections < this.#maxRejections) return undefined;
    return Math.max(1, Math.ceil((window.endsAtMs - nowMs) / 1000));
  }

  recordRejection(address: string, nowMs: number): void {
    const window = this.#windows.get(address);
    if (window && nowMs < window.endsAtMs) {
      window.rejections += 1;
      return;
    }
    this.#windows.delete(address);
    // Maps iterate in insertion order, so the first entries are the oldest windows.
    for (const key of this.#windows.keys()) {
      if (this.#windows.size < MAX_TRACKED_ADDRESSES) break;
      this.#windows.delete(key);
    }
    this.#windows.set(address, { endsAtMs: nowMs + this.#windowMs, rejections: 1 });
  }
}
