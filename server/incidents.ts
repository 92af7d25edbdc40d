import type { ClickHouseClient } from '@clickhouse/client';

/** An incident as the API and the console show it. */
export interface IncidentView {
  id: string;
  state: string;
  severity?: string;
  kind?: string;
  title: string;
  explanation?: string;
  integration?: string;
  workflow?: string;
  plant?: string;
  openedAt?: string;
  updatedAt?: string;
}

export interface IncidentList {
  incidents: IncidentView[];
  /** Reason for an empty list when the store has no usable incidents table; absent otherwise. */
  note?: string;
}

/** States that close an incident; every other state counts as open. */
const CLOSED_STATES = new Set(['resolved', 'closed']);

/** Rows read from the table before duplicates of one incident are folded. */
const MAX_ROWS_READ = 10_000;

/**
 * Columns of {@link IncidentView}, each with the column names the incidents
 * table may use for it, in order of preference.
 */
const COLUMN_CANDIDATES = {
  id: ['incident_id', 'id'],
  state: ['state', 'status'],
  severity: ['severity'],
  kind: ['kind'],
  title: ['title', 'summary'],
  explanation: ['explanation', 'description'],
  integration: ['integration'],
  workflow: ['workflow'],
  plant: ['plant'],
  openedAt: ['opened_at', 'created_at', 'first_seen_at', 'first_seen'],
  updatedAt: ['updated_at', 'at', 'last_seen_at', 'last_seen', 'observed_at'],
} as const;

type ViewField = keyof typeof COLUMN_CANDIDATES;
const TIME_FIELDS: ReadonlySet<ViewField> = new Set(['openedAt', 'updatedAt']);

/**
 * Reads open incidents from the ClickHouse `incidents` table, newest first.
 * The analyzer owns that table, so the reader maps whichever of the known
 * column names it finds and keeps the latest row of each incident id. When
 * the table does not exist, it returns an empty list with a note saying so.
 */
export async function listOpenIncidents(client: ClickHouseClient, limit: number): Promise<IncidentList> {
  const table = await describeIncidentsTable(client);
  if (table === undefined) {
    return { incidents: [], note: 'the store has no incidents table yet; the analyzer creates it when it runs' };
  }
  const mapping = mapColumns(table.columns);
  if (mapping.id === undefined || mapping.title === undefined) {
    return {
      incidents: [],
      note: `the incidents table has no id or title column; found columns: ${table.columns.join(', ')}`,
    };
  }

  const selected = Object.entries(mapping).map(([field, column]) =>
    TIME_FIELDS.has(field as ViewField)
      ? `toUnixTimestamp64Milli(toDateTime64(\`${column}\`, 3)) AS \`${field}\``
      : `toString(\`${column}\`) AS \`${field}\``,
  );
  const order = mapping.updatedAt ?? mapping.openedAt;
  const query = [
    `SELECT ${selected.join(', ')}`,
    `FROM incidents${table.collapses ? ' FINAL' : ''}`,
    order ? `ORDER BY \`${order}\` DESC` : '',
    `LIMIT ${MAX_ROWS_READ}`,
    'SETTINGS output_format_json_quote_64bit_integers = 0',
  ].join('\n');
  const result = await client.query({ query, format: 'JSONEachRow' });
  const rows = (await result.json()) as Array<Partial<Record<ViewField, string | number | null>>>;

  const latest = new Map<string, IncidentView>();
  for (const row of rows) {
    const incident = toIncidentView(row);
    const known = latest.get(incident.id);
    if (known === undefined || (incident.updatedAt ?? '') > (known.updatedAt ?? '')) latest.set(incident.id, incident);
  }
  const open = [...latest.values()].filter((incident) => !CLOSED_STATES.has(incident.state));
  open.sort((a, b) => (b.updatedAt ?? b.openedAt ?? '').localeCompare(a.updatedAt ?? a.openedAt ?? ''));
  return { incidents: open.slice(0, limit) };
}

async function describeIncidentsTable(client: ClickHouseClient): Promise<{ columns: string[]; collapses: boolean } | undefined> {
  const result = await client.query({
    query: `SELECT engine, (SELECT groupArray(name) FROM system.columns WHERE database = currentDatabase() AND table = 'incidents') AS columns
            FROM system.tables WHERE database = currentDatabase() AND name = 'incidents'`,
    format: 'JSONEachRow',
  });
  const rows = (await result.json()) as Array<{ engine: string; columns: string[] }>;
  const row = rows[0];
  if (row === undefined) return undefined;
  // Replacing and collapsing engines keep several versions of a row until a merge, and FINAL folds them.
  return { columns: row.columns, collapses: /Replacing|Collapsing/.test(row.engine) };
}

function mapColumns(columns: readonly string[]): Partial<Record<ViewField, string>> {
  const available = new Set(columns);
  const mapping: Partial<Record<ViewField, string>> = {};
  for (const [field, candidates] of Object.entries(COLUMN_CANDIDATES) as Array<[ViewField, readonly string[]]>) {
    const column = candidates.find((candidate) => available.has(candidate));
    if (column !== undefined) mapping[field] = column;
  }
  return mapping;
}

function toIncidentView(row: Partial<Record<ViewField, string | number | null>>): IncidentView {
  const text = (field: ViewField): string | undefined => {
    const value = row[field];
    return value === null || value === undefined || value === '' ? undefined : String(value);
  };
  const time = (field: ViewField): string | undefined => {
    const value = row[field];
    return typeof value === 'number' && value > 0 ? new Date(value).toISOString() : undefined;
  };
  return {
    id: text('id') ?? '',
    state: text('state') ?? 'open',
    severity: text('severity'),
    kind: text('kind'),
    title: text('title') ?? '',
    explanation: text('explanation'),
    integration: text('integration'),
    workflow: text('workflow'),
    plant: text('plant'),
    openedAt: time('openedAt'),
    updatedAt: time('updatedAt'),
  };
}
