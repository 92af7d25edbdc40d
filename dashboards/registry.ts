import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { buildAnomaliesDashboard } from './anomalies.js';
import { buildExceptionsDashboard } from './exceptions.js';
import { buildIntegrationDrillDownDashboard } from './integration-drill-down.js';
import { buildNetworkOverviewDashboard } from './network-overview.js';
import { buildRemediationDashboard } from './remediation.js';

/** A dashboard and the kebab-case file name its JSON is written to. */
export interface DashboardDefinition {
  fileName: string;
  build: () => Dashboard;
}

export const DASHBOARDS: readonly DashboardDefinition[] = [
  { fileName: 'network-overview.json', build: buildNetworkOverviewDashboard },
  { fileName: 'integration-drill-down.json', build: buildIntegrationDrillDownDashboard },
  { fileName: 'anomalies.json', build: buildAnomaliesDashboard },
  { fileName: 'exceptions.json', build: buildExceptionsDashboard },
  { fileName: 'remediation.json', build: buildRemediationDashboard },
];
