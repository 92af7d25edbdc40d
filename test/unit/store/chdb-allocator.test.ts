import { afterEach, describe, expect, it, vi } from 'vitest';

const ENV = 'JE_MALLOC_CONF';
const original = process.env[ENV];

afterEach(() => {
  if (original === undefined) delete process.env[ENV];
  else process.env[ENV] = original;
  vi.resetModules();
});

describe('chDB allocator settings', () => {
  it('sets a short decay', async () => {
    delete process.env[ENV];
    const { CHDB_DIRTY_DECAY_MS } = await import('../../../store/chdb-allocator.js');
    expect(process.env[ENV]).toBe(`dirty_decay_ms:${CHDB_DIRTY_DECAY_MS}`);
  });

  it("keeps the operator's value", async () => {
    process.env[ENV] = 'dirty_decay_ms:2000';
    await import('../../../store/chdb-allocator.js');
    expect(process.env[ENV]).toBe('dirty_decay_ms:2000');
  });
});
