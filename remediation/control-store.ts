import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { REMEDIATION_ERRORS, RemediationError } from './errors.js';

/** Result rows of one statement. */
export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

/** Runs parameterised SQL (`$1`, `$2`, ...) in the PostgreSQL dialect. */
export interface SqlRunner {
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<Row>>;
}

/**
 * The control-plane database: proposals, approvals, executions and the audit
 * log. The same SQL runs on a PostgreSQL server through a `pg` pool and on
 * PGlite, PostgreSQL compiled to WebAssembly and embedded in the process.
 */
export interface ControlStore extends SqlRunner {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `work` in one transaction, committed when it resolves and rolled back when it throws. */
  transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T>;
  /**
   * Takes a lock named `key` that lasts until the returned release function
   * runs or the process dies, or returns undefined when another process
   * holds it. On PostgreSQL it is a session advisory lock on a connection of
   * its own. A PGlite database lives inside one process, whose runner
   * already keeps one run per proposal, so there it always succeeds.
   */
  tryLock(key: string): Promise<(() => Promise<void>) | undefined>;
  close(): Promise<void>;
}

export interface ControlStoreOptions {
  /** PostgreSQL URL; without it an embedded PGlite database is opened under `dataDir`. */
  url?: string | undefined;
  /** Directory of the embedded database; ignored when `url` is set. */
  dataDir?: string | undefined;
  /** Schema that contains the tables, created when missing; `public` by default. */
  schema?: string | undefined;
  /** Connections of the pool, for a PostgreSQL server. */
  maxConnections?: number | undefined;
}

/** Environment variable with the control-plane PostgreSQL URL; overrides `remediation.database.url`. */
export const CONTROL_PLANE_URL_ENV = 'CONTROL_PLANE_URL';
const DEFAULT_MAX_CONNECTIONS = 8;
/** Executions one process runs at once on PostgreSQL; a further one waits for a lock connection. */
const MAX_LOCK_CONNECTIONS = 16;
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
/**
 * PGlite's own start parameters, with 16 MB of shared buffers in place of
 * PostgreSQL's default 128 MB. With PGlite 0.5.17 the default buffers alone
 * kept about 120 MiB more of the process resident, and the control plane's
 * tables are small.
 */
const PGLITE_START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

/** Opens the control-plane store and makes `options.schema` the search path of every session. */
export async function openControlStore(options: ControlStoreOptions): Promise<ControlStore> {
  const schema = options.schema ?? 'public';
  if (!SCHEMA_PATTERN.test(schema)) {
    throw new RemediationError(REMEDIATION_ERRORS.storeSchema, `invalid schema name "${schema}"; expected lowercase letters, digits and "_"`);
  }
  if (options.url) return openPostgresStore(options.url, schema, options.maxConnections ?? DEFAULT_MAX_CONNECTIONS);
  if (!options.dataDir) {
    throw new RemediationError(REMEDIATION_ERRORS.storeDirectory, 'missing data directory for the embedded control-plane database; set store.dataDir');
  }
  return openPgliteStore(options.dataDir, schema);
}

/** Returns the embedded database's directory under the store's data directory. */
export function controlPlaneDataDir(storeDataDir: string): string {
  return join(storeDataDir, 'control-plane');
}

async function openPostgresStore(url: string, schema: string, max: number): Promise<ControlStore> {
  const bootstrap = new pg.Client({ connectionString: url });
  await bootstrap.connect();
  try {
    await bootstrap.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  } finally {
    await bootstrap.end();
  }
  const pool = new pg.Pool({
    connectionString: url,
    max,
    application_name: 'syncwatch-control-plane',
    options: `-c search_path="${schema}"`,
  });
  // An idle connection that the server drops emits an error here; the next query reconnects.
  pool.on('error', () => undefined);
  // Locks keep their connection for a whole execution, so they get a pool of their own and
  // never starve the queries that the execution runs.
  const lockPool = new pg.Pool({ connectionString: url, max: MAX_LOCK_CONNECTIONS, application_name: 'syncwatch-control-plane-locks' });
  lockPool.on('error', () => undefined);
  return {
    kind: 'postgres',
    async query<Row>(sql: string, params: unknown[] = []) {
      const result = await pool.query(sql, params);
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    },
    async transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work({
          async query<Row>(sql: string, params: unknown[] = []) {
            const rows = await client.query(sql, params);
            return { rows: rows.rows as Row[], rowCount: rows.rowCount ?? 0 };
          },
        });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    async tryLock(key: string) {
      const client = await lockPool.connect();
      // A connection the server ends while locked emits an error here; the lock ends with it.
      client.on('error', () => undefined);
      try {
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [key]);
        if (rows[0]?.locked) {
          return async () => {
            await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
            client.release();
          };
        }
      } catch (error) {
        client.release(true);
        throw error;
      }
      client.release();
      return undefined;
    },
    async close() {
      await Promise.all([pool.end(), lockPool.end()]);
    },
  };
}

/**
 * PGlite has one session, and its `transaction` holds a lock that queues every
 * other query and transaction until it ends, so concurrent callers are
 * serialised as rows locked with `FOR UPDATE` would be on a server.
 */
async function openPgliteStore(dataDir: string, schema: string): Promise<ControlStore> {
  mkdirSync(dataDir, { recursive: true });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await createPgliteDatabase(dataDir);
  const db = await PGlite.create(dataDir, { startParams: PGLITE_START_PARAMS });
  await db.exec(`CREATE SCHEMA IF NOT EXISTS "${schema}"; SET search_path TO "${schema}"`);
  return {
    kind: 'pglite',
    async query<Row>(sql: string, params: unknown[] = []) {
      const result = await db.query<Row>(sql, params);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T> {
      return db.transaction((tx) =>
        work({
          async query<Row>(sql: string, params: unknown[] = []) {
            const result = await tx.query<Row>(sql, params);
            return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
          },
        }),
      );
    },
    tryLock: async () => async () => undefined,
    close: () => db.close(),
  };
}

/** Script of the child process. Its arguments are PGlite's module URL, the data directory and the start parameters as JSON. */
const CREATE_DATABASE_SCRIPT = `
const [moduleUrl, dataDir, startParams] = process.argv.slice(1);
const { PGlite } = await import(moduleUrl);
const db = await PGlite.create(dataDir, { startParams: JSON.parse(startParams) });
await db.close();
`;
const MAX_STDERR_CHARS = 4_000;

/**
 * Runs PGlite's initdb for `dataDir` in a child process. PGlite runs initdb
 * in a second, temporary instance, whose WebAssembly memory (about 400 MiB
 * of RSS with PGlite 0.5.17) stays resident until a full garbage collection,
 * which an idle service may not run for a long time. A child returns it on exit.
 */
async function createPgliteDatabase(dataDir: string): Promise<void> {
  const moduleUrl = import.meta.resolve('@electric-sql/pglite');
  const args = ['--input-type=module', '--eval', CREATE_DATABASE_SCRIPT, moduleUrl, dataDir, JSON.stringify(PGLITE_START_PARAMS)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-MAX_STDERR_CHARS);
  });
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  if (exitCode !== 0) {
    throw new RemediationError(
      REMEDIATION_ERRORS.storeDirectory,
      `creating the embedded control-plane database in ${dataDir} failed with exit code ${exitCode}; ` +
        `check that the directory is writable, or set remediation.database.url: ${stderr.trim()}`,
    );
  }
}
