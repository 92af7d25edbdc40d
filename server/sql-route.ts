import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import { authorize, type ApiToken } from './auth.js';
import { ApiError } from './errors.js';
import { assertReadOnlyQuery, RejectedQueryError, type CheckedQuery } from './sql-guard.js';

/** Maximum rows returned by one analyst query; more are cut and `truncated` is set. */
export const MAX_RESULT_ROWS = 10_000;
/**
 * Server-side time limit of one analyst query, in seconds. The embedded
 * engine runs one statement at a time, so a long query delays inserts.
 */
export const MAX_EXECUTION_SECONDS = 15;
/**
 * Memory one analyst query may use, results included, in bytes: 512 MiB.
 * `max_result_bytes` is not used because chDB 26.7 checks it per block only.
 */
export const MAX_QUERY_MEMORY_BYTES = 512 * 1024 * 1024;
/** Maximum length of the query text, in characters. */
export const MAX_QUERY_LENGTH = 64 * 1024;

/** The body of `POST /api/sql`. */
export interface SqlRequest {
  query: string;
}

/** The reply of `POST /api/sql`. */
export interface SqlResponse {
  columns: Array<{ name: string; type: string }>;
  rows: Array<Record<string, unknown>>;
  rowCount: number;
  truncated: boolean;
  elapsedMs: number;
}

interface ClickHouseJsonResult {
  meta: Array<{ name: string; type: string }>;
  data: Array<Record<string, unknown>>;
  rows: number;
}

/**
 * Registers `POST /api/sql`: one read-only statement, run with ClickHouse's
 * `readonly` setting after {@link assertReadOnlyQuery} has checked it.
 */
export function registerSqlRoute(app: FastifyInstance, client: ClickHouseClient, tokens: readonly ApiToken[]): void {
  // The token is checked before the body is read, so an unauthenticated client learns nothing from parse errors.
  app.post('/api/sql', { onRequest: async (request) => void authorize(request, tokens, 'sql') }, async (request) => {
    const tokenName = authorize(request, tokens, 'sql');
    const query = readQuery(request.body);
    return runReadOnlyQuery(client, query, (elapsedMs, rowCount) =>
      request.log.info({ token: tokenName, elapsedMs, rowCount }, 'sql query served'),
    );
  });
}

/** Runs one analyst query against the store; used by the API and by the CLI when no service runs. */
export async function runReadOnlyQuery(
  client: ClickHouseClient,
  query: string,
  onDone?: (elapsedMs: number, rowCount: number) => void,
): Promise<SqlResponse> {
  const started = performance.now();
  let checked: CheckedQuery;
  try {
    checked = await assertReadOnlyQuery(client, query);
  } catch (error) {
    if (error instanceof RejectedQueryError) throw new ApiError('API_ERR_QUERY_REJECTED', error.message);
    throw error;
  }

  let result: ClickHouseJsonResult;
  try {
    const response = await client.query({ query: limitQuery(checked), format: 'JSON' });
    result = (await response.json()) as unknown as ClickHouseJsonResult;
  } catch (error) {
    throw classifyQueryError(error);
  }

  const truncated = result.data.length > MAX_RESULT_ROWS;
  const rows = truncated ? result.data.slice(0, MAX_RESULT_ROWS) : result.data;
  const elapsedMs = Math.round(performance.now() - started);
  onDone?.(elapsedMs, rows.length);
  return { columns: result.meta, rows, rowCount: rows.length, truncated, elapsedMs };
}

/**
 * Wraps a SELECT so that its row count, run time and access are limited by
 * query-level settings. These apply to this query alone, unlike
 * `clickhouse_settings`, which chDB turns into SET statements that persist
 * for the rest of the shared session. SHOW, DESCRIBE and EXISTS return small
 * results and run unchanged.
 */
function limitQuery(checked: CheckedQuery): string {
  if (!checked.isSelect) return checked.statement;
  return [
    'SELECT * FROM (',
    checked.statement,
    `) LIMIT ${MAX_RESULT_ROWS + 1}`,
    // 64-bit integers as strings, so no value loses precision in JSON.
    `SETTINGS readonly = 2, max_execution_time = ${MAX_EXECUTION_SECONDS}, max_memory_usage = ${MAX_QUERY_MEMORY_BYTES},`,
    '  output_format_json_quote_64bit_integers = 1, output_format_json_quote_denormals = 1',
  ].join('\n');
}

function readQuery(body: unknown): string {
  const query = typeof body === 'string' ? body : (body as Partial<SqlRequest> | null)?.query;
  if (typeof query !== 'string' || query.trim() === '') {
    throw new ApiError(
      'API_ERR_INVALID_BODY',
      'expected JSON {"query": "<one SELECT statement>"} or a text/plain body holding the query',
    );
  }
  if (query.length > MAX_QUERY_LENGTH) {
    throw new ApiError('API_ERR_INVALID_BODY', `query has ${query.length} characters; the limit is ${MAX_QUERY_LENGTH}`);
  }
  return query;
}

function classifyQueryError(error: unknown): ApiError {
  const message = error instanceof Error ? error.message.trim() : String(error);
  const code = (error as { code?: string }).code;
  const type = (error as { type?: string }).type ?? '';
  if (type === 'TIMEOUT_EXCEEDED' || /\(TIMEOUT_EXCEEDED\)/.test(message)) {
    return new ApiError(
      'API_ERR_QUERY_TIMEOUT',
      `the query ran past its ${MAX_EXECUTION_SECONDS} s limit; narrow the time range or aggregate more`,
    );
  }
  if (type === 'MEMORY_LIMIT_EXCEEDED' || /memory limit exceeded/i.test(message)) {
    return new ApiError(
      'API_ERR_RESULT_TOO_LARGE',
      `the query needs more than ${MAX_QUERY_MEMORY_BYTES / 1024 / 1024} MiB; select fewer columns, add LIMIT or aggregate more`,
    );
  }
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || /socket hang up/i.test(message)) {
    return new ApiError('API_ERR_STORE_UNAVAILABLE', message);
  }
  return new ApiError('API_ERR_QUERY_FAILED', message);
}
