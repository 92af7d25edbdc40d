/**
 * Folds a stream of updates per key into at most one flush per interval.
 * The first update of a quiet key flushes at once. Later ones accumulate
 * until the interval since the previous flush has passed, and then go out
 * together. Flushes of one key never overlap.
 */
export interface CoalescerOptions<T, A> {
  intervalMs: number;
  /** Adds one update to the accumulated batch; `batch` is undefined for the first update after a flush. */
  merge(batch: A | undefined, update: T): A;
  /** Delivers a batch. It should handle its own errors; a rejection is passed to `onError`. */
  flush(key: string, batch: A): Promise<void>;
  onError(key: string, error: unknown): void;
  now?: () => number;
}

interface KeyState<A> {
  batch: A | undefined;
  lastFlushAt: number | undefined;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void>;
}

export class UpdateCoalescer<T, A> {
  readonly #options: CoalescerOptions<T, A>;
  readonly #keys = new Map<string, KeyState<A>>();
  readonly #now: () => number;
  #closed = false;

  constructor(options: CoalescerOptions<T, A>) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Adds an update. With `immediate`, the batch flushes now regardless of the
   * interval, which suits resolutions and actions that wait for a person.
   * Resolves once the update is flushed or scheduled.
   */
  offer(key: string, update: T, immediate = false): Promise<void> {
    const state = this.#state(key);
    state.batch = this.#options.merge(state.batch, update);
    if (this.#closed) return this.#flushNow(key, state);
    const due = state.lastFlushAt === undefined ? 0 : state.lastFlushAt + this.#options.intervalMs;
    if (immediate || due <= this.#now()) return this.#flushNow(key, state);
    if (state.timer === undefined) {
      state.timer = setTimeout(() => {
        state.timer = undefined;
        void this.#flushNow(key, state);
      }, due - this.#now());
      state.timer.unref();
    }
    return Promise.resolve();
  }

  /** Number of keys with a batch waiting for its interval. */
  get pendingKeys(): number {
    let count = 0;
    for (const state of this.#keys.values()) if (state.batch !== undefined) count += 1;
    return count;
  }

  /** Flushes every waiting batch now and stops scheduling; later offers flush at once. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#keys.entries()].map(([key, state]) => this.#flushNow(key, state)));
  }

  /** Starts the interval of `key` now, as if it had just flushed, such as after posting the message it updates. */
  markFlushed(key: string): void {
    this.#state(key).lastFlushAt = this.#now();
  }

  /** Drops what is waiting for `key`, such as when its thread ends. */
  forget(key: string): void {
    const state = this.#keys.get(key);
    if (state?.timer) clearTimeout(state.timer);
    this.#keys.delete(key);
  }

  #state(key: string): KeyState<A> {
    let state = this.#keys.get(key);
    if (!state) {
      state = { batch: undefined, lastFlushAt: undefined, timer: undefined, running: Promise.resolve() };
      this.#keys.set(key, state);
    }
    return state;
  }

  #flushNow(key: string, state: KeyState<A>): Promise<void> {
    if (state.timer !== undefined) {
      clearTimeout(state.timer);
      state.timer = undefined;
    }
    state.running = state.running.then(async () => {
      const batch = state.batch;
      if (batch === undefined) return;
      state.batch = undefined;
      state.lastFlushAt = this.#now();
      try {
        await this.#options.flush(key, batch);
      } catch (error) {
        this.#options.onError(key, error);
      }
    });
    return state.running;
  }
}
