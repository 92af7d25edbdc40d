import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { SqlResponse } from '../server/index.js';
import { ApiError, readLiveServiceRecord, readLocalApiToken, runReadOnlyQuery } from '../server/index.js';
import { openClickHouse, resolveStoreOptions, type StoreSettings } from '../store/index.js';
import { formatTable } from './format-table.js';

export type SqlOutputFormat = 'table' | 'json' | 'tsv';

export interface SqlCommandOptions {
  query: string;
  format: SqlOutputFormat;
  /** The configured store; its data directory is also where a running service records itself. */
  store: StoreSettings;
}

/**
 * Runs one analyst query. chDB lets only one process open a data directory,
 * so when a service owns it the query goes through the service's API.
 * Otherwise the store is opened directly.
 */
export async function runSqlCommand(options: SqlCommandOptions): Promise<string> {
  const { dataDir } = options.store;
  const service = readLiveServiceRecord(dataDir);
  const response = service
    ? await queryService(service.apiUrl, options.query, dataDir)
    : await queryStoreDirectly(options.query, options.store);
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
  if ('error' in body) {
    const hint =
      response.status === 401 && process.env.SYNCWATCH_API_TOKEN
        ? `; SYNCWATCH_API_TOKEN was rejected, so unset it to use the local token in ${dataDir}/api-token`
        : '';
    throw new Error(`${body.error.code}: ${body.error.message}${hint}`);
  }
  return body;
}

async function queryStoreDirectly(query: string, store: StoreSettings): Promise<SqlResponse> {
  const { dataDir } = store;
  const storeOptions = resolveStoreOptions(store);
  if (storeOptions.kind === 'embedded' && !existsSync(dataDir)) {
    throw new Error(
      `no syncwatch service runs for ${resolve(dataDir)} and there is no store there; run the command in the folder where syncwatch runs, or pass --config`,
    );
  }
  const client = openClickHouse(storeOptions);
  try {
    return await runReadOnlyQuery(client, query);
  } catch (error) {
    if (error instanceof ApiError) throw new Error(`${error.code}: ${error.message}`);
    if (/Cannot lock file/i.test((error as Error).message)) {
      throw new Error(
        `the store at ${resolve(dataDir)} is open in another process that did not record an API; stop that process or query through its API`,
      );
    }
    throw error;
  } finally {
    await client.close();
  }
}

function formatResponse(response: SqlResponse, format: SqlOutputFormat): string {
  const columns = response.columns.map((column) => column.name);
  if (format === 'json') return response.rows.map((row) => JSON.stringify(row)).join('\n');
  if (format === 'tsv') {
    const lines = response.rows.map((row) => columns.map((column) => formatTsvField(row[column])).join('\t'));
    return [columns.map(formatTsvField).join('\t'), ...lines].join('\n');
  }
  const footer = `(${response.rowCount} row${response.rowCount === 1 ? '' : 's'}${response.truncated ? ', truncated' : ''}, ${response.elapsedMs} ms)`;
  return `${formatTable(columns, response.rows)}\n${footer}`;
}

/** Formats one TSV field as ClickHouse's TabSeparated does: `\N` for NULL, escaped tabs, newlines and backslashes. */
function formatTsvField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}
