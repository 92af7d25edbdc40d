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
      cluster: undefined,
    });
  });

  it('prefers CLICKHOUSE_URL over the file', () => {
    const options = resolveStoreOptions(
      { dataDir: './data', url: 'http://127.0.0.1:8123' },
      { CLICKHOUSE_URL: 'http://127.0.0.1:9123', CLICKHOUSE_USER: 'ingest' },
    );
    expect(options).toMatchObject({ kind: 'server', url: 'http://127.0.0.1:9123', username: 'ingest' });
  });

  it('takes the cluster from the file', () => {
    const options = resolveStoreOptions({ dataDir: './data', url: 'http://127.0.0.1:8123', cluster: 'plants' }, {});
    expect(options).toMatchObject({ kind: 'server', cluster: 'plants' });
  });

  it('prefers CLICKHOUSE_CLUSTER over the file', () => {
    const options = resolveStoreOptions(
      { dataDir: './data', cluster: 'plants' },
      { CLICKHOUSE_URL: 'http://127.0.0.1:9123', CLICKHOUSE_CLUSTER: 'replicas' },
    );
    expect(options).toMatchObject({ kind: 'server', cluster: 'replicas' });
  });

  it('keeps the file cluster with CLICKHOUSE_URL', () => {
    const options = resolveStoreOptions({ dataDir: './data', cluster: 'plants' }, { CLICKHOUSE_URL: 'http://127.0.0.1:9123' });
    expect(options).toMatchObject({ kind: 'server', cluster: 'plants' });
  });
});
