import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultDashboard, type Dashboard, type Panel } from '@grafana/grafana-foundation-sdk/dashboard';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  CLICKHOUSE_DATASOURCE_TYPE,
  CLICKHOUSE_DATASOURCE_UID,
  DASHBOARDS,
  DEFAULT_REFRESH,
  DEFAULT_TIME_FROM,
  GRAFANA_DASHBOARDS_PATH,
  writeDashboardFiles,
  type ClickHouseQuery,
} from '../../../dashboards/index.js';

/** Keys of the SDK's `Dashboard` type; the compiler rejects any name that is not one. */
const DASHBOARD_KEYS: readonly (keyof Dashboard)[] = [
  'id', 'uid', 'title', 'description', 'revision', 'gnetId', 'tags', 'timezone', 'editable', 'graphTooltip',
  'time', 'timepicker', 'fiscalYearStartMonth', 'liveNow', 'weekStart', 'refresh', 'schemaVersion', 'version',
  'panels', 'templating', 'annotations', 'links', 'snapshot', 'preload',
];

/** Keys of the SDK's `Panel` type. */
const PANEL_KEYS: readonly (keyof Panel)[] = [
  'type', 'id', 'pluginVersion', 'targets', 'title', 'description', 'transparent', 'datasource', 'gridPos',
  'links', 'repeat', 'repeatDirection', 'maxPerRow', 'maxDataPoints', 'transformations', 'interval', 'timeFrom',
  'timeShift', 'hideTimeOverride', 'timeCompare', 'libraryPanel', 'cacheTimeout', 'queryCachingTTL', 'options',
  'fieldConfig',
];

const EXPECTED_PANELS: Record<string, string[]> = {
  'network-overview.json': [
    'Breaching workflows',
    'Workflow objectives',
    'End-to-end latency percentiles',
    'Transaction throughput',
    'Event lag per integration',
    'Queue depth per integration',
    'Span error rate per integration',
    'Span throughput per integration',
    'Failures and retries per integration',
    'Source health',
  ],
  'integration-drill-down.json': [
    'Trace search',
    'Trace ${trace_id}',
    'Event lag per entity',
    'Failures per exception',
    'Entity state',
    'Failures',
  ],
  'anomalies.json': [
    'Open incidents',
    'Incidents open now',
    'Anomaly score per series',
    'Breach probability',
    'Anomalous points and expected bands',
    'Latest predictions',
    'Prediction outcomes',
    'Incident history',
  ],
  'exceptions.json': [
    'Unclassified fingerprints',
    'Retryable share of occurrences',
    'Exceptions by category',
    'Span exceptions per type',
    'Fingerprints',
  ],
  'remediation.json': ['Proposals by status', 'Decisions and executions', 'Proposals', 'Refused decisions', 'Audit log'],
};

/** Dashboards whose rows carry no plant, integration or workflow to filter on. */
const DASHBOARDS_WITHOUT_SCOPE = new Set(['remediation.json']);

function toJsonDashboard(definition: (typeof DASHBOARDS)[number]): Dashboard {
  return JSON.parse(JSON.stringify(definition.build())) as Dashboard;
}

const outDir = mkdtempSync(join(tmpdir(), 'syncwatch-dashboards-build-'));

afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

