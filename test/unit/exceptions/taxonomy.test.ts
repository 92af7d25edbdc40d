import { describe, expect, it } from 'vitest';
import {
  allowedRemediationsFor,
  clampRetryable,
  EXCEPTION_CATEGORIES,
  RECOMMENDED_ACTIONS,
  recommendedActionFor,
  REMEDIATION_KINDS,
  RETRYABLE_CATEGORIES,
  type ExceptionCategory,
} from '../../../analyzer/exceptions/taxonomy.js';

const NON_RETRYABLE = EXCEPTION_CATEGORIES.filter((category) => !RETRYABLE_CATEGORIES.has(category));

describe('allowedRemediationsFor', () => {
  it.each(EXCEPTION_CATEGORIES)('allows only known kinds for %s', (category) => {
    for (const retryable of [true, false]) {
      for (const kind of allowedRemediationsFor(category, retryable)) expect(REMEDIATION_KINDS).toContain(kind);
    }
  });

  it.each(NON_RETRYABLE)('allows no retry for %s even when marked retryable', (category) => {
    const allowed = allowedRemediationsFor(category, true);
    expect(allowed).not.toContain('retry_now');
    expect(allowed).not.toContain('requeue_failed_jobs');
    expect(allowed).not.toContain('replay_dead_letters');
  });

  it.each(EXCEPTION_CATEGORIES)('allows only holding or skipping for non-retryable %s', (category) => {
    const expected = category === 'duplicate' ? ['skip_duplicates', 'hold_channel'] : ['hold_channel'];
    expect(allowedRemediationsFor(category, false)).toEqual(expected);
  });

  it('allows immediate retry of a dropped connection', () => {
    expect(allowedRemediationsFor('transient_network', true)).toContain('retry_now');
  });

  it('allows only delayed retry when rate limited', () => {
    const allowed = allowedRemediationsFor('rate_limited', true);
    expect(allowed).not.toContain('retry_now');
    expect(allowed).toContain('retry_after_delay');
  });

  it('holds a value outside the taxonomy', () => {
    expect(allowedRemediationsFor('approve_everything' as ExceptionCategory, true)).toEqual(['hold_channel']);
  });
});

describe('recommendedActionFor', () => {
  it.each(EXCEPTION_CATEGORIES)('returns a listed action for %s', (category) => {
    expect(RECOMMENDED_ACTIONS).toContain(recommendedActionFor(category, true));
    expect(RECOMMENDED_ACTIONS).toContain(recommendedActionFor(category, false));
  });

  it('retries retryable network faults with backoff', () => {
    expect(recommendedActionFor('transient_network', true)).toBe('retry_with_backoff');
  });

  it('holds non-retryable timeouts', () => {
    expect(recommendedActionFor('timeout', false)).toBe('hold_for_human');
  });

  it('ignores retryable on a code defect', () => {
    expect(recommendedActionFor('code_defect', true)).toBe('hold_for_human');
  });
});

describe('clampRetryable', () => {
  it('keeps retryable for retryable categories', () => {
    expect(clampRetryable('timeout', true)).toBe(true);
  });

  it('drops retryable for other categories', () => {
    expect(clampRetryable('validation_error', true)).toBe(false);
  });
});
