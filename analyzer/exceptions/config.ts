import { z } from 'zod';
import { durationSchema } from '../../config/duration.js';
import { DEFAULT_LLM_SETTINGS, type LlmSettings } from './llm.js';

/**
 * An OpenAI-compatible endpoint for labelling exceptions that no rule
 * matches. Without this section the analyzer labels by rules only.
 */
const llmConfigSchema = z.strictObject({
  /** Base URL up to the version, such as `http://127.0.0.1:8000/v1`. */
  baseUrl: z.url(),
  model: z.string().min(1),
  /** Put `${VAR}` here rather than the key itself. */
  apiKey: z.string().min(1).optional(),
  timeout: durationSchema.default(DEFAULT_LLM_SETTINGS.timeoutMs),
  maxTokensPerHour: z.number().int().positive().default(DEFAULT_LLM_SETTINGS.maxTokensPerHour),
  maxRetries: z.number().int().min(0).max(5).default(DEFAULT_LLM_SETTINGS.maxRetries),
  backoff: durationSchema.default(DEFAULT_LLM_SETTINGS.backoffMs),
  maxRetryAfter: durationSchema.default(DEFAULT_LLM_SETTINGS.maxRetryAfterMs),
  maxInputChars: z.number().int().min(200).max(20_000).default(DEFAULT_LLM_SETTINGS.maxInputChars),
  maxOutputTokens: z.number().int().min(50).max(2_000).default(DEFAULT_LLM_SETTINGS.maxOutputTokens),
  minConfidence: z.number().min(0).max(1).default(DEFAULT_LLM_SETTINGS.minConfidence),
  breaker: z
    .strictObject({
      failures: z.number().int().positive().default(DEFAULT_LLM_SETTINGS.breakerFailures),
      cooldown: durationSchema.default(DEFAULT_LLM_SETTINGS.breakerCooldownMs),
    })
    .default({ failures: DEFAULT_LLM_SETTINGS.breakerFailures, cooldown: DEFAULT_LLM_SETTINGS.breakerCooldownMs }),
});

/** `analyzer.exceptions`: fingerprinting, redaction and labelling of exceptions. */
export const exceptionsConfigSchema = z.strictObject({
  llm: llmConfigSchema.optional(),
  redact: z
    .strictObject({
      /** People, customers, suppliers or plants to hide in stored samples and prompts. */
      names: z.array(z.string().min(1)).default([]),
    })
    .default({ names: [] }),
  /** Redacted samples kept per fingerprint. */
  samplesPerFingerprint: z.number().int().min(0).max(20).default(5),
  /** A fingerprint surges when one cycle has at least `minCount` occurrences and `factor` times its usual rate. */
  surge: z
    .strictObject({
      factor: z.number().gt(1).default(3),
      minCount: z.number().int().positive().default(20),
    })
    .default({ factor: 3, minCount: 20 }),
  /** How far back the first cycle reads when no fingerprint is stored yet. */
  initialLookback: durationSchema.default(3_600_000),
});

export type ExceptionsConfig = z.output<typeof exceptionsConfigSchema>;
export type LlmConfig = NonNullable<ExceptionsConfig['llm']>;

export const DEFAULT_EXCEPTIONS_CONFIG: ExceptionsConfig = exceptionsConfigSchema.parse({});

/** Converts the configuration section to classifier settings. */
export function toLlmSettings(config: LlmConfig): LlmSettings {
  return {
    baseUrl: config.baseUrl,
    model: config.model,
    apiKey: config.apiKey,
    timeoutMs: config.timeout,
    maxTokensPerHour: config.maxTokensPerHour,
    maxRetries: config.maxRetries,
    backoffMs: config.backoff,
    maxRetryAfterMs: config.maxRetryAfter,
    maxInputChars: config.maxInputChars,
    maxOutputTokens: config.maxOutputTokens,
    minConfidence: config.minConfidence,
    breakerFailures: config.breaker.failures,
    breakerCooldownMs: config.breaker.cooldown,
  };
}
