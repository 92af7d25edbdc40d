import { describe, expect, it } from 'vitest';
import { CircuitBreaker, TokenBudget } from '../../../analyzer/exceptions/guards.js';

function manualClock(start = 0): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('TokenBudget', () => {
  it('allows spending up to the hourly maximum', () => {
    const budget = new TokenBudget(1000);
    budget.record(600);
    expect(budget.canSpend(400)).toBe(true);
    expect(budget.canSpend(401)).toBe(false);
  });

  it('frees tokens an hour after they were spent', () => {
    const clock = manualClock();
    const budget = new TokenBudget(1000, clock.now);
    budget.record(1000);
    clock.advance(3_599_999);
    expect(budget.canSpend(1)).toBe(false);
    clock.advance(1);
    expect(budget.canSpend(1000)).toBe(true);
    expect(budget.used()).toBe(0);
  });
});

describe('CircuitBreaker', () => {
  it('opens after the failure threshold', () => {
    const breaker = new CircuitBreaker(3, 1000);
    breaker.recordFailure();
    breaker.recordFailure();
    expect(breaker.state).toBe('closed');
    breaker.recordFailure();
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBe(false);
  });

  it('resets the count on success', () => {
    const breaker = new CircuitBreaker(2, 1000);
    breaker.recordFailure();
    breaker.recordSuccess();
    breaker.recordFailure();
    expect(breaker.state).toBe('closed');
  });

  it('lets one trial through after the cooldown', () => {
    const clock = manualClock();
    const breaker = new CircuitBreaker(1, 1000, clock.now);
    breaker.recordFailure();
    clock.advance(1000);
    expect(breaker.state).toBe('half_open');
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
  });

  it('closes after a successful trial', () => {
    const clock = manualClock();
    const breaker = new CircuitBreaker(1, 1000, clock.now);
    breaker.recordFailure();
    clock.advance(1000);
    breaker.tryAcquire();
    breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
  });

  it('opens again after a failed trial', () => {
    const clock = manualClock();
    const breaker = new CircuitBreaker(5, 1000, clock.now);
    for (let i = 0; i < 5; i += 1) breaker.recordFailure();
    clock.advance(1000);
    breaker.tryAcquire();
    breaker.recordFailure();
    expect(breaker.state).toBe('open');
  });
});
