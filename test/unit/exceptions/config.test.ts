import { describe, expect, it } from 'vitest';
import { exceptionsConfigSchema, toLlmSettings } from '../../../analyzer/exceptions/config.js';
import { parseConfigObject } from '../../../config/index.js';

describe('analyzer.exceptions configuration', () => {
  it('defaults to rules only', () => {
    const config = parseConfigObject({});
    expect(config.analyzer.exceptions.llm).toBeUndefined();
    expect(config.analyzer.exceptions.redact.names).toEqual([]);
  });

  it('reads an endpoint with durations', () => {
    const config = exceptionsConfigSchema.parse({
      llm: { baseUrl: 'http://127.0.0.1:8000/v1', model: 'm', timeout: '5s', maxTokensPerHour: 1000, breaker: { cooldown: '2m' } },
    });
    const settings = toLlmSettings(config.llm!);
    expect(settings.timeoutMs).toBe(5_000);
    expect(settings.maxTokensPerHour).toBe(1_000);
    expect(settings.breakerCooldownMs).toBe(120_000);
    expect(settings.breakerFailures).toBe(5);
  });

  it('rejects unknown keys', () => {
    expect(() => exceptionsConfigSchema.parse({ llm: { baseUrl: 'http://127.0.0.1:8000/v1', model: 'm', temprature: 0 } })).toThrow(/temprature/);
  });

  it('rejects an endpoint without a model', () => {
    expect(() => exceptionsConfigSchema.parse({ llm: { baseUrl: 'http://127.0.0.1:8000/v1' } })).toThrow(/model/);
  });
});
