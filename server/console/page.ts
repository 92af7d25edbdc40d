/**
 * The console's HTML page and style sheet. They live in TypeScript modules so
 * that the build copies them into `dist/` with the rest of the service.
 */

export const CONSOLE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>syncwatch console</title>
  <link rel="stylesheet" href="/console/console.css">
  <script type="module" src="/console/console.js"></script>
</head>
<body>
  <header class="top">
    <h1>syncwatch <span class="subtitle">remediation console</span></h1>
    <p id="identity" class="identity" aria-live="polite"></p>
    <button id="sign-out" type="button" class="secondary" hidden>Forget token</button>
  </header>
  <main>
    <section id="sign-in" class="panel" aria-labelledby="sign-in-title" hidden>
      <h2 id="sign-in-title">Sign in</h2>
      <form id="token-form">
        <label for="token-input">API token</label>
        <input id="token-input" name="token" type="password" autocomplete="off" spellcheck="false" required>
        <button type="submit">Open the console</button>
      </form>
      <p class="hint">The token stays in this tab's session storage and is sent only to this syncwatch service.</p>
      <p id="sign-in-error" class="error" role="alert"></p>
    </section>

    <div id="app" class="layout" hidden>
      <div class="lists">
        <section class="panel" aria-labelledby="proposals-title">
          <h2 id="proposals-title">Pending proposals</h2>
          <p id="proposals-note" class="hint"></p>
          <ul id="proposals" class="proposal-list"></ul>
        </section>
        <section class="panel" aria-labelledby="incidents-title">
          <h2 id="incidents-title">Open incidents</h2>
          <p id="incidents-note" class="hint"></p>
          <table id="incidents">
            <thead><tr><th scope="col">Severity</th><th scope="col">Incident</th><th scope="col">Where</th><th scope="col">Updated</th></tr></thead>
            <tbody></tbody>
          </table>
        </section>
      </div>
      <section id="detail" class="panel detail" aria-labelledby="detail-title" hidden>
        <h2 id="detail-title" tabindex="-1"></h2>
        <p id="detail-status" class="status"></p>
        <dl id="detail-facts" class="facts"></dl>
        <h3>Rationale</h3>
        <p id="detail-rationale"></p>
        <h3>Duplicate risk</h3>
        <p id="detail-duplicate-risk" class="risk"></p>
        <h3>Blast radius</h3>
        <p id="detail-blast-radius"></p>
        <h3>Targets</h3>
        <table id="detail-targets">
          <thead><tr><th scope="col">Kind</th><th scope="col">Reference</th><th scope="col">Detail</th><th scope="col">State</th></tr></thead>
          <tbody></tbody>
        </table>
        <div id="decision" class="decision">
          <div id="decision-controls" hidden>
            <button id="approve" type="button">Approve</button>
            <form id="reject-form" class="reject">
              <label for="reject-reason">Reason for rejecting</label>
              <textarea id="reject-reason" rows="2" required></textarea>
              <button id="reject" type="submit" class="danger">Reject</button>
            </form>
          </div>
          <p id="outcome" class="outcome" role="status" aria-live="polite"></p>
          <p id="result" class="result" aria-live="polite"></p>
          <p id="decision-note" class="hint"></p>
        </div>
        <h3>Audit trail</h3>
        <ol id="detail-audit" class="audit"></ol>
      </section>
    </div>
  </main>
</body>
</html>
`;

export const CONSOLE_CSS = String.raw`
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6473; --line: #d5dae2; --accent: #1f5fbf; --danger: #b3261e; --ok: #1e7b34; --warn: #9a6700; font-family: system-ui, sans-serif; color: var(--ink); background: #f5f7fa; }
body { margin: 0; }
.top { display: flex; align-items: baseline; gap: 1rem; padding: 0.75rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); }
.top h1 { font-size: 1.25rem; margin: 0; }
.subtitle { font-weight: normal; color: var(--muted); }
.identity { margin: 0 0 0 auto; color: var(--muted); }
main { padding: 1rem 1.5rem; }
.layout { display: grid; grid-template-columns: minmax(18rem, 1fr) minmax(24rem, 1.4fr); gap: 1rem; align-items: start; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 1rem 1.25rem; margin-bottom: 1rem; }
.panel h2 { font-size: 1.1rem; margin-top: 0; }
h3 { font-size: 0.95rem; margin: 1rem 0 0.25rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
.proposal-list { list-style: none; padding: 0; margin: 0; }
.proposal-list li { border-bottom: 1px solid var(--line); }
.proposal-list button { all: unset; box-sizing: border-box; display: block; width: 100%; padding: 0.5rem; cursor: pointer; }
.proposal-list button:hover, .proposal-list button:focus-visible { background: #eef3fb; outline: 2px solid var(--accent); }
.proposal-list .meta { display: block; color: var(--muted); font-size: 0.85rem; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; margin: 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
.status { font-weight: 600; }
.risk { border-left: 4px solid var(--warn); padding-left: 0.5rem; }
.decision { margin-top: 1rem; padding-top: 0.75rem; border-top: 1px solid var(--line); }
.reject { display: grid; gap: 0.25rem; margin-top: 0.75rem; max-width: 30rem; }
button { font: inherit; padding: 0.4rem 1rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--danger); border-color: var(--danger); justify-self: start; }
button:disabled { opacity: 0.5; cursor: wait; }
input, textarea { font: inherit; padding: 0.35rem; border: 1px solid var(--line); border-radius: 4px; }
#token-form { display: flex; gap: 0.5rem; align-items: center; flex-wrap: wrap; }
#token-input { min-width: 20rem; }
.hint { color: var(--muted); }
.error { color: var(--danger); }
.outcome { font-weight: 600; }
.result.executed { color: var(--ok); }
.result.failed { color: var(--danger); }
.severity-critical { color: var(--danger); font-weight: 600; }
.severity-warning { color: var(--warn); font-weight: 600; }
.audit { font-size: 0.85rem; color: var(--muted); padding-left: 1.25rem; }
@media (max-width: 60rem) { .layout { grid-template-columns: 1fr; } }
`;
