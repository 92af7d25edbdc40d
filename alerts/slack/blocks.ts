import type { ActionsBlock, ContextBlock, KnownBlock, SectionBlock } from '@slack/web-api';
import { INTEGRATION_DRILL_DOWN_UID } from '../../dashboards/integration-drill-down.js';
import type { AlertEvent, AlertMetric, AlertProposal, AlertSeverity } from '../alert.js';
import type { AlertCatalogueEntry } from '../catalogue.js';
import { redactSample } from '../redact.js';

/** `action_id` of the proposal buttons; the interactivity endpoint dispatches on them. */
export const APPROVE_ACTION_ID = 'syncwatch_proposal_approve';
export const REJECT_ACTION_ID = 'syncwatch_proposal_reject';
/** Prefix of the `block_id` of a proposal's actions block, followed by the proposal id. */
export const PROPOSAL_BLOCK_PREFIX = 'proposal:';

/** Slack's limits: 3,000 characters per section text, 150 per header, 2,000 per field. */
const SECTION_TEXT_LIMIT = 3_000;
const HEADER_TEXT_LIMIT = 150;
const SAMPLE_LIMIT = 600;
const CORRELATION_IDS_SHOWN = 5;

export interface AlertLinks {
  dashboardUrl?: string;
  consoleUrl?: string;
}

export interface RenderedMessage {
  text: string;
  blocks: KnownBlock[];
}

const SEVERITY_MARK: Record<AlertSeverity, string> = {
  critical: ':red_circle:',
  warning: ':large_orange_circle:',
  info: ':large_blue_circle:',
};

/** What the root message of a thread shows: the first incident and the state of its group. */
export interface ThreadSummary {
  alert: AlertCatalogueEntry;
  /** Latest event of the incident that opened the thread. */
  root: AlertEvent;
  /** Latest event of any incident of the thread. */
  latest: AlertEvent;
  openIncidents: number;
  totalIncidents: number;
  updates: number;
  resolvedAt?: Date;
  /** Proposals that still have buttons in the root message. */
  proposals: AlertProposal[];
  /** Outcomes of decisions taken in Slack on the root incident's proposals, one line each. */
  decisions: string[];
  /** Whether proposals get Approve and Reject buttons, which work only while `POST /slack/interactivity` is registered. */
  decisionButtons: boolean;
}

/** Renders the root message of a thread, which `chat.update` rewrites as the group changes. */
export function renderRootMessage(summary: ThreadSummary, links: AlertLinks): RenderedMessage {
  const { root, alert } = summary;
  const resolved = summary.resolvedAt !== undefined;
  const severity = summary.latest.severity === 'critical' ? 'critical' : root.severity;
  const status = resolved ? `:white_check_mark: Resolved ${formatTime(summary.resolvedAt)}` : `${SEVERITY_MARK[severity]} ${severity.toUpperCase()}`;
  const header = truncate(`${resolved ? 'Resolved: ' : ''}${root.title}`, HEADER_TEXT_LIMIT);
  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: header, emoji: true } },
    section(`${status} · \`${alert.id}\`\n${escapeText(root.explanation)}`),
    ...renderEventDetails(resolved ? root : summary.latest),
  ];
  if (summary.totalIncidents > 1 || summary.updates > 0) {
    blocks.push(
      context(
        `${summary.openIncidents} of ${summary.totalIncidents} incidents open · ${summary.updates} updates in the thread · last change ${formatTime(summary.latest.at)}`,
      ),
    );
  }
  if (!resolved) blocks.push(...summary.proposals.map((proposal) => renderProposal(proposal, links, summary.decisionButtons)).flat());
  for (const decision of summary.decisions) blocks.push(context(decision));
  blocks.push(...renderFooter(root, alert, links));
  // Slack parses the notification text as mrkdwn too, so titles are escaped there as in the blocks.
  const text = `${resolved ? 'Resolved: ' : `[${severity.toUpperCase()}] `}${escapeText(root.title)}`;
  return { text, blocks };
}

/** What one thread reply reports: the latest event and what was folded into it. */
export interface ReplySummary {
  latest: AlertEvent;
  /** Events received since the previous reply, the latest included. */
  events: number;
  incidents: number;
  opened: number;
  resolved: number;
  since: Date;
  /** Proposals not shown in the thread before. */
  newProposals: AlertProposal[];
  threadResolved: boolean;
  /** Whether proposals get Approve and Reject buttons. */
  decisionButtons: boolean;
}

