import { describe, expect, it } from 'vitest';
import { resolveStoreOptions } from '../../../store/index.js';

describe('resolveStoreOptions', () => {
  it('embeds under the configured directory', () => {
    expect(resolveStoreOptions({ dataDir: './plant-a' }, {})).toEqual({ kind: 'embedded', dataDir: './plant-a' });
  });

  it('uses a configured server', () => {
    const options = resolveStoreOptions({ dataDir: './data', url: 'http://127.0.0.1:8123', username: 'reader' }, {});
    expect(options).toEqual({
      kind: 'server',
      url: 'http://127.0.0.1:8123',
      username: 'reader',
      password: undefined,
      database: undefined,
    });
  });

  it('prefers CLICKHOUSE_URL over the file', () => {
    const options = resolveStoreOptions(
      { dataDir: './data', url: 'http://127.0.0.1:8123' },
      { CLICKHOUSE_URL: 'http://127.0.0.1:9123', CLICKHOUSE_USER: 'ingest' },
    );
    expect(options).toMatchObject({ kind: 'server', url: 'http://127.0.0.1:9123', username: 'ingest' });
  });
});
