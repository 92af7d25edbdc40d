import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as common from '@grafana/grafana-foundation-sdk/common';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanelBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import {
  DashboardBuilder,
  type Dashboard,
  DashboardCursorSync,
  QueryVariableBuilder,
  TextBoxVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';

/** Plugin id of Grafana's ClickHouse data source. */
export const CLICKHOUSE_DATASOURCE_TYPE = 'grafana-clickhouse-datasource';

/** Uid of the ClickHouse data source that `renderDatasourceYaml` provisions. */
export const CLICKHOUSE_DATASOURCE_UID = 'syncwatch-clickhouse';

export const CLICKHOUSE_DATASOURCE: common.DataSourceRef = {
  type: CLICKHOUSE_DATASOURCE_TYPE,
  uid: CLICKHOUSE_DATASOURCE_UID,
};

/** Time range a dashboard opens with, in Grafana's relative time syntax. */
export const DEFAULT_TIME_FROM = 'now-6h';
export const DEFAULT_TIME_TO = 'now';

/** Dashboard auto-refresh period, in Grafana's duration syntax. */
export const DEFAULT_REFRESH = '30s';

export const DASHBOARD_TAGS = ['syncwatch'];

/**
 * Result shape the ClickHouse plugin requests from its backend, as the `format`
 * number of the grafana-plugin-sdk-go `sqlutil.FormatQueryOption`.
 */
export const CLICKHOUSE_FORMAT = {
  timeSeries: 0,
  table: 1,
  logs: 2,
  trace: 3,
} as const;

export type ClickHouseFormat = (typeof CLICKHOUSE_FORMAT)[keyof typeof CLICKHOUSE_FORMAT];

/** The plugin's `queryType` values (src/types/sql.ts of grafana/clickhouse-datasource). */
export type ClickHouseQueryType = 'table' | 'logs' | 'timeSeries' | 'traces';

/** A raw-SQL query of the ClickHouse plugin, as stored in a panel's `targets`. */
export interface ClickHouseQuery extends cog.Dataquery {
  refId: string;
  datasource: common.DataSourceRef;
  editorType: 'sql';
  queryType: ClickHouseQueryType;
  format: ClickHouseFormat;
  rawSql: string;
}

/** Builds a raw-SQL target for the SDK's panel builders, which have no ClickHouse query type. */
export class ClickHouseQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly query: ClickHouseQuery;

  constructor(rawSql: string, queryType: ClickHouseQueryType = 'table', refId = 'A') {
    this.query = {
      refId,
      datasource: CLICKHOUSE_DATASOURCE,
      editorType: 'sql',
      queryType,
      format: formatOfQueryType(queryType),
      rawSql,
      _implementsDataqueryVariant() {},
    };
  }

  build(): ClickHouseQuery {
    return this.query;
  }
}

function formatOfQueryType(queryType: ClickHouseQueryType): ClickHouseFormat {
  switch (queryType) {
    case 'timeSeries':
      return CLICKHOUSE_FORMAT.timeSeries;
    case 'logs':
      return CLICKHOUSE_FORMAT.logs;
    case 'traces':
      return CLICKHOUSE_FORMAT.trace;
    case 'table':
      return CLICKHOUSE_FORMAT.table;
  }
}

/** Names of the dashboard variables the panel queries refer to. */
export const VARIABLE_NAMES = {
  plant: 'plant',
  integration: 'integration',
  workflow: 'workflow',
  traceId: 'trace_id',
} as const;

/**
 * Plant variable value that selects transactions without a plant, because
 * Grafana cannot offer an empty string as a choice.
 */
export const NO_PLANT_VALUE = '(none)';

/** SQL expression of a transaction's plant as the plant variable lists it. */
export const PLANT_EXPRESSION = `if(plant = '', '${NO_PLANT_VALUE}', plant)`;

/**
 * Plants named by transactions: the span attribute `syncwatch.plant`, or the
 * resource attribute of a system serving one plant, and `NO_PLANT_VALUE` for
 * transactions without one.
 */
