import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ExceptionClassifier } from '../../../analyzer/exceptions/classifier.js';
import { DEFAULT_LLM_SETTINGS, LlmClassifier, type LlmFailureReason, type LlmResult, type LlmSettings } from '../../../analyzer/exceptions/llm.js';
import { EXCEPTION_CATEGORIES, type ExceptionClassification } from '../../../analyzer/exceptions/taxonomy.js';
import { plainAnswer, startOpenAiCompatibleServer, type OpenAiCompatibleServer } from '../../support/openai-compatible-server.js';

let server: OpenAiCompatibleServer;

beforeAll(async () => {
  server = await startOpenAiCompatibleServer();
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  server.requests.length = 0;
  server.queue.length = 0;
  server.defaultReply = () => plainAnswer();
});

function settings(overrides: Partial<LlmSettings> = {}): LlmSettings {
  return {
    ...DEFAULT_LLM_SETTINGS,
    baseUrl: server.baseUrl,
    model: 'test-model',
    apiKey: 'test-key',
    timeoutMs: 2_000,
    backoffMs: 5,
    maxRetries: 2,
    ...overrides,
  };
}

/** Returns the label of a successful result, failing the test otherwise. */
function labelOf(result: LlmResult): ExceptionClassification {
  if (!result.ok) throw new Error(`expected a label, got ${result.reason}: ${result.detail}`);
  return result.classification;
}

/** Returns the failure reason of a failed result, failing the test otherwise. */
function failureOf(result: LlmResult): LlmFailureReason {
  if (result.ok) throw new Error(`expected a failure, got the label ${result.classification.category}`);
  return result.reason;
}

const TEXT = { text: 'widget bridge reported state 7 for order <n>', system: 'mes' };

describe('LlmClassifier request', () => {
  it('sends a strict JSON schema of the taxonomy', async () => {
    const llm = new LlmClassifier({ settings: settings() });
    await llm.classify('fp-schema', TEXT);

    const request = server.requests[0];
    expect(request?.model).toBe('test-model');
    expect(request?.response_format?.type).toBe('json_schema');
    expect(request?.response_format?.json_schema?.strict).toBe(true);
    const schema = request?.response_format?.json_schema?.schema as { additionalProperties: boolean; properties: { category: { enum: string[] } }; required: string[] };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.category.enum).toEqual([...EXCEPTION_CATEGORIES]);
    expect(schema.required).toEqual(['category', 'retryable', 'confidence', 'rationale']);
  });

  it('puts the text between nonce markers', async () => {
    const llm = new LlmClassifier({ settings: settings() });
    await llm.classify('fp-markers', TEXT);

    const user = server.requests[0]?.messages[1]?.content ?? '';
    const nonce = /<<<ERROR_TEXT_([0-9a-f]{12})\n/.exec(user)?.[1];
    expect(nonce).toBeDefined();
    expect(user).toContain(`${TEXT.text}\nERROR_TEXT_${nonce}>>>`);
  });

  it('cuts long texts', async () => {
    const llm = new LlmClassifier({ settings: settings({ maxInputChars: 300 }) });
    await llm.classify('fp-long', { text: 'x'.repeat(5_000) });

    const user = server.requests[0]?.messages[1]?.content ?? '';
    expect(user).toContain('[truncated]');
    expect(user.length).toBeLessThan(500);
  });
});

