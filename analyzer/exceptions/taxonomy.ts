/**
 * The fixed exception taxonomy, the first move recommended for each label and
 * the remediation kinds each label allows. Everything downstream of a
 * classification (alerts, remediation proposals) reads only `category` and
 * `retryable`, so no text inside an exception can widen what may be done.
 */

export const EXCEPTION_CATEGORIES = [
  'transient_network',
  'partner_unavailable',
  'rate_limited',
  'timeout',
  'auth_expired',
  'permission_denied',
  'concurrency_conflict',
  'resource_exhausted',
  'validation_error',
  'master_data_missing',
  'mapping_schema_error',
  'duplicate',
  'configuration_error',
  'business_rule_violation',
  'code_defect',
  'unknown',
] as const;
export type ExceptionCategory = (typeof EXCEPTION_CATEGORIES)[number];

const CATEGORY_SET: ReadonlySet<string> = new Set(EXCEPTION_CATEGORIES);

export function isExceptionCategory(value: unknown): value is ExceptionCategory {
  return typeof value === 'string' && CATEGORY_SET.has(value);
}

/**
 * Categories where an automatic retry can help. A classification in any other
 * category is never retryable, whatever a rule or the model returned.
 */
export const RETRYABLE_CATEGORIES: ReadonlySet<ExceptionCategory> = new Set<ExceptionCategory>([
  'transient_network',
  'partner_unavailable',
  'rate_limited',
  'timeout',
  'auth_expired',
  'concurrency_conflict',
  'resource_exhausted',
]);

/** Returns `retryable` with the category's limit applied: false outside `RETRYABLE_CATEGORIES`. */
export function clampRetryable(category: ExceptionCategory, retryable: boolean): boolean {
  return retryable && RETRYABLE_CATEGORIES.has(category);
}

export type ClassifiedBy = 'rules' | 'llm';

/** The label of one exception fingerprint. */
export interface ExceptionClassification {
  category: ExceptionCategory;
  retryable: boolean;
  /** Between 0 and 1. */
  confidence: number;
  classifiedBy: ClassifiedBy;
  /** Id of the deterministic rule that matched, when `classifiedBy` is `rules` and one did. */
  rule?: string;
  /** One short sentence; informative only, never read by any decision. */
  rationale: string;
}

/** The first move a person or the remediation layer should consider. */
export const RECOMMENDED_ACTIONS = [
  'retry_with_backoff',
  'retry_after_delay',
  'reroute',
  'hold_for_human',
  'skip_duplicate',
  'fix_data_then_retry',
  'fix_config_then_retry',
] as const;
export type RecommendedAction = (typeof RECOMMENDED_ACTIONS)[number];

/** Recommended first action of each category, for retryable and for non-retryable exceptions. */
const ACTION_TABLE: Record<ExceptionCategory, { retryable: RecommendedAction; notRetryable: RecommendedAction }> = {
  transient_network: { retryable: 'retry_with_backoff', notRetryable: 'hold_for_human' },
  partner_unavailable: { retryable: 'retry_with_backoff', notRetryable: 'hold_for_human' },
  rate_limited: { retryable: 'retry_after_delay', notRetryable: 'hold_for_human' },
  timeout: { retryable: 'retry_with_backoff', notRetryable: 'hold_for_human' },
  auth_expired: { retryable: 'retry_with_backoff', notRetryable: 'fix_config_then_retry' },
  permission_denied: { retryable: 'fix_config_then_retry', notRetryable: 'fix_config_then_retry' },
  concurrency_conflict: { retryable: 'retry_with_backoff', notRetryable: 'hold_for_human' },
  resource_exhausted: { retryable: 'retry_after_delay', notRetryable: 'hold_for_human' },
  validation_error: { retryable: 'fix_data_then_retry', notRetryable: 'fix_data_then_retry' },
  master_data_missing: { retryable: 'fix_data_then_retry', notRetryable: 'fix_data_then_retry' },
  mapping_schema_error: { retryable: 'fix_config_then_retry', notRetryable: 'fix_config_then_retry' },
  // A duplicate can be harmless or a sign that a record must be linked by hand, so a person decides.
  duplicate: { retryable: 'hold_for_human', notRetryable: 'hold_for_human' },
  configuration_error: { retryable: 'fix_config_then_retry', notRetryable: 'fix_config_then_retry' },
  business_rule_violation: { retryable: 'hold_for_human', notRetryable: 'hold_for_human' },
  code_defect: { retryable: 'hold_for_human', notRetryable: 'hold_for_human' },
  unknown: { retryable: 'hold_for_human', notRetryable: 'hold_for_human' },
};

/** Returns the recommended first action for a label. Pure: depends on nothing but its arguments. */
export function recommendedActionFor(category: ExceptionCategory, retryable: boolean): RecommendedAction {
  const row = ACTION_TABLE[category];
  return clampRetryable(category, retryable) ? row.retryable : row.notRetryable;
}

/** Action kinds the remediation layer can propose. */
export const REMEDIATION_KINDS = [
  'retry_now',
  'retry_after_delay',
  'requeue_failed_jobs',
  'replay_dead_letters',
  'republish_nats',
  'reroute',
  'hold_channel',
  'skip_duplicates',
] as const;
export type RemediationKind = (typeof REMEDIATION_KINDS)[number];

const RETRY_KINDS: readonly RemediationKind[] = ['retry_now', 'retry_after_delay', 'requeue_failed_jobs', 'replay_dead_letters', 'republish_nats'];
const DELAYED_RETRY_KINDS: readonly RemediationKind[] = ['retry_after_delay', 'requeue_failed_jobs', 'replay_dead_letters', 'republish_nats'];

/** Remediation kinds allowed for each retryable category. */
const RETRYABLE_REMEDIATIONS: Partial<Record<ExceptionCategory, readonly RemediationKind[]>> = {
  transient_network: [...RETRY_KINDS, 'reroute', 'hold_channel'],
  partner_unavailable: [...DELAYED_RETRY_KINDS, 'reroute', 'hold_channel'],
  timeout: [...DELAYED_RETRY_KINDS, 'hold_channel'],
  rate_limited: [...DELAYED_RETRY_KINDS, 'hold_channel'],
  concurrency_conflict: [...RETRY_KINDS, 'hold_channel'],
  resource_exhausted: [...DELAYED_RETRY_KINDS, 'reroute', 'hold_channel'],
  auth_expired: ['retry_after_delay', 'hold_channel'],
};

/**
 * Returns the remediation kinds the remediation layer may propose for a label.
 * Pure and total: it reads only the two arguments, so exception text, model
 * output or rationale cannot add an action. A non-retryable label allows only
 * holding the channel, plus skipping for duplicates.
 */
export function allowedRemediationsFor(category: ExceptionCategory, retryable: boolean): readonly RemediationKind[] {
  if (!isExceptionCategory(category)) return ['hold_channel'];
  if (clampRetryable(category, retryable)) return RETRYABLE_REMEDIATIONS[category] ?? ['hold_channel'];
  if (category === 'duplicate') return ['skip_duplicates', 'hold_channel'];
  return ['hold_channel'];
}
