import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  outboxSourceConfigSchema,
} from '../../../../collector/sources/index.js';

function issuePaths(result: { success: boolean; error?: z.ZodError }): string[] {
  return (result.error?.issues ?? []).map((issue) => issue.path.join('.'));
}

const outboxBase = {
  kind: 'outbox' as const,
  name: 'mes-outbox',
  integration: 'mes',
  url: 'mariadb://reader@127.0.0.1:3306/mes',
  table: 'mes.event_outbox',
  createdAtColumn: 'created_at',
  publishedAtColumn: 'published_at',
};

describe('outboxSourceConfigSchema', () => {
  it('accepts a status column config', () => {
    const config = outboxSourceConfigSchema.parse({
      ...outboxBase,
      publishedAtColumn: undefined,
      statusColumn: 'state',
      unpublishedStatuses: ['NEW'],
      failedStatuses: ['ERROR'],
      groupColumn: 'destination',
      timestampZone: 'Europe/Berlin',
    });

    expect(config.statusColumn).toBe('state');
    expect(config.timestampZone).toBe('Europe/Berlin');
  });

  it('defaults the zone to UTC', () => {
    expect(outboxSourceConfigSchema.parse(outboxBase).timestampZone).toBe('UTC');
  });

  it.each([
    ['table', 'outbox; DROP TABLE orders'],
    ['table', 'a.b.c'],
    ['table', '"outbox"'],
    ['createdAtColumn', 'created_at)--'],
    ['createdAtColumn', 'created at'],
    ['groupColumn', '`destination`'],
    ['timestampZone', "UTC'; --"],
    ['url', 'sqlite:///tmp/outbox.db'],
  ])('rejects an unsafe %s', (key, value) => {
    const result = outboxSourceConfigSchema.safeParse({ ...outboxBase, [key]: value });

    expect(result.success).toBe(false);
    expect(issuePaths(result)).toContain(key);
  });

  it('requires a published condition', () => {
    const result = outboxSourceConfigSchema.safeParse({ ...outboxBase, publishedAtColumn: undefined });

    expect(result.success).toBe(false);
    expect(issuePaths(result)).toContain('publishedAtColumn');
  });

  it('requires statuses with a status column', () => {
    const result = outboxSourceConfigSchema.safeParse({ ...outboxBase, statusColumn: 'state' });

    expect(issuePaths(result)).toContain('unpublishedStatuses');
  });

  it('requires a status column for statuses', () => {
    const result = outboxSourceConfigSchema.safeParse({ ...outboxBase, failedStatuses: ['ERROR'] });

    expect(issuePaths(result)).toContain('statusColumn');
  });
});
