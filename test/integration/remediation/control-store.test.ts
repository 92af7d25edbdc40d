import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openControlStore } from '../../../remediation/control-store.js';

const dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-control-store-'));

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('embedded control store', () => {
  it('runs with 16 MB shared buffers', async () => {
    const store = await openControlStore({ dataDir: join(dataDir, 'buffers') });
    try {
      const { rows } = await store.query<{ shared_buffers: string }>('SHOW shared_buffers');
      expect(rows).toEqual([{ shared_buffers: '16MB' }]);
    } finally {
      await store.close();
    }
  });

  it('creates a database that reopens', async () => {
    const directory = join(dataDir, 'reopen');
    const first = await openControlStore({ dataDir: directory });
    await first.query('CREATE TABLE notes (body text)');
    await first.query('INSERT INTO notes VALUES ($1)', ['kept']);
    await first.close();

    const second = await openControlStore({ dataDir: directory });
    try {
      const { rows } = await second.query<{ body: string }>('SELECT body FROM notes');
      expect(existsSync(join(directory, 'PG_VERSION'))).toBe(true);
      expect(rows).toEqual([{ body: 'kept' }]);
    } finally {
      await second.close();
    }
  });
});
