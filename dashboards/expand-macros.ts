/**
 * Expands the Grafana macros the panel queries use, the way Grafana and its
 * ClickHouse plugin do before a query reaches ClickHouse, so tests and tools
 * can run panel SQL without Grafana. It covers only these macros:
 *
 * - `$__timeFilter(col)`: `col >= toDateTime(FROM) AND col <= toDateTime(TO)`,
 *   FROM and TO in whole Unix seconds (pkg/macros/macros.go of
 *   grafana/clickhouse-datasource).
 * - `$__fromTime`, `$__toTime`: `toDateTime(FROM)`, `toDateTime(TO)`.
 * - `$__interval_s`: the panel interval in whole seconds, at least 1.
 * - `${name}` and `$name`: the variable's values joined with commas, as
 *   Grafana's default format writes a multi-value variable in SQL.
 * - `${name:singlequote}`: each value in single quotes with `'` escaped as
 *   `\'`, joined with commas (Grafana's `singlequote` format).
 *
 * A macro or variable it does not know raises, so a query cannot silently
 * reach ClickHouse with a `$` left in it.
 */
export interface MacroContext {
  from: Date;
  to: Date;
  /** Grafana's `$__interval` for the panel, in seconds. */
  intervalSeconds: number;
  /** Selected values of each dashboard variable; All is the list of every value. */
  variables: Record<string, readonly string[]>;
}

/** Stable code of the error raised for a macro or variable the expander cannot expand. */
export const MACRO_ERROR_CODE = 'DASHBOARDS_ERR_UNKNOWN_MACRO';

export class MacroExpansionError extends Error {
  readonly code = MACRO_ERROR_CODE;

  constructor(message: string) {
    super(`${MACRO_ERROR_CODE}: ${message}`);
    this.name = 'MacroExpansionError';
  }
}

const TIME_FILTER_PATTERN = /\$__timeFilter\(\s*([^()]+?)\s*\)/g;
const VARIABLE_PATTERN = /\$\{(\w+)(?::(\w+))?\}|\$(\w+)/g;

/** Returns `sql` with every supported macro and variable replaced for `context`. */
export function expandMacros(sql: string, context: MacroContext): string {
  const fromSeconds = Math.floor(context.from.getTime() / 1000);
  const toSeconds = Math.floor(context.to.getTime() / 1000);
  const intervalSeconds = Math.max(Math.floor(context.intervalSeconds), 1);

  const withTimeFilters = sql.replace(
    TIME_FILTER_PATTERN,
    (_match, column: string) => `${column} >= toDateTime(${fromSeconds}) AND ${column} <= toDateTime(${toSeconds})`,
  );

  return withTimeFilters.replace(VARIABLE_PATTERN, (match, bracedName?: string, format?: string, bareName?: string) => {
    const name = bracedName ?? bareName ?? '';
    switch (name) {
      case '__fromTime':
        return `toDateTime(${fromSeconds})`;
      case '__toTime':
        return `toDateTime(${toSeconds})`;
      case '__interval_s':
        return String(intervalSeconds);
    }
    const values = context.variables[name];
    if (values === undefined) {
      throw new MacroExpansionError(`cannot expand "${match}": no macro or variable "${name}"; pass its values in variables`);
    }
    return formatValues(values, format, match);
  });
}

function formatValues(values: readonly string[], format: string | undefined, match: string): string {
  if (format === undefined) return values.join(',');
  if (format === 'singlequote') return values.map((value) => `'${value.replaceAll("'", "\\'")}'`).join(',');
  throw new MacroExpansionError(`cannot expand "${match}": unsupported format "${format}"; expected singlequote or none`);
}