/** Renders one thread reply. */
export function renderThreadReply(reply: ReplySummary, links: AlertLinks): RenderedMessage {
  const { latest } = reply;
  const lead = reply.threadResolved
    ? `:white_check_mark: *Resolved* ${formatTime(latest.at)}: ${escapeText(latest.title)}`
    : `${SEVERITY_MARK[latest.severity]} *${latest.state}* ${formatTime(latest.at)}: ${escapeText(latest.title)}`;
  const blocks: KnownBlock[] = [section(`${lead}\n${escapeText(latest.explanation)}`), ...renderEventDetails(latest)];
  const folded = reply.events - 1;
  if (folded > 0) {
    const parts = [`${folded} more updates since ${formatTime(reply.since)} folded into this reply`, `${reply.incidents} incidents`];
    if (reply.opened > 0) parts.push(`${reply.opened} opened`);
    if (reply.resolved > 0) parts.push(`${reply.resolved} resolved`);
    blocks.push(context(parts.join(' · ')));
  }
  blocks.push(...reply.newProposals.map((proposal) => renderProposal(proposal, links, reply.decisionButtons)).flat());
  const title = escapeText(latest.title);
  const text = reply.threadResolved ? `Resolved: ${title}` : `${latest.state}: ${title}${folded > 0 ? ` (+${folded} updates)` : ''}`;
  return { text, blocks };
}

/** Renders the fields of an event: where, what was measured against what, when, and why. */
export function renderEventDetails(event: AlertEvent): KnownBlock[] {
  const fields: string[] = [];
  if (event.integration) fields.push(`*Integration*\n${escapeText(event.integration)}`);
  if (event.workflow) fields.push(`*Workflow*\n${escapeText(event.workflow)}`);
  if (event.plant) fields.push(`*Plant*\n${escapeText(event.plant)}`);
  if (event.metric) {
    fields.push(`*Observed ${escapeText(event.metric.name)}*\n${formatValue(event.metric.observed, event.metric.unit)}`);
    const expected = formatExpected(event.metric);
    if (expected) fields.push(`*Expected*\n${expected}`);
  }
  if (event.window) fields.push(`*Window*\n${formatTime(event.window.start)} – ${formatTime(event.window.end)}`);
  if (event.predictedBreachAt) fields.push(`*Predicted breach*\n${formatBreach(event)}`);
  const blocks: KnownBlock[] = [];
  // Slack shows at most 10 fields per section.
  for (let index = 0; index < fields.length; index += 10) {
    blocks.push({ type: 'section', fields: fields.slice(index, index + 10).map((text) => ({ type: 'mrkdwn', text })) });
  }
  if (event.exception) {
    const { exception } = event;
    const retry = exception.retryable ? 'retryable' : 'not retryable';
    const sample = truncate(redactSample(exception.sample), SAMPLE_LIMIT).replaceAll('```', "'''");
    blocks.push(
      section(`*Exception* \`${escapeText(exception.category)}\` · ${retry} · ${exception.count} occurrences · fingerprint \`${escapeText(exception.fingerprint)}\`\n\`\`\`${escapeText(sample)}\`\`\``),
    );
  }
  if (event.correlationIds && event.correlationIds.length > 0) {
    const shown = event.correlationIds.slice(0, CORRELATION_IDS_SHOWN).map((id) => `\`${escapeText(id)}\``);
    const more = event.correlationIds.length - shown.length;
    blocks.push(context(`Correlation ids: ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`));
  }
  return blocks;
}

/**
 * Renders a proposal with its Approve and Reject buttons; the block id carries
 * the proposal id. Without buttons, the proposal names where to decide instead.
 */
export function renderProposal(proposal: AlertProposal, links: AlertLinks, buttons: boolean): KnownBlock[] {
  const consoleLink = links.consoleUrl ? ` · <${proposalUrl(links.consoleUrl, proposal.proposalId)}|details>` : '';
  const text = `:wrench: *Proposed:* \`${escapeText(proposal.action)}\` ${escapeText(proposal.summary)}\nExpires ${formatTime(proposal.expiresAt)}${consoleLink}`;
  if (!buttons) {
    const where = links.consoleUrl ? `<${proposalUrl(links.consoleUrl, proposal.proposalId)}|the console>` : 'the console or the API';
    return [section(text), context(`Approve or reject proposal \`${escapeText(proposal.proposalId)}\` in ${where}.`)];
  }
  const actions: ActionsBlock = {
    type: 'actions',
    block_id: `${PROPOSAL_BLOCK_PREFIX}${proposal.proposalId}`,
    elements: [
      {
        type: 'button',
        action_id: APPROVE_ACTION_ID,
        text: { type: 'plain_text', text: 'Approve' },
        style: 'primary',
        value: proposal.proposalId,
        confirm: {
          title: { type: 'plain_text', text: 'Approve this action?' },
          text: { type: 'mrkdwn', text: truncate(`${escapeText(proposal.action)}: ${escapeText(proposal.summary)}`, 300) },
          confirm: { type: 'plain_text', text: 'Approve' },
          deny: { type: 'plain_text', text: 'Cancel' },
        },
      },
      {
        type: 'button',
        action_id: REJECT_ACTION_ID,
        text: { type: 'plain_text', text: 'Reject' },
        style: 'danger',
        value: proposal.proposalId,
      },
    ],
  };
  return [section(text), actions];
}