describe.each(DASHBOARDS.map((definition) => [definition.fileName, definition] as const))('%s', (fileName, definition) => {
  const dashboard = toJsonDashboard(definition);
  const panels = (dashboard.panels ?? []) as Panel[];

  it('round-trips through JSON unchanged', () => {
    expect(JSON.parse(JSON.stringify(dashboard))).toEqual(dashboard);
  });

  it('uses only SDK dashboard keys', () => {
    for (const key of Object.keys(dashboard)) expect(DASHBOARD_KEYS).toContain(key);
    for (const key of Object.keys(defaultDashboard())) expect(dashboard).toHaveProperty(key);
  });

  it('uses only SDK panel keys', () => {
    for (const panel of panels) {
      for (const key of Object.keys(panel)) expect(PANEL_KEYS).toContain(key);
    }
  });

  it('has the expected panels', () => {
    expect(panels.map((panel) => panel.title)).toEqual(EXPECTED_PANELS[fileName]);
  });

  it('numbers panels uniquely', () => {
    const ids = panels.map((panel) => panel.id);
    expect(ids).toEqual(ids.map((_id, index) => index + 1));
  });

  it('fits panels in the grid', () => {
    for (const panel of panels) {
      expect(panel.gridPos).toBeDefined();
      expect(panel.gridPos!.x + panel.gridPos!.w).toBeLessThanOrEqual(24);
    }
  });

  it('queries the ClickHouse data source', () => {
    for (const panel of panels) {
      expect(panel.datasource).toEqual({ type: CLICKHOUSE_DATASOURCE_TYPE, uid: CLICKHOUSE_DATASOURCE_UID });
      expect(panel.targets?.length).toBe(1);
      const query = panel.targets![0] as unknown as ClickHouseQuery;
      expect(query.datasource.uid).toBe(CLICKHOUSE_DATASOURCE_UID);
      expect(query.editorType).toBe('sql');
      expect(query.rawSql.length).toBeGreaterThan(0);
    }
  });

  it('applies the shared defaults', () => {
    expect(dashboard.time).toEqual({ from: DEFAULT_TIME_FROM, to: 'now' });
    expect(dashboard.refresh).toBe(DEFAULT_REFRESH);
    expect(dashboard.tags).toContain('syncwatch');
  });

  it.skipIf(DASHBOARDS_WITHOUT_SCOPE.has(fileName))('has plant, integration and workflow variables', () => {
    const variables = dashboard.templating.list ?? [];
    const names = variables.map((variable) => variable.name);
    expect(names).toEqual(expect.arrayContaining(['plant', 'integration', 'workflow']));
    for (const variable of variables.filter((candidate) => candidate.type === 'query')) {
      expect(variable.datasource?.uid).toBe(CLICKHOUSE_DATASOURCE_UID);
      expect(variable.multi).toBe(true);
      expect(variable.includeAll).toBe(true);
    }
  });
});

describe('writeDashboardFiles', () => {
  const written = writeDashboardFiles(outDir);

  it('writes every dashboard as JSON', () => {
    expect(written.dashboards).toEqual(DASHBOARDS.map((definition) => join('dashboards', definition.fileName)));
    for (const definition of DASHBOARDS) {
      const stored = JSON.parse(readFileSync(join(outDir, 'dashboards', definition.fileName), 'utf8')) as Dashboard;
      expect(stored).toEqual(toJsonDashboard(definition));
    }
  });

  it('writes a dashboards provider', () => {
    const provider = parse(readFileSync(join(outDir, 'provisioning', 'dashboards', 'syncwatch.yaml'), 'utf8'));
    expect(provider.apiVersion).toBe(1);
    expect(provider.providers[0].type).toBe('file');
    expect(provider.providers[0].options.path).toBe(GRAFANA_DASHBOARDS_PATH);
  });

  it('writes a datasource for the compose stack', () => {
    const written = parse(readFileSync(join(outDir, 'provisioning', 'datasources', 'clickhouse.yaml'), 'utf8'));
    const compose = parse(readFileSync('docker-compose.yml', 'utf8'));
    const users = readFileSync('deploy/clickhouse/users.xml', 'utf8');
    const datasource = written.datasources[0];

    expect(datasource.uid).toBe(CLICKHOUSE_DATASOURCE_UID);
    expect(Object.keys(compose.services)).toContain(datasource.jsonData.host);
    expect(users).toContain(`<${datasource.jsonData.username}>`);
    expect(datasource.secureJsonData.password).toBe('${SYNCWATCH_READER_PASSWORD}');
    expect(compose.services.grafana.environment.SYNCWATCH_READER_PASSWORD).toBeDefined();
  });
});
