import type { SqlResponse } from '../server/index.js';
import { ApiError, readLiveServiceRecord, readLocalApiToken, runReadOnlyQuery } from '../server/index.js';
import { openClickHouse, storeOptionsFromEnv } from '../store/index.js';
import { formatTable } from './format-table.js';

export type SqlOutputFormat = 'table' | 'json' | 'tsv';

export interface SqlCommandOptions {
  query: string;
  format: SqlOutputFormat;
  dataDir: string;
}

/**
 * Runs one analyst query. chDB lets only one process open a data directory,
 * so when a service owns it the query goes through the service's API.
 * Otherwise the store is opened directly.
 */
export async function runSqlCommand(options: SqlCommandOptions): Promise<string> {
  const service = readLiveServiceRecord(options.dataDir);
  const response = service
    ? await queryService(service.apiUrl, options.query, options.dataDir)
    : await queryStoreDirectly(options.query, options.dataDir);
  return formatResponse(response, options.format);
}

async function queryService(apiUrl: string, query: string, dataDir: string): Promise<SqlResponse> {
  const token = process.env.SYNCWATCH_API_TOKEN ?? readLocalApiToken(dataDir);
  if (!token) {
    throw new Error(`no API token: set SYNCWATCH_API_TOKEN, or run as the user who owns ${dataDir}/api-token`);
  }
  const response = await fetch(`${apiUrl}/api/sql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as SqlResponse | { error: { code: string; message: string } };
  if ('error' in body) throw new Error(`${body.error.code}: ${body.error.message}`);
  return body;
}

async function queryStoreDirectly(query: string, dataDir: string): Promise<SqlResponse> {
  const fromEnv = storeOptionsFromEnv();
  const client = openClickHouse(fromEnv.kind === 'server' ? fromEnv : { kind: 'embedded', dataDir });
  try {
    return await runReadOnlyQuery(client, query);
  } catch (error) {
    if (error instanceof ApiError) throw new Error(`${error.code}: ${error.message}`);
    throw error;
  } finally {
    await client.close();
  }
}

function formatResponse(response: SqlResponse, format: SqlOutputFormat): string {
  const columns = response.columns.map((column) => column.name);
  if (format === 'json') return response.rows.map((row) => JSON.stringify(row)).join('\n');
  if (format === 'tsv') {
    return [columns.join('\t'), ...response.rows.map((row) => columns.map((column) => String(row[column] ?? '')).join('\t'))].join('\n');
  }
  const footer = `(${response.rowCount} row${response.rowCount === 1 ? '' : 's'}${response.truncated ? ', truncated' : ''}, ${response.elapsedMs} ms)`;
  return `${formatTable(columns, response.rows)}\n${footer}`;
}