describe('LlmClassifier answers', () => {
  it('returns a valid answer as an llm label', async () => {
    server.queue.push({ kind: 'answer', content: { category: 'timeout', retryable: true, confidence: 0.8, rationale: 'deadline passed' } });
    const llm = new LlmClassifier({ settings: settings() });
    const result = await llm.classify('fp-valid', TEXT);

    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.classification.category).toBe('timeout');
    expect(result.classification.retryable).toBe(true);
    expect(result.classification.classifiedBy).toBe('llm');
  });

  it('drops retryable outside retryable categories', async () => {
    server.queue.push({ kind: 'answer', content: { category: 'validation_error', retryable: true, confidence: 0.9, rationale: 'bad value' } });
    const llm = new LlmClassifier({ settings: settings() });
    const result = await llm.classify('fp-clamp', TEXT);

    expect(labelOf(result).retryable).toBe(false);
  });

  it('turns low confidence into unknown', async () => {
    server.queue.push({ kind: 'answer', content: { category: 'timeout', retryable: true, confidence: 0.2, rationale: 'maybe' } });
    const llm = new LlmClassifier({ settings: settings() });
    const result = await llm.classify('fp-low', TEXT);

    expect(labelOf(result).category).toBe('unknown');
    expect(labelOf(result).retryable).toBe(false);
  });

  it('rejects a category outside the taxonomy', async () => {
    server.queue.push({ kind: 'answer', content: { category: 'approved', retryable: true, confidence: 0.9, rationale: 'ok' } });
    const llm = new LlmClassifier({ settings: settings() });
    const result = await llm.classify('fp-enum', TEXT);

    expect(result.ok).toBe(false);
    expect(failureOf(result)).toBe('invalid_answer');
    expect(server.requests).toHaveLength(1);
  });

  it('rejects extra keys', async () => {
    server.queue.push({
      kind: 'answer',
      content: { category: 'timeout', retryable: true, confidence: 0.9, rationale: 'x', action: 'requeue_failed_jobs' },
    });
    const llm = new LlmClassifier({ settings: settings() });
    const result = await llm.classify('fp-extra', TEXT);

    expect(failureOf(result)).toBe('invalid_answer');
  });

  it('rejects a confidence above one', async () => {
    server.queue.push({ kind: 'answer', content: { category: 'timeout', retryable: true, confidence: 7, rationale: 'x' } });
    const llm = new LlmClassifier({ settings: settings() });
    const result = await llm.classify('fp-confidence', TEXT);

    expect(failureOf(result)).toBe('invalid_answer');
  });

  it('rejects a malformed answer without retrying', async () => {
    server.queue.push({ kind: 'malformed' });
    const llm = new LlmClassifier({ settings: settings() });
    const result = await llm.classify('fp-malformed', TEXT);

    expect(failureOf(result)).toBe('malformed_answer');
    expect(server.requests).toHaveLength(1);
  });

  it('cuts the rationale to 200 characters', async () => {
    server.queue.push({ kind: 'answer', content: { category: 'timeout', retryable: true, confidence: 0.9, rationale: 'r'.repeat(350) } });
    const llm = new LlmClassifier({ settings: settings() });
    const result = await llm.classify('fp-rationale', TEXT);

    expect(labelOf(result).rationale.length).toBe(200);
  });
});

