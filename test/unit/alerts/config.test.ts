import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../../config/index.js';

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, 'syncwatch.yaml', env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((problem) => `${problem.key}: ${problem.message}`);
  }
  throw new Error('expected the configuration to be rejected');
}

describe('alerts configuration', () => {
  it('defaults to no targets', () => {
    const config = parseConfigText('', 'syncwatch.yaml', {});
    expect(config.alerts.slack).toBeUndefined();
    expect(config.alerts.webhooks).toEqual([]);
  });

  it('parses Slack routes, quiet hours and throttle', () => {
    const config = parseConfigText(
      `alerts:
  slack:
    botToken: \${SLACK_BOT_TOKEN}
    signingSecret: \${SLACK_SIGNING_SECRET}
    defaultChannel: "#ops-alerts"
    routes:
      - match: { plant: plant-2, severity: [critical, warning] }
        channel: C0PLANT2
    quietHours: { start: "22:00", end: "06:00", timeZone: Europe/Berlin }
    throttle: { replyInterval: 30s }
  links: { dashboardUrl: "http://grafana.local:3000" }
`,
      'syncwatch.yaml',
      { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'abc' },
    );
    const slack = config.alerts.slack!;
    expect(slack.routes[0]!.match).toEqual({ plant: ['plant-2'], severity: ['critical', 'warning'] });
    expect(slack.quietHours!.appliesTo).toEqual({ syncModes: ['batch'], severities: ['warning', 'info'] });
    expect(slack.throttle).toEqual({ replyInterval: 30_000, groupWindow: 900_000 });
  });

  it('rejects an unknown time zone', () => {
    const problems = problemsOf(`alerts:
  slack:
    botToken: xoxb-1
    defaultChannel: C0OPS
    quietHours: { start: "22:00", end: "06:00", timeZone: Mars/Olympus }
`);
    expect(problems).toEqual(['alerts.slack.quietHours.timeZone: expected an IANA time zone such as Europe/Berlin or UTC, received "Mars/Olympus"']);
  });

  it('lists allowed severities of a route', () => {
    const problems = problemsOf(`alerts:
  slack:
    botToken: xoxb-1
    defaultChannel: C0OPS
    routes:
      - match: { severity: fatal }
        channel: C0X
      - match: { severity: [critical, fatal] }
        channel: C0X
`);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toBe(
      'alerts.slack.routes[0].match.severity: expected one of "critical", "warning", "info", or a non-empty list of them, received string "fatal"',
    );
    expect(problems[1]).toContain('alerts.slack.routes[1].match.severity: expected one of "critical", "warning", "info"');
    expect(problems[1]).toContain('"fatal"');
  });

  it('hides secrets in error messages', () => {
    const problems = problemsOf(`alerts:
  webhooks:
    - name: pager
      url: http://127.0.0.1:9/hook
      secret: short-secret
`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('alerts.webhooks[0].secret');
    expect(problems[0]).not.toContain('short-secret');
  });

  it('rejects URLs other than http and https', () => {
    const problems = problemsOf(`alerts:
  slack:
    botToken: xoxb-1
    defaultChannel: C0OPS
    apiUrl: ftp://127.0.0.1/api/
  webhooks:
    - { name: pager, url: "file:///etc/hostname", secret: 0123456789abcdef0 }
  links: { consoleUrl: "javascript:alert(1)" }
`);
    expect(problems).toEqual([
      'alerts.slack.apiUrl: expected an http or https URL; received string "ftp://127.0.0.1/api/"',
      'alerts.webhooks[0].url: expected an http or https URL; received string "file:///etc/hostname"',
      'alerts.links.consoleUrl: expected an http or https URL; received string "javascript:alert(1)"',
    ]);
  });

  it('rejects duplicate webhook names', () => {
    const problems = problemsOf(`alerts:
  webhooks:
    - { name: pager, url: "http://127.0.0.1:9/a", secret: 0123456789abcdef0 }
    - { name: chat, url: "http://127.0.0.1:9/b", secret: 0123456789abcdef0 }
    - { name: pager, url: "http://127.0.0.1:9/c", secret: 0123456789abcdef0 }
`);
    expect(problems).toEqual(['alerts.webhooks[2].name: expected a unique webhook name, received "pager", which webhooks[0] uses already']);
  });
});
