import { stringify } from 'yaml';
import { CLICKHOUSE_DATASOURCE_TYPE, CLICKHOUSE_DATASOURCE_UID } from './defaults.js';

/** Grafana folder the provisioned dashboards appear in. */
export const DASHBOARD_FOLDER = 'syncwatch';

/** Seconds between Grafana's scans of the dashboard folder for changed files. */
export const DASHBOARD_SCAN_INTERVAL_SECONDS = 30;

/**
 * Path of the dashboard JSON folder inside the Grafana container, where
 * compose mounts the output of `syncwatch dashboards build`.
 */
export const GRAFANA_DASHBOARDS_PATH = '/var/lib/grafana/dashboards/syncwatch';

/**
 * Renders a dashboards provider that loads every JSON file of `dashboardsPath`
 * into the syncwatch folder. Dashboards are not editable in the UI because the
 * files are their source.
 */
export function renderDashboardProviderYaml(dashboardsPath: string = GRAFANA_DASHBOARDS_PATH): string {
  return stringify({
    apiVersion: 1,
    providers: [
      {
        name: 'syncwatch',
        orgId: 1,
        folder: DASHBOARD_FOLDER,
        type: 'file',
        disableDeletion: true,
        allowUiUpdates: false,
        updateIntervalSeconds: DASHBOARD_SCAN_INTERVAL_SECONDS,
        options: { path: dashboardsPath, foldersFromFilesStructure: false },
      },
    ],
  });
}

/**
 * Renders the ClickHouse data source with the uid the dashboards refer to.
 * It connects to the compose service `clickhouse` on the native port as the
 * read-only user of deploy/clickhouse/users.xml, and reads
 * `otel_traces` in OpenTelemetry mode for trace views. Grafana replaces
 * `${SYNCWATCH_READER_PASSWORD}` from its environment.
 */
export function renderDatasourceYaml(): string {
  return stringify({
    apiVersion: 1,
    datasources: [
      {
        name: 'ClickHouse',
        type: CLICKHOUSE_DATASOURCE_TYPE,
        uid: CLICKHOUSE_DATASOURCE_UID,
        isDefault: true,
        jsonData: {
          host: 'clickhouse',
          port: 9000,
          protocol: 'native',
          defaultDatabase: 'default',
          username: 'syncwatch_reader',
          traces: {
            defaultDatabase: 'default',
            defaultTable: 'otel_traces',
            otelEnabled: true,
            otelVersion: 'latest',
          },
        },
        secureJsonData: { password: '${SYNCWATCH_READER_PASSWORD}' },
      },
    ],
  });
}
