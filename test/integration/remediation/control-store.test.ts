import { mkdtempSync, rmSync } from 'node:fs';
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
});
