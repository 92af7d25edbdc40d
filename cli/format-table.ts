/** Widest a printed cell may be, in characters; longer values end in "…". */
const MAX_CELL_WIDTH = 60;

/** Formats rows as an aligned text table with a header line, for terminals. */
export function formatTable(columns: readonly string[], rows: ReadonlyArray<Record<string, unknown>>): string {
  const cells = rows.map((row) => columns.map((column) => formatCell(row[column])));
  const widths = columns.map((column, index) =>
    Math.max(column.length, ...cells.map((line) => line[index]!.length)),
  );
  const render = (values: string[]) => values.map((value, index) => value.padEnd(widths[index]!)).join('  ').trimEnd();
  return [render([...columns]), render(widths.map((width) => '-'.repeat(width))), ...cells.map(render)].join('\n');
}

function formatCell(value: unknown): string {
  let text: string;
  if (value === null || value === undefined) text = 'NULL';
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = String(value);
  const oneLine = text.replace(/\s*\n\s*/g, ' ');
  return oneLine.length > MAX_CELL_WIDTH ? `${oneLine.slice(0, MAX_CELL_WIDTH - 1)}…` : oneLine;
}
