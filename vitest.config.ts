import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // chDB binds one data directory per process, so each test file runs in a
    // process of its own (the default "forks" pool) and opens its own directory.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
