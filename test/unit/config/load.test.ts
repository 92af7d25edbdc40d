import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../../config/index.js';

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, 'syncwatch.yaml', env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((problem) => `${problem.line ?? '-'} ${problem.key}: ${problem.message}`);
  }
  throw new Error('expected the configuration to be rejected');
}

describe('parseConfigText', () => {
  it('applies defaults to an empty file', () => {
    const config = parseConfigText('', 'syncwatch.yaml', {});
    expect(config.collector.otlp.port).toBe(4318);
    expect(config.collector.otlp.maxBodyBytes).toBe(8 * 1024 * 1024);
    expect(config.api.port).toBe(8318);
    expect(config.store.dataDir).toBe('./data');
    expect(config.sources).toEqual([]);
  });

  it('takes the data directory from SYNCWATCH_DATA_DIR', () => {
    const previous = process.env.SYNCWATCH_DATA_DIR;
    process.env.SYNCWATCH_DATA_DIR = '/srv/syncwatch';
    try {
      expect(parseConfigText('').store.dataDir).toBe('/srv/syncwatch');
      expect(parseConfigText('store:\n  dataDir: ./mine\n').store.dataDir).toBe('./mine');
    } finally {
      if (previous === undefined) delete process.env.SYNCWATCH_DATA_DIR;
      else process.env.SYNCWATCH_DATA_DIR = previous;
    }
  });

  it('parses workflows with objectives', () => {
    const config = parseConfigText(
      `integrations:
  - name: odoo-qms
    systems: [odoo, qms]
workflows:
  - name: quality_hold
    criticality: critical
    syncMode: real_time
    integrations: [odoo-qms]
    objective: { percentile: 95, within: 2m }
`,
      'syncwatch.yaml',
      {},
    );
    expect(config.workflows[0]?.objective).toEqual({ percentile: 95, within: 120_000 });
  });

  it('names an unknown key and its line', () => {
    const problems = problemsOf(`collector:
  otlp:
    prot: 4318
`);
    expect(problems).toEqual([expect.stringMatching(/^3 collector\.otlp\.prot: unknown key "prot"/)]);
  });

  it('names the expected and received type', () => {
    const problems = problemsOf(`api:
  port: "eighty"
`);
    expect(problems).toEqual(['2 api.port: expected number, received string "eighty"']);
  });

  it('lists allowed values of an enum', () => {
    const problems = problemsOf(`workflows:
  - name: quality_hold
    criticality: urgent
    syncMode: real_time
`);
    expect(problems[0]).toMatch(/workflows\[0\]\.criticality: expected one of: "critical", "high", "medium", "low"; received string "urgent"/);
  });

  it('lists allowed source kinds', () => {
    const problems = problemsOf(`integrations: [{ name: odoo, systems: [odoo] }]
sources:
  - kind: kafka
    name: k
    integration: odoo
`);
    expect(problems[0]).toMatch(/sources\[0\]\.kind: unknown kind string "kafka"; expected one of: .*rabbitmq/);
  });

  it('rejects references to undeclared integrations', () => {
    const problems = problemsOf(`workflows:
  - name: quality_hold
    criticality: critical
    syncMode: real_time
    integrations: [odoo-qms]
`);
    expect(problems[0]).toMatch(/workflows\[0\]\.integrations\[0\]: unknown integration "odoo-qms"/);
  });

  it('checks workflows named per queue', () => {
    const problems = problemsOf(`integrations: [{ name: odoo-mes, systems: [odoo, mes] }]
workflows:
  - { name: material_consumption, criticality: critical, syncMode: real_time }
sources:
  - kind: rabbitmq
    name: broker
    integration: odoo-mes
    url: amqp://127.0.0.1:5672
    queues:
      - name: q1
        workflow: nonexistent_flow
`);
    expect(problems).toEqual([expect.stringMatching(/^11 sources\[0\]\.queues\[0\]\.workflow: unknown workflow "nonexistent_flow"/)]);
  });

  it('hides secrets in messages', () => {
    const problems = problemsOf(
      `api:
  tokens:
    - name: grafana
      token: 12345
sources:
  - kind: queue_job
    name: jobs
    integration: odoo
    url: 5
    table: \${TABLE}
  - kind: rabbitmq
    name: broker
    integration: odoo
    url: http://user:\${PASSWORD}@127.0.0.1
    queues: [q]
`,
      { PASSWORD: 'S3cr3t-Passw0rd' },
    );
    const text = problems.join('\n');
    expect(text).not.toMatch(/12345/);
    expect(text).not.toMatch(/S3cr3t/);
    expect(text).toMatch(/api\.tokens\[0\]\.token: .*hidden/);
    expect(text).toMatch(/sources\[1\]\.url: expected an amqp:\/\/ or amqps:\/\/ URL; received a string \(hidden\)/);
  });

  it('hides listed secrets and environment values', () => {
    const problems = problemsOf(
      `api:
  tokens:
    - name: grafana
      token: ["\${SECRET_TOKEN}"]
integrations: [{ name: odoo, systems: [odoo] }]
sources:
  - kind: rabbitmq
    name: broker
    integration: odoo
    url: amqp://127.0.0.1
    queues: [q]
    interval: \${SECRET_TOKEN}
`,
      { SECRET_TOKEN: 's3cr3t-TOKEN-abcdefgh' },
    );
    expect(problems.join('\n')).not.toMatch(/s3cr3t/);
    expect(problems).toHaveLength(3);
    expect(problems[2]).toMatch(/^12 sources\[0\]\.interval: .*received a string \(hidden\)$/);
  });

  it('rejects a token with spaces', () => {
    const problems = problemsOf(`api:
  tokens:
    - name: grafana
      token: " token-with-a-leading-space"
`);
    expect(problems[0]).toMatch(/api\.tokens\[0\]\.token: expected a token without spaces/);
  });

  it('gives a missing key its parent line', () => {
    const problems = problemsOf(`api:
  tokens:
    - name: ops
      token: ops-token-0123456789
      scopes: [approve]
`);
    expect(problems).toEqual([expect.stringMatching(/^3 api\.tokens\[0\]\.user: .*add user: <name> to token "ops"/)]);
  });

  it('gives a missing list entry key its line', () => {
    const problems = problemsOf(`integrations:
  - name: odoo
    systems: [odoo]
  - description: no name
    systems: [odoo]
`);
    expect(problems).toEqual(['4 integrations[1].name: missing required value; expected string']);
  });

  it('reports an empty token once', () => {
    const problems = problemsOf(`api:
  tokens:
    - name: grafana
      token: ""
`);
    expect(problems).toEqual([expect.stringMatching(/^4 api\.tokens\[0\]\.token: expected a token of at least 16 characters/)]);
  });

  it('reads numbers from environment variables', () => {
    const config = parseConfigText('collector:\n  otlp:\n    port: ${OTLP_PORT:-4318}\n', 'syncwatch.yaml', { OTLP_PORT: '14318' });
    expect(config.collector.otlp.port).toBe(14318);
  });

  it('reports unset variables with schema problems', () => {
    const problems = problemsOf(`api:
  port: "x"
  tokens:
    - name: grafana
      token: \${GRAFANA_TOKEN}
`);
    expect(problems).toEqual([
      expect.stringMatching(/^2 api\.port: expected number/),
      expect.stringMatching(/^5 api\.tokens\[0\]\.token: environment variable GRAFANA_TOKEN is not set/),
    ]);
  });

  it('rejects duplicate names', () => {
    const problems = problemsOf(`integrations:
  - { name: odoo, systems: [odoo] }
  - { name: odoo, systems: [odoo] }
`);
    expect(problems[0]).toMatch(/integrations\[1\]\.name: duplicate name "odoo"/);
  });

  it('substitutes environment variables', () => {
    const config = parseConfigText(
      `api:
  tokens:
    - name: grafana
      token: \${GRAFANA_TOKEN}
    - name: fallback
      token: \${MISSING_TOKEN:-fallback-token-0123456789}
`,
      'syncwatch.yaml',
      { GRAFANA_TOKEN: 'grafana-token-0123456789' },
    );
    expect(config.api.tokens.map((token) => token.token)).toEqual(['grafana-token-0123456789', 'fallback-token-0123456789']);
  });

  it('reports an unset environment variable', () => {
    const problems = problemsOf(`api:
  tokens:
    - name: grafana
      token: \${GRAFANA_TOKEN}
`);
    expect(problems[0]).toMatch(/api\.tokens\[0\]\.token: environment variable GRAFANA_TOKEN is not set/);
  });

  it('reports invalid YAML with its line', () => {
    const problems = problemsOf(`api:
  port: 1
 host: x
`);
    expect(problems[0]).toMatch(/^\d+ : invalid YAML/);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf(`api:
  port: -1
collector:
  otlp:
    maxBodyBytes: 0
`);
    expect(problems).toHaveLength(2);
  });
});

describe('syncwatch.example.yaml', () => {
  it('is a valid configuration', async () => {
    const { loadConfigFile } = await import('../../../config/index.js');
    const config = loadConfigFile(new URL('../../../syncwatch.example.yaml', import.meta.url).pathname, {});
    expect(config.sources.map((source) => source.kind)).toEqual([
      'rabbitmq',
      'queue_job',
      'odoo_api',
      'nats_jetstream',
      'redis_streams',
      'outbox',
      'prometheus',
      'http_probe',
    ]);
    expect(config.workflows).toHaveLength(5);
  });
});
