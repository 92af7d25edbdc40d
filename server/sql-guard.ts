import type { ClickHouseClient } from '@clickhouse/client';

/**
 * Table functions an analyst query may use. Everything else (file, url, s3,
 * remote, mysql, postgresql, executable, ...) reads files or reaches other
 * hosts as the service's own user, which ClickHouse's `readonly` setting does
 * not prevent.
 */
const ALLOWED_TABLE_FUNCTIONS = new Set([
  'numbers',
  'numbers_mt',
  'zeros',
  'zeros_mt',
  'generateSeries',
  'generate_series',
  'primes',
  'values',
  'view',
  'null',
  'merge',
]);

/** Ordinary functions that read the local file system. */
const FORBIDDEN_FUNCTIONS = new Set(['file']);

/** Statement kinds (the root of ClickHouse's `EXPLAIN AST`) that only read. */
const READ_STATEMENTS = new Set([
  'SelectWithUnionQuery',
  'SelectIntersectExceptQuery',
  'ShowTables',
  'DescribeQuery',
  'ShowCreateTableQuery',
  'ExistsTableQuery',
]);

const SELECT_STATEMENTS = new Set(['SelectWithUnionQuery', 'SelectIntersectExceptQuery']);

/** A statement that passed {@link assertReadOnlyQuery}. */
export interface CheckedQuery {
  /** The statement without a trailing semicolon. */
  statement: string;
  /** True for SELECT (and UNION, INTERSECT, EXCEPT); false for SHOW, DESCRIBE and EXISTS. */
  isSelect: boolean;
}

/** Error for a query rejected before it ran; the message names the reason. */
export class RejectedQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RejectedQueryError';
  }
}

interface AstLine {
  depth: number;
  text: string;
}

/**
 * Checks that `query` is one read-only statement that touches neither files
 * nor other hosts, using ClickHouse's own parser (`EXPLAIN AST`). Throws
 * {@link RejectedQueryError} naming the offending part. The store still runs
 * the query with `readonly`, so this guard is a second layer, not the only one.
 */
export async function assertReadOnlyQuery(client: ClickHouseClient, query: string): Promise<CheckedQuery> {
  const statement = cutAtStatementEnd(query);
  if (maskLiteralsAndComments(statement).trim().length === 0) {
    throw new RejectedQueryError('query is empty; expected one SELECT statement');
  }
  const code = maskLiteralsAndComments(statement);
  if (/\breadonly\b/i.test(code)) {
    throw new RejectedQueryError('the readonly setting cannot be changed by a query');
  }

  const lines = await explainAst(client, statement);
  const root = lines[0];
  const statementKind = root?.text.split(' ')[0] ?? '';
  if (!READ_STATEMENTS.has(statementKind)) {
    throw new RejectedQueryError(
      `statement ${statementKind || '(unknown)'} is not allowed; expected SELECT, SHOW TABLES, DESCRIBE, SHOW CREATE or EXISTS`,
    );
  }
  for (const line of lines) {
    if (line.depth === 1 && line.text.startsWith('Literal ')) {
      throw new RejectedQueryError('INTO OUTFILE is not allowed; results are returned in the response');
    }
  }
  const parameterizedViews = await readParameterizedViewNames(client);
  for (const [index, line] of lines.entries()) {
    const name = functionName(line.text);
    if (name === undefined) continue;
    const isTableFunction = parentOf(lines, index)?.text.startsWith('TableExpression') ?? false;
    if (isTableFunction && !ALLOWED_TABLE_FUNCTIONS.has(name) && !parameterizedViews.has(name)) {
      throw new RejectedQueryError(
        `table function ${name}() is not allowed; expected a table or one of: ${[...ALLOWED_TABLE_FUNCTIONS].join(', ')}`,
      );
    }
    if (FORBIDDEN_FUNCTIONS.has(name)) {
      throw new RejectedQueryError(`function ${name}() is not allowed: it reads the local file system`);
    }
  }
  return { statement, isSelect: SELECT_STATEMENTS.has(statementKind) };
}

/**
 * Returns the names of the views in the current database. A parameterised
 * view is called like a table function (`view_name(start = ...)`), and it
 * reads only what its own SELECT reads.
 */
async function readParameterizedViewNames(client: ClickHouseClient): Promise<Set<string>> {
  const result = await client.query({
    query: `SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'View'`,
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ name: string }>();
  return new Set(rows.map((row) => row.name));
}

async function explainAst(client: ClickHouseClient, statement: string): Promise<AstLine[]> {
  let text: string;
  try {
    const result = await client.query({ query: `EXPLAIN AST ${statement}`, format: 'TabSeparatedRaw' });
    text = await result.text();
  } catch (error) {
    throw new RejectedQueryError(`query is not valid ClickHouse SQL: ${(error as Error).message.trim()}`);
  }
  return text
    .split('\n')
    .map((raw) => raw.replace(/^"(.*)"$/, '$1'))
    .filter((raw) => raw.trim().length > 0)
    .map((raw) => ({ depth: raw.length - raw.trimStart().length, text: raw.trim() }));
}

function functionName(text: string): string | undefined {
  const match = /^Function (\S+)/.exec(text);
  return match?.[1];
}

function parentOf(lines: AstLine[], index: number): AstLine | undefined {
  const depth = lines[index]!.depth;
  for (let i = index - 1; i >= 0; i--) {
    if (lines[i]!.depth < depth) return lines[i];
  }
  return undefined;
}

/**
 * Returns the query up to its terminating semicolon, if any. Throws when a
 * second statement follows it; comments and white space after the semicolon
 * are fine.
 */
function cutAtStatementEnd(query: string): string {
  const masked = maskLiteralsAndComments(query);
  const end = masked.indexOf(';');
  if (end === -1) return query.trim();
  if (masked.slice(end + 1).trim().length > 0) {
    throw new RejectedQueryError('query contains more than one statement; send one statement per request');
  }
  return query.slice(0, end).trim();
}

/**
 * Returns `sql` with the same length, where the contents of string literals
 * and quoted identifiers become `x` and comments become spaces, so that
 * keywords and semicolons can be searched for in code only.
 */
export function maskLiteralsAndComments(sql: string): string {
  const output: string[] = [];
  let index = 0;
  while (index < sql.length) {
    const char = sql[index]!;
    const next = sql[index + 1];
    if (char === '-' && next === '-') {
      const end = sql.indexOf('\n', index);
      const stop = end === -1 ? sql.length : end;
      output.push(' '.repeat(stop - index));
      index = stop;
    } else if (char === '/' && next === '*') {
      const end = sql.indexOf('*/', index + 2);
      const stop = end === -1 ? sql.length : end + 2;
      output.push(' '.repeat(stop - index));
      index = stop;
    } else if (char === "'" || char === '"' || char === '`') {
      const stop = findQuoteEnd(sql, index, char);
      output.push(char, 'x'.repeat(Math.max(0, stop - index - 2)), stop - index >= 2 ? char : '');
      index = stop;
    } else {
      output.push(char);
      index += 1;
    }
  }
  return output.join('');
}

/** Returns the index just past the quote that closes the one at `start`, or the end of `sql`. */
function findQuoteEnd(sql: string, start: number, quote: string): number {
  let index = start + 1;
  while (index < sql.length) {
    const char = sql[index];
    if (char === '\\') {
      index += 2;
    } else if (char === quote && sql[index + 1] === quote) {
      index += 2;
    } else if (char === quote) {
      return index + 1;
    } else {
      index += 1;
    }
  }
  return sql.length;
}
