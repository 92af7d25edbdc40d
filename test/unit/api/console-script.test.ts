import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CONSOLE_HTML } from '../../../server/console/page.js';
import { CONSOLE_SCRIPT } from '../../../server/console/script.js';

describe('console script', () => {
  it('parses as JavaScript', () => {
    expect(() => new Script(CONSOLE_SCRIPT, { filename: 'console.js' })).not.toThrow();
  });

  it('never parses API values as HTML', () => {
    expect(CONSOLE_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it('finds every element it looks up', () => {
    const ids = [...CONSOLE_SCRIPT.matchAll(/byId\('([\w-]+)'\)/g)].map((match) => match[1]);
    expect(ids.length).toBeGreaterThan(10);
    for (const id of new Set(ids)) expect(CONSOLE_HTML).toContain(`id="${id}"`);
  });
});
