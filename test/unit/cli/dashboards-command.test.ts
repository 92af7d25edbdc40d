import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DashboardsUsageError, runDashboardsCommand } from '../../../cli/dashboards-command.js';
import { DASHBOARDS } from '../../../dashboards/index.js';

const parentDir = mkdtempSync(join(tmpdir(), 'syncwatch-dashboards-cli-'));

afterAll(() => {
  rmSync(parentDir, { recursive: true, force: true });
});

describe('runDashboardsCommand', () => {
  it('builds into a new folder', () => {
    const outDir = join(parentDir, 'grafana');
    const output = runDashboardsCommand({ subcommand: 'build', outDir });

    expect(output).toContain(`wrote ${DASHBOARDS.length} dashboards and 2 provisioning files`);
    expect(existsSync(join(outDir, 'dashboards', 'network-overview.json'))).toBe(true);
    expect(existsSync(join(outDir, 'dashboards', 'integration-drill-down.json'))).toBe(true);
    expect(existsSync(join(outDir, 'provisioning', 'dashboards', 'syncwatch.yaml'))).toBe(true);
    expect(existsSync(join(outDir, 'provisioning', 'datasources', 'clickhouse.yaml'))).toBe(true);
  });

  it('points the provider at the Grafana path', () => {
    const outDir = join(parentDir, 'mounted');
    runDashboardsCommand({ subcommand: 'build', outDir, grafanaPath: '/etc/syncwatch-grafana' });

    const provider = parse(readFileSync(join(outDir, 'provisioning', 'dashboards', 'syncwatch.yaml'), 'utf8'));
    expect(provider.providers[0].options.path).toBe('/etc/syncwatch-grafana/dashboards');
  });

  it('rejects a relative Grafana path', () => {
    expect(() => runDashboardsCommand({ subcommand: 'build', outDir: parentDir, grafanaPath: 'grafana' })).toThrow(
      /invalid --grafana-path "grafana"; expected an absolute path/,
    );
  });

  it('rejects a missing output folder', () => {
    expect(() => runDashboardsCommand({ subcommand: 'build', outDir: undefined })).toThrow(DashboardsUsageError);
  });

  it('rejects unknown subcommands', () => {
    expect(() => runDashboardsCommand({ subcommand: 'push', outDir: parentDir })).toThrow(/unknown dashboards subcommand "push"/);
    expect(() => runDashboardsCommand({ subcommand: undefined, outDir: parentDir })).toThrow(DashboardsUsageError);
  });
});
