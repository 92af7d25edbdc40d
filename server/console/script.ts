/**
 * The console's browser script: plain JavaScript that the service sends as
 * `/console/console.js`. It talks only to the `/api/v1` routes with the token
 * the user entered, and builds every element with `textContent`, so no value
 * from the API is ever parsed as HTML. The script is the body of a template
 * literal, so it must not contain a backtick or a dollar sign followed by a
 * brace. A unit test parses it.
 */
export const CONSOLE_SCRIPT = String.raw`
const TOKEN_KEY = 'syncwatch.token';
const API = '/api/v1';
const POLL_INTERVAL_MS = 1000;
const POLL_LIMIT_MS = 120000;
const REFRESH_INTERVAL_MS = 15000;
const FINAL_STATUSES = ['executed', 'failed', 'rejected', 'expired'];

const state = { token: null, me: null, selectedId: null, refreshTimer: null, pollGeneration: 0, incidents: new Map() };

function byId(id) {
  return document.getElementById(id);
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function formatTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

function formatRelative(iso) {
  const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const absolute = Math.abs(seconds);
  let amount = Math.round(absolute / 3600) + ' h';
  if (absolute < 120) amount = absolute + ' s';
  else if (absolute < 7200) amount = Math.round(absolute / 60) + ' min';
  return seconds >= 0 ? 'in ' + amount : amount + ' ago';
}

class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, options) {
  const request = options || {};
  const headers = { authorization: 'Bearer ' + state.token, 'x-syncwatch-channel': 'console' };
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  if (request.idempotencyKey) headers['idempotency-key'] = request.idempotencyKey;
  const response = await fetch(API + path, {
    method: request.method || 'GET',
    headers,
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
    cache: 'no-store',
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = body.error || {};
    if (response.status === 401) signOut('The token was not accepted: ' + (error.message || 'unauthorized'));
    throw new ApiFailure(response.status, error.code || 'HTTP_' + response.status, error.message || response.statusText);
  }
  return body;
}

function takeTokenFromUrl() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  url.searchParams.delete('token');
  // The token leaves the address bar and the history entry at once.
  history.replaceState(null, '', url.pathname + url.search + url.hash);
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.me = null;
  if (state.refreshTimer) clearInterval(state.refreshTimer);
  byId('app').hidden = true;
  byId('sign-out').hidden = true;
  byId('identity').textContent = '';
  byId('sign-in').hidden = false;
  byId('sign-in-error').textContent = message || '';
  byId('token-input').focus();
}

async function start() {
  takeTokenFromUrl();
  state.token = sessionStorage.getItem(TOKEN_KEY);
  if (!state.token) {
    signOut('');
    return;
  }
  try {
    state.me = await api('/me');
  } catch (error) {
    if (error.status !== 401) signOut('The console could not load your identity: ' + error.message);
    return;
  }
  const me = state.me;
  byId('sign-in').hidden = true;
  byId('app').hidden = false;
  byId('sign-out').hidden = false;
  byId('identity').textContent = 'Signed in as ' + me.user + ' (' + (me.role || 'no role') + '), token ' + me.token;
  await refreshLists();
  state.refreshTimer = setInterval(() => void refreshLists(), REFRESH_INTERVAL_MS);
  const fromHash = new URLSearchParams(window.location.hash.slice(1)).get('proposal');
  if (fromHash) await openProposal(fromHash);
}

async function refreshLists() {
  await Promise.all([loadProposals(), loadIncidents()]);
}

async function loadProposals() {
  const list = byId('proposals');
  const note = byId('proposals-note');
  try {
    const body = await api('/proposals?status=pending');
    list.replaceChildren();
    note.textContent = body.proposals.length === 0 ? 'No proposal waits for a decision.' : '';
    for (const proposal of body.proposals) {
      const item = element('li');
      const button = element('button');
      button.type = 'button';
      button.dataset.proposalId = proposal.id;
      button.append(element('strong', proposal.action + ' on ' + proposal.integration));
      const where = [proposal.workflow, proposal.plant].filter(Boolean).join(', ');
      const approvals = proposal.approvals.length + ' of ' + proposal.requiredApprovals + ' approvals';
      button.append(element('span', (where ? where + ' · ' : '') + approvals + ' · expires ' + formatRelative(proposal.expiresAt), 'meta'));
      button.addEventListener('click', () => void openProposal(proposal.id));
      item.append(button);
      list.append(item);
    }
  } catch (error) {
    note.textContent = 'Proposals could not be loaded: ' + error.message;
  }
}

async function loadIncidents() {
  const body = byId('incidents').tBodies[0];
  const note = byId('incidents-note');
  try {
    const result = await api('/incidents');
    body.replaceChildren();
    note.textContent = result.note || '';
    if (!result.note && result.incidents.length === 0) note.textContent = 'No incident is open.';
    state.incidents = new Map(result.incidents.map((incident) => [incident.id, incident]));
    for (const incident of result.incidents) {
      const row = element('tr');
      row.append(element('td', incident.severity || '', 'severity-' + (incident.severity || 'none')));
      const title = element('td');
      title.append(element('strong', incident.title));
      if (incident.explanation) title.append(element('div', incident.explanation, 'hint'));
      row.append(title);
      row.append(element('td', [incident.integration, incident.workflow, incident.plant].filter(Boolean).join(' · ')));
      row.append(element('td', formatTime(incident.updatedAt || incident.openedAt)));
      body.append(row);
    }
  } catch (error) {
    note.textContent = 'Incidents could not be loaded: ' + error.message;
  }
}

function addFact(list, term, value) {
  if (value === undefined || value === null || value === '') return;
  list.append(element('dt', term));
  list.append(element('dd', value));
}

function renderProposal(proposal, audit) {
  byId('detail').hidden = false;
  byId('detail').dataset.proposalId = proposal.id;
  byId('detail-title').textContent = proposal.action + ' on ' + proposal.integration;
  byId('detail-status').textContent = 'Status: ' + proposal.status;

  const facts = byId('detail-facts');
  facts.replaceChildren();
  addFact(facts, 'Proposal', proposal.id);
  const incident = state.incidents.get(proposal.incidentId);
  addFact(facts, 'Incident', incident ? incident.title + ' (' + proposal.incidentId + ')' : proposal.incidentId);
  addFact(facts, 'Workflow', proposal.workflow);
  addFact(facts, 'Plant', proposal.plant);
  addFact(facts, 'Created', formatTime(proposal.createdAt));
  addFact(facts, 'Expires', formatTime(proposal.expiresAt) + ' (' + formatRelative(proposal.expiresAt) + ')');
  const approvers = proposal.approvals.map((approval) => approval.userName + ' at ' + formatTime(approval.at)).join('; ');
  addFact(facts, 'Approvals', proposal.approvals.length + ' of ' + proposal.requiredApprovals + (approvers ? ': ' + approvers : ''));
  if (proposal.rejection) {
    addFact(facts, 'Rejected', proposal.rejection.userName + ' at ' + formatTime(proposal.rejection.at) + ': ' + proposal.rejection.reason);
  }

  byId('detail-rationale').textContent = proposal.rationale;
  byId('detail-duplicate-risk').textContent = proposal.duplicateRisk;
  const radius = proposal.blastRadius;
  byId('detail-blast-radius').textContent =
    radius.events + ' events, ' + radius.orders + ' orders, plants: ' + (radius.plants.length ? radius.plants.join(', ') : 'none');

  const targets = byId('detail-targets').tBodies[0];
  targets.replaceChildren();
  for (const target of proposal.targets) {
    const row = element('tr');
    row.append(element('td', target.kind), element('td', target.ref), element('td', target.detail || ''), element('td', target.state));
    targets.append(row);
  }

  const canDecide = Boolean(state.me && state.me.permissions.decide);
  const pending = proposal.status === 'pending';
  const approvedByMe = proposal.approvals.some((approval) => state.me && approval.userName === state.me.user);
  byId('decision-controls').hidden = !(canDecide && pending);
  // The policy counts each approver once, so a second approval must come from someone else.
  byId('approve').hidden = approvedByMe;
  let note = '';
  if (!canDecide) note = 'Your role (' + (state.me.role || 'none') + ') with this token cannot approve or reject proposals.';
  else if (!pending) note = 'This proposal is ' + proposal.status + ' and takes no more decisions.';
  else if (approvedByMe) note = 'You approved this proposal. It waits for another approver.';
  byId('decision-note').textContent = note;
  byId('result').textContent = proposal.result ? 'Execution result: ' + proposal.result : '';
  byId('result').className = 'result ' + proposal.status;

  const trail = byId('detail-audit');
  trail.replaceChildren();
  for (const entry of audit) {
    trail.append(element('li', formatTime(entry.at) + ' · ' + entry.actor + ' via ' + entry.channel + ' · ' + entry.event + (entry.detail ? ': ' + entry.detail : '')));
  }
}

async function openProposal(id) {
  state.selectedId = id;
  state.pollGeneration += 1;
  byId('outcome').textContent = '';
  byId('reject-reason').value = '';
  history.replaceState(null, '', window.location.pathname + '#proposal=' + encodeURIComponent(id));
  try {
    const body = await api('/proposals/' + encodeURIComponent(id));
    renderProposal(body.proposal, body.audit);
    byId('detail-title').focus();
  } catch (error) {
    byId('detail').hidden = false;
    byId('detail-title').textContent = 'Proposal ' + id;
    byId('outcome').textContent = 'The proposal could not be loaded: ' + error.message;
  }
}

function setBusy(busy) {
  byId('approve').disabled = busy;
  byId('reject').disabled = busy;
}

async function submitDecision(decision) {
  const id = state.selectedId;
  if (!id) return;
  const reason = byId('reject-reason').value.trim();
  if (decision === 'reject' && !reason) {
    byId('outcome').textContent = 'Write a reason before rejecting.';
    byId('reject-reason').focus();
    return;
  }

  // One key per click: a retry after a lost reply returns the first outcome instead of deciding twice.
  const idempotencyKey = newIdempotencyKey();
  setBusy(true);
  byId('outcome').textContent = decision === 'approve' ? 'Approving…' : 'Rejecting…';

  let body;
  try {
    body = await sendDecision(id, decision, reason, idempotencyKey);
  } catch (error) {
    byId('outcome').textContent =
      error instanceof ApiFailure
        ? 'Refused (' + error.code + '): ' + error.message
        : 'The decision could not be sent: ' + error.message;
    setBusy(false);
    return;
  }

  byId('outcome').textContent = describeOutcome(body.outcome);
  if (body.proposal) renderProposal(body.proposal, []);
  setBusy(false);
  void loadProposals();

  try {
    await pollUntilSettled(id);
  } catch (error) {
    byId('result').textContent = 'The decision was recorded, but the proposal could not be reloaded: ' + error.message;
  }
}

/** Returns a random key; crypto.randomUUID exists only in secure contexts, so plain HTTP falls back to random bytes. */
function newIdempotencyKey() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

async function sendDecision(id, decision, reason, idempotencyKey) {
  const path = '/proposals/' + encodeURIComponent(id) + '/' + decision;
  const body = decision === 'reject' ? { reason } : {};
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await api(path, { method: 'POST', body, idempotencyKey });
    } catch (error) {
      // Only a lost connection is retried, with the same key, because a reply from the server is final.
      if (error instanceof ApiFailure || attempt >= 3) throw error;
    }
  }
}

function describeOutcome(outcome) {
  switch (outcome.status) {
    case 'awaiting_second_approval':
      return 'Approved. ' + outcome.message;
    case 'executing':
      return 'Approved; the action is running.';
    case 'executed':
      return 'Approved and executed.';
    case 'failed':
      return 'Approved, but the action failed.';
    case 'rejected':
      return 'Rejected.';
    default:
      return outcome.message;
  }
}

/** Reloads the proposal every second until its execution ends, it waits for another approver, or two minutes pass. */
async function pollUntilSettled(id) {
  const ticket = ++state.pollGeneration;
  const deadline = Date.now() + POLL_LIMIT_MS;
  let last;
  for (;;) {
    const body = await api('/proposals/' + encodeURIComponent(id));
    if (ticket !== state.pollGeneration) return;
    renderProposal(body.proposal, body.audit);
    last = body.proposal.status;
    if (last === 'executed') byId('outcome').textContent = 'Approved; the action ran.';
    if (last === 'failed') byId('outcome').textContent = 'Approved, but the action failed.';
    if (FINAL_STATUSES.includes(last) || last === 'pending') return;
    if (Date.now() > deadline) {
      byId('result').textContent = 'The action is still ' + last + '; reopen the proposal later to see its result.';
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

byId('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = byId('token-input').value.trim();
  if (!value) return;
  sessionStorage.setItem(TOKEN_KEY, value);
  byId('token-input').value = '';
  void start();
});
byId('sign-out').addEventListener('click', () => signOut('The token was removed from this tab.'));
byId('approve').addEventListener('click', () => void submitDecision('approve'));
byId('reject-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void submitDecision('reject');
});
void start();
`;
