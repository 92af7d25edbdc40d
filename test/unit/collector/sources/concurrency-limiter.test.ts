import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter } from '../../../../collector/sources/index.js';

describe('ConcurrencyLimiter', () => {
  it('starts waiting tasks in order', async () => {
    const limiter = new ConcurrencyLimiter(1);
    const started: string[] = [];
    await limiter.acquire();
    const second = limiter.acquire().then(() => started.push('second'));
    const third = limiter.acquire().then(() => started.push('third'));
    expect(limiter.waiting).toBe(2);

    limiter.release();
    await second;
    expect(started).toEqual(['second']);
    expect(limiter.running).toBe(1);

    limiter.release();
    await third;
    limiter.release();
    expect(started).toEqual(['second', 'third']);
    expect(limiter.running).toBe(0);
  });

  it('rejects a limit below one', () => {
    expect(() => new ConcurrencyLimiter(0)).toThrow('invalid concurrency limit 0: expected an integer of at least 1');
  });
});
