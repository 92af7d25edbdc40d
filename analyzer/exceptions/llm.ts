import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import type { Logger } from 'pino';
import { z } from 'zod';
import { CircuitBreaker, TokenBudget, type Clock } from './guards.js';
import { ANSWER_SCHEMA, ANSWER_SCHEMA_NAME, buildSystemPrompt, buildUserMessage, type UntrustedText } from './prompt.js';
import { clampRetryable, EXCEPTION_CATEGORIES, type ExceptionClassification } from './taxonomy.js';

/** Settings of the model classifier; `analyzer.exceptions.llm` in the configuration. */
export interface LlmSettings {
  /** Base URL of an OpenAI-compatible API, such as `http://127.0.0.1:8000/v1`. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Time limit of one request, in milliseconds. */
  timeoutMs: number;
  maxTokensPerHour: number;
  /** Retries after a timeout, connection failure, 429 or 5xx. */
  maxRetries: number;
  /** First backoff delay in milliseconds; each retry doubles it, with jitter. */
  backoffMs: number;
  /** Longest `Retry-After` the classifier waits for; a longer one fails the call. */
  maxRetryAfterMs: number;
  /** Characters of exception text sent; the rest is cut. */
  maxInputChars: number;
  maxOutputTokens: number;
  /** Labels below this confidence become `unknown`. */
  minConfidence: number;
  breakerFailures: number;
  breakerCooldownMs: number;
}

export const DEFAULT_LLM_SETTINGS: Omit<LlmSettings, 'baseUrl' | 'model'> = {
  timeoutMs: 20_000,
  maxTokensPerHour: 100_000,
  maxRetries: 2,
  backoffMs: 500,
  maxRetryAfterMs: 30_000,
  maxInputChars: 2_000,
  maxOutputTokens: 200,
  minConfidence: 0.5,
  breakerFailures: 5,
  breakerCooldownMs: 300_000,
};

/** Reason the model returned no label; the caller falls back to rules. */
export type LlmFailureReason =
  | 'budget_exhausted'
  | 'circuit_open'
  | 'timeout'
  | 'rate_limited'
  | 'server_error'
  | 'request_failed'
  | 'malformed_answer'
  | 'invalid_answer';

export type LlmResult = { ok: true; classification: ExceptionClassification } | { ok: false; reason: LlmFailureReason; detail: string };

const answerSchema = z.strictObject({
  category: z.enum(EXCEPTION_CATEGORIES),
  retryable: z.boolean(),
  confidence: z.number().min(0).max(1),
  rationale: z.string().max(400),
});

const MAX_RATIONALE_CHARS = 200;
const MAX_CACHED_LABELS = 10_000;

export interface LlmClassifierOptions {
  settings: LlmSettings;
  logger?: Logger;
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
}

/** Counters for tests, logs and the CLI summary. */
export interface LlmStats {
  calls: number;
  requests: number;
  cacheHits: number;
  failures: Partial<Record<LlmFailureReason, number>>;
  tokensUsed: number;
}

/**
 * Labels exception texts that no rule matched, through any OpenAI-compatible
 * chat completions endpoint. One call per fingerprint: responses are cached, and
 * concurrent requests for one fingerprint share one call. Calls stop when the
 * hourly token budget is spent or the circuit breaker is open, and the caller
 * then uses rules only.
 */
export class LlmClassifier {
  readonly budget: TokenBudget;
  readonly breaker: CircuitBreaker;
  readonly stats: LlmStats = { calls: 0, requests: 0, cacheHits: 0, failures: {}, tokensUsed: 0 };

  private readonly client: OpenAI;
  private readonly settings: LlmSettings;
  private readonly logger: Logger | undefined;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly canary = `ref-${randomBytes(8).toString('hex')}`;
  private readonly systemPrompt: string;
  private readonly cache = new Map<string, Promise<LlmResult>>();

