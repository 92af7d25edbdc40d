import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderDashboardProviderYaml, renderDatasourceYaml } from './provisioning.js';
import { DASHBOARDS } from './registry.js';

/** Files written by `writeDashboardFiles`, relative to the output folder. */
export interface WrittenDashboardFiles {
  dashboards: string[];
  provisioning: string[];
}

/**
 * Writes each dashboard's JSON to `OUT/dashboards/` and Grafana's provisioning
 * files to `OUT/provisioning/dashboards/syncwatch.yaml` and
 * `OUT/provisioning/datasources/clickhouse.yaml`, replacing older copies.
 * Mount `OUT/provisioning` at /etc/grafana/provisioning and `OUT/dashboards`
 * at the provider's path (`GRAFANA_DASHBOARDS_PATH` unless `dashboardsPath`).
 */
export function writeDashboardFiles(outDir: string, dashboardsPath?: string): WrittenDashboardFiles {
  const dashboardDir = join(outDir, 'dashboards');
  const providerDir = join(outDir, 'provisioning', 'dashboards');
  const datasourceDir = join(outDir, 'provisioning', 'datasources');
  for (const dir of [dashboardDir, providerDir, datasourceDir]) mkdirSync(dir, { recursive: true });

  const dashboards = DASHBOARDS.map((definition) => {
    const path = join('dashboards', definition.fileName);
    writeFileSync(join(outDir, path), `${JSON.stringify(definition.build(), null, 2)}\n`);
    return path;
  });

  const providerPath = join('provisioning', 'dashboards', 'syncwatch.yaml');
  const datasourcePath = join('provisioning', 'datasources', 'clickhouse.yaml');
  writeFileSync(join(outDir, providerPath), renderDashboardProviderYaml(dashboardsPath));
  writeFileSync(join(outDir, datasourcePath), renderDatasourceYaml());
  return { dashboards, provisioning: [providerPath, datasourcePath] };
}
