export { ExceptionClassifier, type ExceptionOccurrence, type PreparedException } from './classifier.js';
export { DEFAULT_EXCEPTIONS_CONFIG, exceptionsConfigSchema, toLlmSettings, type ExceptionsConfig, type LlmConfig } from './config.js';
export { CircuitBreaker, TokenBudget } from './guards.js';
export { DEFAULT_LLM_SETTINGS, LlmClassifier, readRetryAfterMs, type LlmResult, type LlmSettings } from './llm.js';
export { exceptionText, fingerprintOf, normalizeMessage } from './normalize.js';
export { createRedactor, type Redactor } from './redact.js';
export { classifyByRules, extractHttpStatus } from './rules.js';
export { createExceptionStage, type ExceptionStage } from './stage.js';
export { EXCEPTION_FINGERPRINTS_TABLE } from './store.js';
export {
  allowedRemediationsFor,
  EXCEPTION_CATEGORIES,
  isExceptionCategory,
  recommendedActionFor,
  REMEDIATION_KINDS,
  type ExceptionCategory,
  type ExceptionClassification,
  type RemediationKind,
} from './taxonomy.js';
