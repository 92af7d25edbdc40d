/**
 * Counting semaphore that lets at most `limit` tasks run at once and starts
 * waiting tasks in the order they asked.
 */
export class ConcurrencyLimiter {
  readonly limit: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`invalid concurrency limit ${limit}: expected an integer of at least 1`);
    }
    this.limit = limit;
  }

  /** Tasks holding a slot. */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Resolves once a slot is free and takes it; the caller must `release` it. */
  acquire(): Promise<void> {
    if (this.#running < this.limit) {
      this.#running += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
    });
  }

  /** Frees a slot, handing it to the longest waiting task if there is one. */
  release(): void {
    const next = this.#waiting.shift();
    if (next) {
      // The slot passes straight to the next task, so `running` stays the same.
      next();
      return;
    }
    this.#running = Math.max(0, this.#running - 1);
  }
}