  constructor(options: LlmClassifierOptions) {
    this.settings = options.settings;
    this.logger = options.logger;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    const clock = options.clock ?? Date.now;
    this.budget = new TokenBudget(this.settings.maxTokensPerHour, clock);
    this.breaker = new CircuitBreaker(this.settings.breakerFailures, this.settings.breakerCooldownMs, clock);
    this.systemPrompt = buildSystemPrompt(this.canary);
    this.client = new OpenAI({
      baseURL: this.settings.baseUrl,
      // Local OpenAI-compatible servers often need no key, but the client requires one.
      apiKey: this.settings.apiKey ?? 'not-set',
      timeout: this.settings.timeoutMs,
      // Retries are done here, with the budget and breaker in the loop.
      maxRetries: 0,
    });
  }

  /** Labels one fingerprint, from the cache when it was labelled before. */
  classify(fingerprint: string, input: UntrustedText): Promise<LlmResult> {
    const cached = this.cache.get(fingerprint);
    if (cached) {
      this.stats.cacheHits += 1;
      return cached;
    }
    const pending = this.classifyUncached(input).then((result) => {
      // Only valid responses stay cached, so a failed fingerprint may be tried again later.
      if (!result.ok) this.cache.delete(fingerprint);
      return result;
    });
    this.cache.set(fingerprint, pending);
    if (this.cache.size > MAX_CACHED_LABELS) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return pending;
  }

  private async classifyUncached(input: UntrustedText): Promise<LlmResult> {
    const userMessage = buildUserMessage(input, this.settings.maxInputChars);
    const estimate = Math.ceil((this.systemPrompt.length + userMessage.length) / 4) + this.settings.maxOutputTokens;
    if (!this.budget.canSpend(estimate)) {
      return this.fail('budget_exhausted', `estimated ${estimate} tokens exceed the ${this.settings.maxTokensPerHour} left this hour`, false);
    }
    if (!this.breaker.tryAcquire()) return this.fail('circuit_open', 'too many failed calls in a row', false);

    this.stats.calls += 1;
    const result = await this.requestWithRetries(userMessage, estimate);
    if (result.ok) this.breaker.recordSuccess();
    else this.breaker.recordFailure();
    return result;
  }

  private async requestWithRetries(userMessage: string, estimate: number): Promise<LlmResult> {
    let last: LlmResult = { ok: false, reason: 'request_failed', detail: 'no attempt made' };
    for (let attempt = 0; attempt <= this.settings.maxRetries; attempt += 1) {
      if (attempt > 0 && !this.budget.canSpend(estimate)) return this.fail('budget_exhausted', 'budget spent during retries', true);
      const outcome = await this.requestOnce(userMessage, estimate, attempt);
      if (outcome.result.ok || outcome.retryAfterMs === undefined || attempt === this.settings.maxRetries) {
        return outcome.result.ok ? outcome.result : this.fail(outcome.result.reason, outcome.result.detail, true);
      }
      last = outcome.result;
      if (outcome.retryAfterMs > this.settings.maxRetryAfterMs) {
        return this.fail(last.reason, `Retry-After of ${outcome.retryAfterMs} ms exceeds the ${this.settings.maxRetryAfterMs} ms limit`, true);
      }
      this.logger?.warn({ attempt: attempt + 1, reason: last.reason, delayMs: outcome.retryAfterMs }, 'exception label request failed; retrying');
      await this.sleep(outcome.retryAfterMs);
    }
    return last;
  }

  /** Sends one request; `retryAfterMs` is set when the failure is worth a retry. */
  private async requestOnce(userMessage: string, estimate: number, attempt: number): Promise<{ result: LlmResult; retryAfterMs?: number }> {
    this.stats.requests += 1;
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    try {
      completion = await this.client.chat.completions.create({
        model: this.settings.model,
        temperature: 0,
        max_tokens: this.settings.maxOutputTokens,
        messages: [
          { role: 'system', content: this.systemPrompt },
          { role: 'user', content: userMessage },
        ],
        response_format: { type: 'json_schema', json_schema: { name: ANSWER_SCHEMA_NAME, strict: true, schema: ANSWER_SCHEMA } },
      });
    } catch (error) {
      return this.describeRequestError(error, estimate, attempt);
    }

    const tokens = completion.usage?.total_tokens ?? estimate;
    this.budget.record(tokens);
    this.stats.tokensUsed += tokens;
    return { result: this.checkAnswer(completion.choices[0]?.message?.content ?? '') };
  }

