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

describe('collector.otlp.tokens', () => {
  it('defaults to no tokens', () => {
    const config = parseConfigText('', 'syncwatch.yaml', {});

    expect(config.collector.otlp.tokens).toEqual([]);
  });

  it('reads tokens from the environment', () => {
    const config = parseConfigText(
      `collector:
  otlp:
    tokens:
      - name: mes-plant-a
        token: \${MES_INGEST_TOKEN}
`,
      'syncwatch.yaml',
      { MES_INGEST_TOKEN: 'mes-ingest-token-0123456789' },
    );

    expect(config.collector.otlp.tokens).toEqual([
      { name: 'mes-plant-a', token: 'mes-ingest-token-0123456789', scopes: ['ingest'] },
    ]);
  });

  it('rejects the sql scope', () => {
    const problems = problemsOf(`collector:
  otlp:
    tokens:
      - { name: mes, token: mes-ingest-token-0123456789, scopes: [sql] }
`);

    expect(problems[0]).toMatch(/^collector\.otlp\.tokens\[0\]\.scopes\[0\]: expected one of: "ingest"/);
  });

  it('rejects ingest scope on API tokens', () => {
    const problems = problemsOf(`api:
  tokens:
    - { name: grafana, token: grafana-token-0123456789, scopes: [ingest] }
`);

    expect(problems[0]).toMatch(/^api\.tokens\[0\]\.scopes\[0\]: expected one of: "sql"/);
  });

  it('rejects short tokens', () => {
    const problems = problemsOf(`collector:
  otlp:
    tokens:
      - { name: mes, token: short }
`);

    expect(problems[0]).toMatch(/^collector\.otlp\.tokens\[0\]\.token: expected a token of at least 16 characters/);
  });

  it('rejects duplicate token names', () => {
    const problems = problemsOf(`collector:
  otlp:
    tokens:
      - { name: mes, token: mes-ingest-token-0123456789 }
      - { name: mes, token: mes-ingest-token-9876543210 }
`);

    expect(problems[0]).toMatch(/^collector\.otlp\.tokens\[1\]\.name: duplicate name "mes"/);
  });

  it('rejects a token shared with the API', () => {
    const problems = problemsOf(`collector:
  otlp:
    tokens:
      - { name: mes, token: shared-token-0123456789 }
api:
  tokens:
    - { name: grafana, token: shared-token-0123456789 }
`);

    expect(problems[0]).toMatch(/^collector\.otlp\.tokens\[0\]\.token: this token is also an API token/);
  });
});
