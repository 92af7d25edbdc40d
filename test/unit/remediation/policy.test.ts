import { describe, expect, it } from 'vitest';
import { REMEDIATION_CODES, REMEDIATION_ERRORS } from '../../../remediation/errors.js';
import { checkDecision, requiredApprovalsFor, type DecisionCheck } from '../../../remediation/policy.js';
import type { StoredProposal, StoredUser } from '../../../remediation/proposals.js';

const NOW = new Date('2026-03-02T08:00:00Z');
const LIMITS = { events: 100, orders: 20 };

function proposal(overrides: Partial<StoredProposal> = {}): StoredProposal {
  return {
    id: 'rp-1',
    incidentId: 'inc-1',
    action: 'replay_dead_letters',
    integration: 'odoo-mes',
    workflow: 'production_order_release',
    plant: 'plant-1',
    params: {},
    status: 'pending',
    requiredApprovals: 1,
    requestedBy: 'ana',
    expiresAt: new Date(NOW.getTime() + 60_000),
    blastRadius: { events: 10, orders: 2, plants: ['plant-1'] },
    ...overrides,
  };
}

function user(overrides: Partial<StoredUser> = {}): StoredUser {
  return { name: 'alice', role: 'approver', integrations: [], plants: [], ...overrides };
}

function check(overrides: Partial<DecisionCheck> = {}): string | undefined {
  const base: DecisionCheck = { decision: 'approve', user: user(), userName: 'alice', proposal: proposal(), approvers: [], now: NOW };
  return checkDecision({ ...base, ...overrides })?.code;
}

describe('requiredApprovalsFor', () => {
  it.each([
    [{ events: 100, orders: 20, plants: [] }, 1],
    [{ events: 101, orders: 0, plants: [] }, 2],
    [{ events: 0, orders: 21, plants: [] }, 2],
  ])('needs the right count for %o', (blast, expected) => {
    expect(requiredApprovalsFor(blast, LIMITS)).toBe(expected);
  });
});

describe('checkDecision', () => {
  it('accepts an approver in scope', () => {
    expect(check()).toBeUndefined();
  });

  it.each([
    ['unknown user', { user: undefined, userName: 'mallory' }, REMEDIATION_CODES.unknownUser],
    ['viewer', { user: user({ role: 'viewer' }) }, REMEDIATION_CODES.forbiddenRole],
    ['analyst', { user: user({ role: 'analyst' }) }, REMEDIATION_CODES.forbiddenRole],
    ['other integration', { user: user({ integrations: ['odoo-wms'] }) }, REMEDIATION_CODES.outOfScope],
    ['other plant', { user: user({ plants: ['plant-2'] }) }, REMEDIATION_CODES.outOfScope],
    ['requester', { proposal: proposal({ requestedBy: 'alice' }) }, REMEDIATION_CODES.selfApproval],
    ['expired', { now: new Date(NOW.getTime() + 60_000) }, REMEDIATION_CODES.expired],
    ['marked expired', { proposal: proposal({ status: 'expired' }) }, REMEDIATION_CODES.expired],
    ['executed', { proposal: proposal({ status: 'executed' }) }, REMEDIATION_CODES.notPending],
    ['repeated approver', { approvers: ['alice'] }, REMEDIATION_CODES.sameApprover],
    ['rejection without reason', { decision: 'reject' as const, reason: '  ' }, REMEDIATION_CODES.reasonRequired],
  ])('refuses %s', (_name, overrides, code) => {
    expect(check(overrides)).toBe(code);
  });

  it('accepts a user scoped to every affected plant', () => {
    const wide = proposal({ blastRadius: { events: 1, orders: 1, plants: ['plant-1', 'plant-2'] } });

    expect(check({ proposal: wide, user: user({ plants: ['plant-1', 'plant-2'] }) })).toBeUndefined();
    expect(check({ proposal: wide, user: user({ plants: ['plant-1'] }) })).toBe(REMEDIATION_CODES.outOfScope);
  });

  it('lets the requester reject', () => {
    expect(check({ decision: 'reject', reason: 'wrong target', proposal: proposal({ requestedBy: 'alice' }) })).toBeUndefined();
  });
});

describe('REMEDIATION_CODES', () => {
  it('has unique codes', () => {
    const codes = [...Object.values(REMEDIATION_CODES), ...Object.values(REMEDIATION_ERRORS)];
    expect(new Set(codes).size).toBe(codes.length);
  });
});
