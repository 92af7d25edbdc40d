import { describe, expect, it } from 'vitest';
import { classifyAlert } from '../../../alerts/catalogue.js';
import { renderProposal, renderRootMessage, renderThreadReply, type ThreadSummary } from '../../../alerts/slack/blocks.js';
import { lagAnomaly } from '../../support/alert-events.js';

const CONSOLE_URL = 'http://127.0.0.1:8318/console';

function summaryOf(event = lagAnomaly()): ThreadSummary {
  return { alert: classifyAlert(event), root: event, latest: event, openIncidents: 1, totalIncidents: 1, updates: 0, proposals: [], decisions: [], decisionButtons: true };
}

describe('Slack message links', () => {
  it('opens a proposal through the console fragment', () => {
    const blocks = renderProposal(
      { proposalId: 'prop 7/a', action: 'requeue_dead_letters', summary: 'Requeue 12 quality holds', expiresAt: new Date('2026-12-04T19:40:00Z') },
      { consoleUrl: CONSOLE_URL },
      true,
    );
    const text = JSON.stringify(blocks);
    expect(text).toContain('<http://127.0.0.1:8318/console#proposal=prop%207%2Fa|details>');
    expect(text).not.toContain('/console/proposals/');
  });

  it('opens the console page for an incident', () => {
    const message = renderRootMessage(summaryOf(), { consoleUrl: CONSOLE_URL });
    const text = JSON.stringify(message.blocks);
    expect(text).toContain('<http://127.0.0.1:8318/console|Console>');
    expect(text).not.toContain('/console/incidents/');
  });
});

describe('Slack notification text', () => {
  const hostile = 'Lag <!channel> see <https://evil.example|click me> & more';
  const escaped = 'Lag &lt;!channel&gt; see &lt;https://evil.example|click me&gt; &amp; more';

  it('escapes the root message title', () => {
    const message = renderRootMessage(summaryOf(lagAnomaly({ title: hostile })), {});
    expect(message.text).toBe(`[CRITICAL] ${escaped}`);
    expect(message.text).not.toContain('<!channel>');
  });

  it('escapes the resolved root title', () => {
    const summary = { ...summaryOf(lagAnomaly({ title: hostile })), resolvedAt: new Date('2026-12-04T18:50:00Z') };
    expect(renderRootMessage(summary, {}).text).toBe(`Resolved: ${escaped}`);
  });

  it('escapes the thread reply title', () => {
    const latest = lagAnomaly({ title: hostile, state: 'updated' });
    const reply = renderThreadReply(
      { latest, events: 3, incidents: 1, opened: 0, resolved: 0, since: latest.at, newProposals: [], threadResolved: false, decisionButtons: true },
      {},
    );
    expect(reply.text).toBe(`updated: ${escaped} (+2 updates)`);
    expect(reply.text).not.toContain('<https://evil.example');
  });
});

describe('proposal without decision buttons', () => {
  const proposal = { proposalId: 'prop-9', action: 'requeue_dead_letters', summary: 'Requeue 12 quality holds', expiresAt: new Date('2026-12-04T19:40:00Z') };

  it('points to the console instead', () => {
    const blocks = renderProposal(proposal, { consoleUrl: CONSOLE_URL }, false);
    expect(blocks.some((block) => block.type === 'actions')).toBe(false);
    expect(JSON.stringify(blocks)).toContain('Approve or reject proposal `prop-9` in <http://127.0.0.1:8318/console#proposal=prop-9|the console>');
  });

  it('names the console without a console URL', () => {
    const blocks = renderProposal(proposal, {}, false);
    expect(blocks.some((block) => block.type === 'actions')).toBe(false);
    expect(JSON.stringify(blocks)).toContain('in the console or the API');
  });

  it('leaves buttons out of the root message', () => {
    const message = renderRootMessage({ ...summaryOf(), proposals: [proposal], decisionButtons: false }, {});
    expect(JSON.stringify(message.blocks)).not.toContain('syncwatch_proposal_approve');
  });
});
