import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const COMPOSE_FILE = 'docker-compose.yml';
const hasDockerCompose = spawnSync('docker-compose', ['--version']).status === 0;

function runComposeConfig(env: NodeJS.ProcessEnv) {
  return spawnSync('docker-compose', ['-f', COMPOSE_FILE, 'config'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

// Debian's docker-compose parses and validates the file without a Docker engine;
// `.ci/run` installs it, and a machine without it skips these checks.
describe.skipIf(!hasDockerCompose)('docker-compose.yml', () => {
  it('passes docker-compose config', () => {
    const result = runComposeConfig({ SYNCWATCH_API_TOKEN: 'compose-test-token-0123' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const config = parse(result.stdout) as { services: Record<string, unknown> };
    expect(Object.keys(config.services).sort()).toEqual(['clickhouse', 'dashboards', 'grafana', 'llm', 'postgres', 'syncwatch']);
  });

  it('requires an API token', () => {
    const result = runComposeConfig({});
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/SYNCWATCH_API_TOKEN/);
  });
});