export const PLANT_VARIABLE_QUERY = `SELECT DISTINCT ${PLANT_EXPRESSION} AS plant FROM workflow_transactions ORDER BY plant`;

/** Integrations seen in lag samples, failures, poll records and spans. */
export const INTEGRATION_VARIABLE_QUERY = `SELECT integration FROM (
    SELECT DISTINCT integration FROM integration_lag
    UNION DISTINCT SELECT DISTINCT integration FROM integration_failures
    UNION DISTINCT SELECT DISTINCT integration FROM source_polls
    UNION DISTINCT SELECT DISTINCT SpanAttributes['syncwatch.integration'] AS integration FROM otel_traces
)
WHERE integration != ''
ORDER BY integration`;

/** Configured workflows and workflows seen in transactions. */
export const WORKFLOW_VARIABLE_QUERY = `SELECT workflow FROM (
    SELECT DISTINCT workflow FROM workflow_objectives FINAL WHERE active
    UNION DISTINCT SELECT DISTINCT workflow FROM workflow_transactions
)
WHERE workflow != ''
ORDER BY workflow`;

/** Builds a multi-value variable with All, filled by a query on the ClickHouse data source. */
function buildQueryVariable(name: string, label: string, query: string): QueryVariableBuilder {
  return new QueryVariableBuilder(name)
    .label(label)
    .datasource(CLICKHOUSE_DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .current({ text: 'All', value: '$__all', selected: true });
}

export function buildPlantVariable(): QueryVariableBuilder {
  return buildQueryVariable(VARIABLE_NAMES.plant, 'Plant', PLANT_VARIABLE_QUERY);
}

export function buildIntegrationVariable(): QueryVariableBuilder {
  return buildQueryVariable(VARIABLE_NAMES.integration, 'Integration', INTEGRATION_VARIABLE_QUERY);
}

export function buildWorkflowVariable(): QueryVariableBuilder {
  return buildQueryVariable(VARIABLE_NAMES.workflow, 'Workflow', WORKFLOW_VARIABLE_QUERY);
}

/** Builds a free-text trace id variable for the panels that show one trace. */
export function buildTraceIdVariable(): TextBoxVariableBuilder {
  return new TextBoxVariableBuilder(VARIABLE_NAMES.traceId).label('Trace id').defaultValue('');
}

/** Starts a dashboard with the shared uid, tags, time range, refresh and tooltip settings. */
export function createDashboard(uid: string, title: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .tags(DASHBOARD_TAGS)
    .editable()
    .timezone('browser')
    .time({ from: DEFAULT_TIME_FROM, to: DEFAULT_TIME_TO })
    .refresh(DEFAULT_REFRESH)
    .tooltip(DashboardCursorSync.Crosshair);
}

/**
 * Numbers the panels 1, 2, ... in layout order and returns the dashboard.
 * Grafana links to a panel and stores its state by id, and the SDK's builders
 * leave ids unset.
 */
export function numberPanels(dashboard: Dashboard): Dashboard {
  dashboard.panels?.forEach((panel, index) => {
    panel.id = index + 1;
  });
  return dashboard;
}

/** Starts a table panel that runs `sql` on the ClickHouse data source. */
export function tablePanel(title: string, sql: string): TablePanelBuilder {
  return new TablePanelBuilder().title(title).datasource(CLICKHOUSE_DATASOURCE).withTarget(new ClickHouseQueryBuilder(sql));
}

/** Starts a stat panel that runs `sql` on the ClickHouse data source. */
export function statPanel(title: string, sql: string): StatPanelBuilder {
  return new StatPanelBuilder().title(title).datasource(CLICKHOUSE_DATASOURCE).withTarget(new ClickHouseQueryBuilder(sql));
}

/** Starts a time series panel whose query `sql` returns the time-series format. */
export function timeseriesPanel(title: string, sql: string): TimeseriesPanelBuilder {
  return new TimeseriesPanelBuilder().title(title).datasource(CLICKHOUSE_DATASOURCE).withTarget(new ClickHouseQueryBuilder(sql, 'timeSeries'));
}
