import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import type { AlertEvent } from '../../../alerts/alert.js';
import { configSchema, type SyncwatchConfig } from '../../../config/index.js';
import type { RemediationConfigInput } from '../../../remediation/config.js';
import { openRemediation, type OpenRemediationOptions, type Remediation } from '../../../remediation/index.js';
import type { ProposalDraft } from '../../../remediation/proposals.js';

/** PostgreSQL on loopback that the integration tests use; each test file gets its own schema. */
export const POSTGRES_URL = process.env.SYNCWATCH_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

export type StoreKind = 'pglite' | 'postgres';

/** Integrations that test proposals name. */
export const INTEGRATIONS = [{ name: 'odoo-mes', systems: ['odoo', 'mes'] }];

export const USERS: RemediationConfigInput['users'] = [
  { name: 'ana', role: 'analyst' },
  { name: 'vera', role: 'viewer' },
  { name: 'alice', role: 'approver', slackUserId: 'U0ALICE' },
  { name: 'bob', role: 'approver' },
  { name: 'carol', role: 'admin' },
  { name: 'pat', role: 'approver', plants: ['plant-2'] },
  ...Array.from({ length: 100 }, (_, index) => ({ name: `approver-${index}`, role: 'approver' as const })),
];

/** One control plane per test file: a temporary PGlite directory or a fresh PostgreSQL schema. */
export class ControlPlaneHarness {
  readonly kind: StoreKind;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'syncwatch-remediation-'));
  readonly schema = `sw_test_${randomBytes(5).toString('hex')}`;
  readonly opened: Remediation[] = [];

  constructor(kind: StoreKind) {
    this.kind = kind;
  }

  config(remediation: RemediationConfigInput = {}): SyncwatchConfig {
    return configSchema.parse({
      store: { dataDir: this.dataDir },
      integrations: INTEGRATIONS,
      remediation: {
        users: USERS,
        ...remediation,
        database: this.kind === 'postgres' ? { url: POSTGRES_URL } : {},
      },
    });
  }

  async open(options: Partial<OpenRemediationOptions> & { remediation?: RemediationConfigInput } = {}): Promise<Remediation> {
    const { remediation, ...rest } = options;
    const opened = await openRemediation({
      config: this.config(remediation),
      logger: pino({ level: 'silent' }),
      schema: this.kind === 'postgres' ? this.schema : undefined,
      ...rest,
    });
    this.opened.push(opened);
    return opened;
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.opened.map((remediation) => remediation.close()));
    if (this.kind === 'postgres') {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
      await client.end();
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

let draftCounter = 0;

/** Builds a proposal on the control plane alone (a route switch), so decision tests need no outside system. */
export function routeDraft(overrides: Partial<ProposalDraft> = {}): ProposalDraft {
  draftCounter += 1;
  return {
    id: `rp-test-${randomBytes(4).toString('hex')}-${draftCounter}`,
    incidentId: `inc-${draftCounter}`,
    action: 'reroute',
    integration: 'odoo-mes',
    workflow: 'production_order_release',
    plant: 'plant-1',
    rationale: 'primary MES endpoint times out',
    params: { route: 'mes-secondary', kind: 'endpoint', target: 'https://mes-b.plant-1.example/api' },
    targets: [{ kind: 'workflow_route', ref: 'production_order_release', detail: 'endpoint https://mes-b.plant-1.example/api' }],
    blastRadius: { events: 10, orders: 3, plants: ['plant-1'] },
    duplicateRisk: 'in-flight messages may arrive on both routes',
    requiredApprovals: 1,
    requestedBy: 'ana',
    expiresAt: new Date(Date.now() + 30 * 60_000),
    ...overrides,
  };
}

/** Builds an exception incident on integration `odoo-mes`, as the analyzer hands it over. */
export function exceptionIncident(overrides: Partial<AlertEvent> = {}): AlertEvent {
  return {
    incidentId: `inc-${randomBytes(4).toString('hex')}`,
    state: 'opened',
    kind: 'exception',
    severity: 'critical',
    title: 'Production order release from Odoo to MES fails in plant-1',
    explanation: 'failed jobs rise',
    integration: 'odoo-mes',
    workflow: 'production_order_release',
    plant: 'plant-1',
    exception: { fingerprint: 'fp-1', category: 'timeout', retryable: true, sample: 'ReadTimeout', count: 12 },
    at: new Date(),
    ...overrides,
  };
}