  private describeRequestError(error: unknown, estimate: number, attempt: number): { result: LlmResult; retryAfterMs?: number } {
    const backoff = this.backoffDelay(attempt);
    if (error instanceof OpenAI.APIConnectionTimeoutError) {
      // The server may have spent the tokens before the client gave up.
      this.budget.record(estimate);
      return { result: { ok: false, reason: 'timeout', detail: `no answer within ${this.settings.timeoutMs} ms` }, retryAfterMs: backoff };
    }
    if (error instanceof OpenAI.APIConnectionError) {
      return { result: { ok: false, reason: 'request_failed', detail: error.message }, retryAfterMs: backoff };
    }
    if (error instanceof OpenAI.APIError) {
      const status = error.status ?? 0;
      if (status === 429) {
        const retryAfter = readRetryAfterMs(error.headers) ?? backoff;
        return { result: { ok: false, reason: 'rate_limited', detail: 'HTTP 429 from the model endpoint' }, retryAfterMs: retryAfter };
      }
      if (status >= 500) {
        return { result: { ok: false, reason: 'server_error', detail: `HTTP ${status} from the model endpoint` }, retryAfterMs: readRetryAfterMs(error.headers) ?? backoff };
      }
      return { result: { ok: false, reason: 'request_failed', detail: `HTTP ${status} from the model endpoint: ${error.message}` } };
    }
    return { result: { ok: false, reason: 'request_failed', detail: error instanceof Error ? error.message : String(error) } };
  }

  /** Parses and re-checks a response, because the endpoint may not have applied the schema sent with the request. */
  private checkAnswer(content: string): LlmResult {
    let parsed: unknown;
    try {
      parsed = JSON.parse(content);
    } catch {
      return { ok: false, reason: 'malformed_answer', detail: `answer is not JSON (${content.length} characters)` };
    }
    const answer = answerSchema.safeParse(parsed);
    if (!answer.success) {
      const issue = answer.error.issues[0];
      return { ok: false, reason: 'invalid_answer', detail: `answer does not match the schema at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? ''}` };
    }
    if (content.includes(this.canary)) {
      return { ok: false, reason: 'invalid_answer', detail: 'answer repeats the system prompt' };
    }

    const { category, retryable, confidence, rationale } = answer.data;
    const cleanRationale = rationale.replace(/\s+/g, ' ').trim().slice(0, MAX_RATIONALE_CHARS);
    if (confidence < this.settings.minConfidence) {
      return {
        ok: true,
        classification: { category: 'unknown', retryable: false, confidence, classifiedBy: 'llm', rationale: `low confidence for ${category}` },
      };
    }
    return {
      ok: true,
      classification: { category, retryable: clampRetryable(category, retryable), confidence, classifiedBy: 'llm', rationale: cleanRationale },
    };
  }

  private backoffDelay(attempt: number): number {
    // Jitter between half and all of the base delay, which doubles with each attempt.
    const base = this.settings.backoffMs * 2 ** Math.min(attempt, 6);
    return Math.round(base / 2 + Math.random() * (base / 2));
  }

  private fail(reason: LlmFailureReason, detail: string, log: boolean): LlmResult {
    this.stats.failures[reason] = (this.stats.failures[reason] ?? 0) + 1;
    if (log) this.logger?.warn({ reason, detail, breaker: this.breaker.state }, 'exception label request failed; using rules only');
    return { ok: false, reason, detail };
  }
}

/** Reads `retry-after-ms` (OpenAI's extension) or `Retry-After` in seconds or as an HTTP date. */
export function readRetryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const milliseconds = Number(headers.get('retry-after-ms'));
  if (headers.get('retry-after-ms') !== null && Number.isFinite(milliseconds) && milliseconds >= 0) return milliseconds;
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number(value);
  if (value.trim() !== '' && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