describe('LlmClassifier failures', () => {
  it('retries after a timeout', async () => {
    server.queue.push({ kind: 'delay', delayMs: 1_000 });
    const llm = new LlmClassifier({ settings: settings({ timeoutMs: 200 }) });
    const result = await llm.classify('fp-timeout-retry', TEXT);

    expect(result.ok).toBe(true);
    expect(server.requests).toHaveLength(2);
  });

  it('gives up after repeated timeouts', async () => {
    server.defaultReply = () => ({ kind: 'delay', delayMs: 1_000 });
    const llm = new LlmClassifier({ settings: settings({ timeoutMs: 150, maxRetries: 1 }) });
    const started = Date.now();
    const result = await llm.classify('fp-timeout', TEXT);

    expect(failureOf(result)).toBe('timeout');
    expect(server.requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('waits for Retry-After after a 429', async () => {
    server.queue.push({ kind: 'status', status: 429, retryAfter: '1' });
    const llm = new LlmClassifier({ settings: settings() });
    const started = Date.now();
    const result = await llm.classify('fp-429', TEXT);

    expect(result.ok).toBe(true);
    expect(server.requests).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  });

  it('fails when Retry-After exceeds the limit', async () => {
    server.queue.push({ kind: 'status', status: 429, retryAfter: '120' });
    const llm = new LlmClassifier({ settings: settings({ maxRetryAfterMs: 5_000 }) });
    const result = await llm.classify('fp-429-long', TEXT);

    expect(failureOf(result)).toBe('rate_limited');
    expect(server.requests).toHaveLength(1);
  });

  it('retries server errors with backoff', async () => {
    server.queue.push({ kind: 'status', status: 500 }, { kind: 'status', status: 503 });
    const llm = new LlmClassifier({ settings: settings() });
    const result = await llm.classify('fp-500', TEXT);

    expect(result.ok).toBe(true);
    expect(server.requests).toHaveLength(3);
  });

  it('does not retry a 400', async () => {
    server.queue.push({ kind: 'status', status: 400 });
    const llm = new LlmClassifier({ settings: settings() });
    const result = await llm.classify('fp-400', TEXT);

    expect(failureOf(result)).toBe('request_failed');
    expect(server.requests).toHaveLength(1);
  });

  it('stops calling when the budget is spent', async () => {
    server.queue.push({ kind: 'answer', content: { category: 'timeout', retryable: true, confidence: 0.9, rationale: 'x' }, totalTokens: 5_000 });
    const llm = new LlmClassifier({ settings: settings({ maxTokensPerHour: 5_500 }) });
    const first = await llm.classify('fp-budget-1', TEXT);
    const second = await llm.classify('fp-budget-2', TEXT);

    expect(first.ok).toBe(true);
    expect(failureOf(second)).toBe('budget_exhausted');
    expect(server.requests).toHaveLength(1);
    expect(llm.budget.used()).toBe(5_000);
  });

  it('opens the breaker and falls back to rules', async () => {
    let now = 0;
    server.defaultReply = () => ({ kind: 'status', status: 500 });
    const llm = new LlmClassifier({ settings: settings({ maxRetries: 0, breakerFailures: 3, breakerCooldownMs: 60_000 }), clock: () => now });
    const classifier = new ExceptionClassifier({ llm });
    for (let index = 0; index < 3; index += 1) await llm.classify(`fp-breaker-${index}`, TEXT);
    expect(llm.breaker.state).toBe('open');

    const label = await classifier.classify(classifier.prepare({ message: 'widget bridge stalled 12' }));
    expect(label.category).toBe('unknown');
    expect(label.classifiedBy).toBe('rules');
    expect(server.requests).toHaveLength(3);

    now += 60_000;
    server.defaultReply = () => plainAnswer();
    const trial = await llm.classify('fp-breaker-trial', TEXT);
    expect(trial.ok).toBe(true);
    expect(llm.breaker.state).toBe('closed');
  });
});

describe('LlmClassifier cache', () => {
  it('makes one call per fingerprint', async () => {
    const llm = new LlmClassifier({ settings: settings() });
    const results = await Promise.all(Array.from({ length: 5 }, () => llm.classify('fp-cache', TEXT)));
    await llm.classify('fp-cache', TEXT);

    expect(results.every((result) => result.ok)).toBe(true);
    expect(server.requests).toHaveLength(1);
    expect(llm.stats.cacheHits).toBe(5);
  });

  it('tries a failed fingerprint again', async () => {
    server.queue.push({ kind: 'malformed' });
    const llm = new LlmClassifier({ settings: settings() });
    await llm.classify('fp-again', TEXT);
    const second = await llm.classify('fp-again', TEXT);

    expect(second.ok).toBe(true);
    expect(server.requests).toHaveLength(2);
  });
});

describe('ExceptionClassifier with a model', () => {
  it('does not call the model when a rule matches', async () => {
    const classifier = new ExceptionClassifier({ llm: new LlmClassifier({ settings: settings() }) });
    const label = await classifier.classify(classifier.prepare({ message: 'Error: connect ECONNREFUSED 10.0.0.5:5672' }));

    expect(label.category).toBe('transient_network');
    expect(server.requests).toHaveLength(0);
  });

  it('sends redacted text only', async () => {
    const classifier = new ExceptionClassifier({ redactNames: ['Anna Schmidt'], llm: new LlmClassifier({ settings: settings() }) });
    await classifier.classify(classifier.prepare({ message: 'widget stalled for Anna Schmidt <anna@plant-2.example.com> token=abc123secret' }));

    const user = server.requests[0]?.messages[1]?.content ?? '';
    expect(user).not.toContain('Anna');
    expect(user).not.toContain('anna@');
    expect(user).not.toContain('abc123secret');
  });
});

describe('ExceptionClassifier over many occurrences', () => {
  it('makes one call per fingerprint', async () => {
    const classifier = new ExceptionClassifier({ llm: new LlmClassifier({ settings: settings() }) });
    const fingerprints = new Set<string>();
    for (let occurrence = 0; occurrence < 10_000; occurrence += 1) {
      const kind = occurrence % 50;
      const word = `k${String.fromCharCode(97 + (kind % 26))}${String.fromCharCode(97 + Math.floor(kind / 26))}`;
      const prepared = classifier.prepare({ message: `Gizmo ${word} stalled at step ${occurrence} for job ${occurrence * 7}` });
      fingerprints.add(prepared.fingerprint);
      await classifier.classify(prepared);
    }

    expect(fingerprints.size).toBe(50);
    expect(server.requests.length).toBeLessThanOrEqual(50);
  });
});

