import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../../config/index.js';

function problemsOf(text: string): string[] {
  try {
    parseConfigText(text, 'syncwatch.yaml', {});
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((problem) => `${problem.key}: ${problem.message}`);
  }
  throw new Error('expected the configuration to be rejected');
}

describe('api.tokens', () => {
  it('keeps sql tokens without a user', () => {
    const config = parseConfigText(
      `api:
  tokens:
    - { name: analysts, token: analyst-token-0123456789 }
`,
      'syncwatch.yaml',
      {},
    );

    expect(config.api.tokens).toEqual([{ name: 'analysts', token: 'analyst-token-0123456789', scopes: ['sql'] }]);
  });

  it('binds remediation scopes to a user', () => {
    const config = parseConfigText(
      `api:
  tokens:
    - { name: alice-console, token: approver-token-0123456789, user: alice, scopes: [read, approve] }
remediation:
  users:
    - { name: alice, role: approver }
`,
      'syncwatch.yaml',
      {},
    );

    expect(config.api.tokens[0]?.user).toBe('alice');
    expect(config.api.tokens[0]?.scopes).toEqual(['read', 'approve']);
  });

  it('requires a user for remediation scopes', () => {
    const problems = problemsOf(`api:
  tokens:
    - { name: ops, token: ops-token-0123456789, scopes: [approve] }
`);

    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^api\.tokens\[0\]\.user: .*add user: <name> to token "ops"/);
  });

  it('rejects an unknown scope', () => {
    const problems = problemsOf(`api:
  tokens:
    - { name: ops, token: ops-token-0123456789, user: alice, scopes: [write] }
`);

    expect(problems[0]).toMatch(/^api\.tokens\[0\]\.scopes\[0\]: expected one of: "sql"/);
  });

  it('rejects a token value listed twice', () => {
    const problems = problemsOf(`api:
  tokens:
    - { name: analysts, token: shared-token-0123456789, scopes: [sql] }
    - { name: root-console, token: shared-token-0123456789, user: root, scopes: [admin] }
remediation:
  users:
    - { name: root, role: admin }
`);

    expect(problems).toEqual([
      'api.tokens[1].token: token "root-console" has the same value as token "analysts"; give each token its own value',
    ]);
  });

  it('keeps token values out of the duplicate message', () => {
    const problems = problemsOf(`api:
  tokens:
    - { name: first, token: shared-token-0123456789 }
    - { name: second, token: shared-token-0123456789 }
`);

    expect(problems.join('\n')).not.toContain('shared-token-0123456789');
  });

  it('rejects duplicate token names', () => {
    const problems = problemsOf(`api:
  tokens:
    - { name: analysts, token: first-token-0123456789 }
    - { name: analysts, token: second-token-0123456789 }
`);

    expect(problems).toEqual([expect.stringMatching(/^api\.tokens\[1\]\.name: duplicate name "analysts"/)]);
  });

  it('rejects a user missing from remediation.users', () => {
    const problems = problemsOf(`api:
  tokens:
    - { name: mallory-console, token: mallory-token-0123456789, user: mallory, scopes: [approve] }
remediation:
  users:
    - { name: alice, role: approver }
`);

    expect(problems).toEqual([
      'api.tokens[0].user: token "mallory-console" acts as user "mallory", which remediation.users does not list; ' +
        'add the user there with a role, or use one of: alice',
    ]);
  });
});

describe('api.rateLimit', () => {
  it('defaults to 300 requests a minute', () => {
    const config = parseConfigText('', 'syncwatch.yaml', {});

    expect(config.api.rateLimit).toEqual({ max: 300, window: 60_000 });
  });

  it('reads a window as a duration', () => {
    const config = parseConfigText(
      `api:
  rateLimit: { max: 20, window: 10s }
`,
      'syncwatch.yaml',
      {},
    );

    expect(config.api.rateLimit).toEqual({ max: 20, window: 10_000 });
  });
});
