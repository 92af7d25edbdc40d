import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../config/index.js';

function issues(remediation: Record<string, unknown>): string[] {
  const result = configSchema.safeParse({
    integrations: [{ name: 'odoo-mes', systems: ['odoo', 'mes'] }],
    workflows: [{ name: 'production_order_release', criticality: 'critical', syncMode: 'real_time' }],
    remediation,
  });
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('remediation config', () => {
  it('accepts known names', () => {
    expect(
      issues({
        users: [{ name: 'alice', role: 'approver', integrations: ['odoo-mes'], slackUserId: 'U1' }],
        routes: [{ workflow: 'production_order_release', name: 'backup', kind: 'queue', target: 'orders.backup' }],
        failureQueues: [{ kind: 'rabbitmq_dlq', integration: 'odoo-mes', queue: 'orders.dlq' }],
      }),
    ).toEqual([]);
  });

  it('applies defaults', () => {
    const config = configSchema.parse({});

    expect(config.remediation.policy).toEqual({ twoApproversAbove: { events: 100, orders: 20 }, proposalTtl: 1_800_000, retryDelay: 300_000 });
    expect(config.remediation.users).toEqual([]);
  });

  it.each([
    ['unknown integration of a user', { users: [{ name: 'alice', role: 'approver', integrations: ['odoo-wms'] }] }, 'remediation.users.0.integrations.0: unknown integration "odoo-wms"'],
    ['unknown workflow of a route', { routes: [{ workflow: 'picking', name: 'b', kind: 'queue', target: 'q' }] }, 'remediation.routes.0.workflow: unknown workflow "picking"'],
    ['unknown integration of a queue', { failureQueues: [{ kind: 'nats_dlq', integration: 'tms', stream: 'DLQ' }] }, 'remediation.failureQueues.0.integration: unknown integration "tms"'],
    ['repeated user', { users: [{ name: 'bob', role: 'admin' }, { name: 'bob', role: 'viewer' }] }, 'remediation.users.1.name: user "bob" is listed twice'],
    ['shared Slack id', { users: [{ name: 'a', role: 'admin', slackUserId: 'U1' }, { name: 'b', role: 'viewer', slackUserId: 'U1' }] }, 'remediation.users.1.slackUserId: Slack id "U1" belongs to two users'],
    ['unknown role', { users: [{ name: 'eve', role: 'owner' }] }, 'remediation.users.0.role'],
  ])('rejects %s', (_name, remediation, expected) => {
    expect(issues(remediation).join('\n')).toContain(expected);
  });
});
