import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { createDashboard, numberPanels, tablePanel, timeseriesPanel } from './defaults.js';

export const REMEDIATION_UID = 'syncwatch-remediation';

/**
 * Each proposal created in the time range with its status, derived from its
 * latest audit event. Refusals and per-target progress do not change a
 * proposal's status, so they are skipped. A finished execution with a code has failed.
 */
const PROPOSAL_STATUS = `SELECT
    proposal_id,
    min(at) AS proposed_at,
    argMaxIf(event, seq, event NOT IN ('decision.refused', 'execution.refused', 'execution.target')) AS last_event,
    argMaxIf(code, seq, event = 'execution.finished') AS finish_code,
    max(at) AS last_change_at
FROM remediation_audit FINAL
WHERE proposal_id != ''
GROUP BY proposal_id
HAVING $__timeFilter(proposed_at)`;

const STATUS_EXPRESSION = `multiIf(
        last_event = 'proposal.created', 'pending',
        last_event = 'decision.approved', 'approved',
        last_event = 'decision.rejected', 'rejected',
        last_event IN ('execution.started', 'execution.resumed'), 'executing',
        last_event = 'execution.finished' AND finish_code != '', 'failed',
        last_event = 'execution.finished', 'executed',
        last_event = 'proposal.expired', 'expired',
        'unknown')`;

export const PROPOSALS_BY_STATUS_SQL = `SELECT
    ${STATUS_EXPRESSION} AS status,
    count() AS proposals
FROM (${PROPOSAL_STATUS})
GROUP BY status
ORDER BY status`;

export const PROPOSALS_SQL = `SELECT
    proposal_id,
    ${STATUS_EXPRESSION} AS status,
    proposed_at,
    last_change_at
FROM (${PROPOSAL_STATUS})
ORDER BY proposed_at DESC
LIMIT 500`;

/** Decisions and finished executions per interval, by audit event. */
export const DECISIONS_OVER_TIME_SQL = `SELECT
    toStartOfInterval(at, INTERVAL $__interval_s second) AS time,
    event,
    count() AS events
FROM remediation_audit FINAL
WHERE $__timeFilter(at)
    AND (event LIKE 'decision.%' OR event = 'execution.finished')
GROUP BY time, event
ORDER BY time, event`;

/** Decisions the approval policy refused, such as self-approval, a wrong role or an expired proposal. */
export const REFUSED_DECISIONS_SQL = `SELECT
    at,
    actor,
    channel,
    code,
    proposal_id,
    detail
FROM remediation_audit FINAL
WHERE $__timeFilter(at)
    AND event IN ('decision.refused', 'execution.refused')
ORDER BY seq DESC
LIMIT 500`;

export const AUDIT_LOG_SQL = `SELECT
    seq,
    at,
    actor,
    channel,
    event,
    proposal_id,
    code,
    detail
FROM remediation_audit FINAL
WHERE $__timeFilter(at)
ORDER BY seq DESC
LIMIT 500`;

/**
 * Builds the remediation view from the audit log's copy in ClickHouse. The
 * audit rows carry no plant or integration, so this dashboard has no variables.
 */
export function buildRemediationDashboard(): Dashboard {
  const dashboard = createDashboard(REMEDIATION_UID, 'syncwatch: remediation')
    .description('Proposals and decisions from the remediation audit log: who approved or rejected what, what ran, and what the policy refused.')
    .withPanel(
      tablePanel('Proposals by status', PROPOSALS_BY_STATUS_SQL)
        .height(8)
        .span(6),
    )
    .withPanel(
      timeseriesPanel('Decisions and executions', DECISIONS_OVER_TIME_SQL)
        .unit('short')
        .height(8)
        .span(18),
    )
    .withPanel(
      tablePanel('Proposals', PROPOSALS_SQL)
        .height(8)
        .span(12),
    )
    .withPanel(
      tablePanel('Refused decisions', REFUSED_DECISIONS_SQL)
        .height(8)
        .span(12),
    )
    .withPanel(
      tablePanel('Audit log', AUDIT_LOG_SQL)
        .height(10)
        .span(24),
    )
    .build();
  return numberPanels(dashboard);
}