function renderFooter(event: AlertEvent, alert: AlertCatalogueEntry, links: AlertLinks): KnownBlock[] {
  const parts: string[] = [];
  const dashboard = dashboardUrl(event, links);
  if (dashboard) parts.push(`<${dashboard}|Dashboard>`);
  if (links.consoleUrl) parts.push(`<${incidentUrl(links.consoleUrl)}|Console>`);
  parts.push(`incident \`${escapeText(event.incidentId)}\``);
  parts.push(`first check: ${escapeText(alert.firstCheck)}`);
  return [context(parts.join(' · '))];
}

/** Links to the integration drill-down, filtered to the event's plant, integration, workflow and window. */
export function dashboardUrl(event: AlertEvent, links: AlertLinks): string | undefined {
  if (!links.dashboardUrl) return undefined;
  const url = new URL(`d/${INTEGRATION_DRILL_DOWN_UID}`, withTrailingSlash(links.dashboardUrl));
  if (event.plant) url.searchParams.set('var-plant', event.plant);
  if (event.integration) url.searchParams.set('var-integration', event.integration);
  if (event.workflow) url.searchParams.set('var-workflow', event.workflow);
  const start = event.window?.start ?? new Date(event.at.getTime() - 60 * 60_000);
  const end = event.window?.end ?? event.at;
  // Thirty minutes either side show what led up to the window and what followed.
  url.searchParams.set('from', String(start.getTime() - 30 * 60_000));
  url.searchParams.set('to', String(end.getTime() + 30 * 60_000));
  return url.toString();
}

/**
 * Links to the console page. The console opens a proposal named in the
 * fragment (`#proposal=<id>`) and has no view of a single incident, so
 * incident links open its start page, which lists the open incidents.
 */
function incidentUrl(consoleUrl: string): string {
  return new URL(consoleUrl).toString();
}

function proposalUrl(consoleUrl: string, proposalId: string): string {
  const url = new URL(consoleUrl);
  url.hash = `proposal=${encodeURIComponent(proposalId)}`;
  return url.toString();
}

function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function formatExpected(metric: AlertMetric): string | undefined {
  const parts: string[] = [];
  if (metric.expected !== undefined) parts.push(formatValue(metric.expected, metric.unit));
  if (metric.lower !== undefined || metric.upper !== undefined) {
    const lower = metric.lower === undefined ? '…' : formatNumber(metric.lower);
    const upper = metric.upper === undefined ? '…' : formatNumber(metric.upper);
    parts.push(`band ${lower}–${upper} ${escapeText(metric.unit)}`);
  }
  if (metric.objective) parts.push(`objective ${escapeText(metric.objective)}`);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

function formatBreach(event: AlertEvent): string {
  const at = event.predictedBreachAt as Date;
  const minutes = Math.round((at.getTime() - event.at.getTime()) / 60_000);
  let relative = `in ${(minutes / 60).toFixed(1)} h`;
  if (minutes <= 0) relative = 'now';
  else if (minutes < 120) relative = `in ${minutes} min`;
  const probability = event.breachProbability === undefined ? '' : `, probability ${Math.round(event.breachProbability * 100)}%`;
  return `${relative} (${formatTime(at)})${probability}`;
}

function formatValue(value: number, unit: string): string {
  return `${formatNumber(value)} ${escapeText(unit)}`;
}

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return value.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

/** Formats a time as `2026-12-04 18:40:05 UTC`, which readers in every plant can convert. */
export function formatTime(at: Date | undefined): string {
  if (!at) return '';
  return `${at.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeText(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

function section(text: string): SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(text, SECTION_TEXT_LIMIT) } };
}

function context(text: string): ContextBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text }] };
}
