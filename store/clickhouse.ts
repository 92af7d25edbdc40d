import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { openSerializedChdbConnection } from './chdb-connection.js';

/** Location of the ClickHouse store: an embedded chDB directory or a server. */
export type StoreOptions =
  | { kind: 'embedded'; dataDir: string }
  | { kind: 'server'; url: string; username?: string; password?: string; database?: string; cluster?: string };

/** Default embedded data directory, relative to the working directory. */
export const DEFAULT_DATA_DIR = './data';

/**
 * Reads store options from the environment: `CLICKHOUSE_URL` (with
 * `CLICKHOUSE_USER`, `CLICKHOUSE_PASSWORD`, `CLICKHOUSE_DATABASE` and
 * `CLICKHOUSE_CLUSTER`) selects a server, otherwise chDB embeds the engine
 * under `SYNCWATCH_DATA_DIR` or `./data`.
 */
export function storeOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): StoreOptions {
  const url = env.CLICKHOUSE_URL?.trim();
  if (url) {
    return {
      kind: 'server',
      url,
      username: env.CLICKHOUSE_USER,
      password: env.CLICKHOUSE_PASSWORD,
      database: env.CLICKHOUSE_DATABASE,
      cluster: env.CLICKHOUSE_CLUSTER?.trim() || undefined,
    };
  }
  return { kind: 'embedded', dataDir: env.SYNCWATCH_DATA_DIR?.trim() || DEFAULT_DATA_DIR };
}

/** Store settings from `syncwatch.yaml`: an embedded data directory, or a server URL with its credentials. */
export interface StoreSettings {
  dataDir: string;
  url?: string;
  username?: string;
  password?: string;
  database?: string;
  /** Cluster name for replicated tables, as `adaptStatementForCluster` uses it. */
  cluster?: string;
}

/**
 * Chooses the store for the given settings: `CLICKHOUSE_URL` in the
 * environment wins, then a configured `url`, then the embedded data directory.
 */
export function resolveStoreOptions(settings: StoreSettings, env: NodeJS.ProcessEnv = process.env): StoreOptions {
  const fromEnv = storeOptionsFromEnv(env);
  if (fromEnv.kind === 'server') return { ...fromEnv, cluster: fromEnv.cluster ?? settings.cluster };
  if (settings.url) {
    const { url, username, password, database, cluster } = settings;
    return { kind: 'server', url, username, password, database, cluster };
  }
  return { kind: 'embedded', dataDir: settings.dataDir };
}

/**
 * Opens a `@clickhouse/client` client on the chosen store. The rest of
 * syncwatch uses only this client, so one SQL dialect serves both kinds.
 *
 * chDB binds one data directory per process: open the embedded store once per
 * process and share the client.
 */
export function openClickHouse(options: StoreOptions): ClickHouseClient {
  if (options.kind === 'server') {
    return createClient({
      url: options.url,
      username: options.username,
      password: options.password,
      database: options.database,
      clickhouse_settings: {
        // Let the server batch small inserts; the insert returns once the rows are written.
        async_insert: 1,
        wait_for_async_insert: 1,
      },
    });
  }
  const path = resolve(options.dataDir);
  mkdirSync(path, { recursive: true });
  return createClient({ connection: openSerializedChdbConnection(path) });
}

/** Returns the cluster that migrations create replicated tables on, if any. */
export function storeCluster(options: StoreOptions): string | undefined {
  return options.kind === 'server' ? options.cluster : undefined;
}

/** Describes a store without credentials, for logs and `syncwatch status`. */
export function describeStore(options: StoreOptions): string {
  if (options.kind === 'embedded') return `embedded chDB at ${resolve(options.dataDir)}`;
  const url = new URL(options.url);
  url.username = '';
  url.password = '';
  const cluster = options.cluster ? ` on cluster ${options.cluster}` : '';
  return `ClickHouse server ${url.origin}${options.database ? `/${options.database}` : ''}${cluster}`;
}
