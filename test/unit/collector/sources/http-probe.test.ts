import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createSource,
  httpProbeSourceConfigSchema,
  SOURCE_ERROR_CODES,
} from '../../../../collector/sources/index.js';

function issuePaths(result: { success: boolean; error?: z.ZodError }): string[] {
  return (result.error?.issues ?? []).map((issue) => issue.path.join('.'));
}

describe('httpProbeSourceConfigSchema', () => {
  const base = { kind: 'http_probe' as const, name: 'partner-apis', integration: 'edi' };

  it('fills probe defaults', () => {
    const config = httpProbeSourceConfigSchema.parse({ ...base, targets: [{ url: 'https://127.0.0.1:8443/health' }] });

    expect(config.targets[0]?.method).toBe('GET');
    expect(config.targets[0]?.expectedStatus).toEqual(['2xx']);
    expect(config.tls.verify).toBe(true);
    expect(config.tlsWarnDays).toBe(14);
  });

  it.each([
    ['targets', []],
    ['targets.0.url', [{ url: 'ftp://127.0.0.1/x' }]],
    ['targets.0.method', [{ url: 'http://127.0.0.1', method: 'get' }]],
    ['targets.0.expectedStatus.0', [{ url: 'http://127.0.0.1', expectedStatus: ['ok'] }]],
  ])('rejects invalid %s', (path, targets) => {
    const result = httpProbeSourceConfigSchema.safeParse({ ...base, targets });

    expect(result.success).toBe(false);
    expect(issuePaths(result)).toContain(path);
  });

  it('names the config code on failure', () => {
    expect(() => createSource({ ...base, targets: [] })).toThrow(SOURCE_ERROR_CODES.invalidConfig);
  });
});
