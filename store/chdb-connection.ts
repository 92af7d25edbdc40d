// Sets the allocator's settings, so it must load before chdb.
import './chdb-allocator.js';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { createClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';

/** The connection type `createClient({ connection })` takes. */
export type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>;

type Operation = 'query' | 'exec' | 'command' | 'insert' | 'ping';
type ExecParams = Parameters<ClientConnection['exec']>[0];

/**
 * Binary input formats whose INSERT bodies go through a file. chDB's
 * connection decodes `exec` bodies as UTF-8 text (npm chdb 3.4), which
 * corrupts binary data, and its raw insert accepts text formats only.
 */
const STAGED_INSERT_PATTERN = /\sFORMAT\s+(RowBinaryWithNamesAndTypes)\s*$/;

/** Sub-directory of the chDB data directory that contains bodies while their INSERT runs. */
export const INSERT_STAGING_DIRECTORY = 'insert-staging';

const SERIALIZED_OPERATIONS: ReadonlySet<PropertyKey> = new Set<Operation>(['query', 'exec', 'command', 'insert', 'ping']);

/**
 * chDB sessions that an embedded store opens on its data directory. Each runs
 * one statement at a time, so with two an insert runs beside another insert
 * or a query, one on each of two cores. Inserting the same 30,000-span batches
 * into a fresh store from two sessions at once stored 40% more spans a
 * second than from one (docs/benchmarks.md).
 */
export const EMBEDDED_SESSIONS = 2;

/** One chDB session and the chain of statements that runs on it, one at a time. */
interface SerializedSession {
  inner: ClientConnection;
  /** Statements queued or running. */
  pending: number;
  runExclusive<T>(operation: () => Promise<T>): Promise<T>;
}

/**
 * Opens a connection for `@clickhouse/client` over `sessions` chDB sessions
 * on one data directory. Each statement goes to the session with the fewest
 * statements queued, and each session runs one statement at a time and
 * cleans up after a failed one. Statements that the caller awaits one after
 * another see each other's writes, whichever session runs them.
 *
 * An `exec` of `INSERT ... FORMAT RowBinaryWithNamesAndTypes` with a body
 * writes the body to a file and runs `INSERT ... SELECT * FROM file(...)`
 * instead, which ClickHouse reads with the insert table's structure. Its
 * settings, deduplication token included, apply as before.
 *
 * chDB 26.7 (npm chdb 3.4) keeps the output a statement wrote before it
 * failed, and returns it in front of the next statement's result on the same
 * session, so one failed JSON query corrupts whatever runs next there. After
 * every failure the session runs a throwaway `SELECT 1` inside its own lock,
 * before any other caller's statement. Other sessions are not affected.
 */
export function openSerializedChdbConnection(path: string, sessions = EMBEDDED_SESSIONS): ClientConnection {
  if (!Number.isInteger(sessions) || sessions < 1) {
    throw new RangeError(`invalid chDB session count ${sessions}: expected a whole number of at least 1`);
  }
  const stagingDirectory = prepareStagingDirectory(path);
  // chdb types its connection against the deprecated @clickhouse/client-common
  // package, while @clickhouse/client now bundles its own copy of the same types.
  const pool = Array.from({ length: sessions }, () => openSession(createChdbConnection({ path }) as unknown as ClientConnection));
  const first = pool[0]!;

  const runOnLeastBusy = <T>(operation: (inner: ClientConnection) => Promise<T>): Promise<T> => {
    const session = pool.reduce((best, candidate) => (candidate.pending < best.pending ? candidate : best), first);
    return session.runExclusive(() => operation(session.inner));
  };

  const execThroughFile = async (params: ExecParams, format: string, values: Readable) => {
    const file = join(stagingDirectory, `insert-${randomUUID()}.bin`);
    try {
      // A write that fails part way, on a full disk for example, leaves a file to remove too.
      await writeFile(file, values);
      const query = `${params.query.replace(STAGED_INSERT_PATTERN, '')} SELECT * FROM file('${quoteSqlString(toLiteralGlob(file))}', '${format}')`;
      return await runOnLeastBusy((inner) => inner.exec({ ...params, query, values: undefined }));
    } finally {
      await rm(file, { force: true });
    }
  };

  return new Proxy(first.inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (property === 'exec') {
        return (params: ExecParams) => {
          const format = STAGED_INSERT_PATTERN.exec(params.query)?.[1];
          if (format && params.values) return execThroughFile(params, format, params.values);
          return runOnLeastBusy((inner) => inner.exec(params));
        };
      }
      if (SERIALIZED_OPERATIONS.has(property)) {
        return (params: unknown) =>
          runOnLeastBusy((inner) => {
            const operation = Reflect.get(inner, property) as (params: unknown) => Promise<unknown>;
            return operation.call(inner, params);
          });
      }
      if (property === 'close') {
        return async () => {
          await Promise.all(pool.map((session) => session.runExclusive(() => session.inner.close())));
        };
      }
      return (value as (...args: unknown[]) => unknown).bind(target);
    },
  });
}

/** Wraps a chDB connection so that its statements run one at a time, with a cleanup after each failure. */
function openSession(inner: ClientConnection): SerializedSession {
  let tail: Promise<unknown> = Promise.resolve();

  const discardLeftoverOutput = async (): Promise<void> => {
    try {
      const result = await inner.query({ query: 'SELECT 1 FORMAT TabSeparated' } as Parameters<ClientConnection['query']>[0]);
      for await (const _chunk of result.stream) {
        // Reading the stream to its end releases it.
      }
    } catch {
      // The next statement reports any real problem with the store.
    }
  };

  const session: SerializedSession = {
    inner,
    pending: 0,
    runExclusive<T>(operation: () => Promise<T>): Promise<T> {
      session.pending++;
      const result = tail.then(operation).catch(async (error: unknown) => {
        await discardLeftoverOutput();
        throw error;
      });
      tail = result.catch(() => undefined);
      void tail.then(() => session.pending--);
      return result;
    },
  };
  return session;
}

/** Creates the staging directory and removes bodies that a crash during their INSERT left behind. */
function prepareStagingDirectory(path: string): string {
  const directory = join(path, INSERT_STAGING_DIRECTORY);
  mkdirSync(directory, { recursive: true });
  for (const name of readdirSync(directory)) {
    if (name.startsWith('insert-')) rmSync(join(directory, name), { force: true });
  }
  return directory;
}

/**
 * Returns a `file()` path that matches only `path`. ClickHouse expands `*`,
 * `?` and `{a,b}` in `file()` paths and has no escape for them (checked with
 * chDB 26.7), so under a data directory such as `/srv/{a,b}` the INSERT would
 * read no file and still succeed. Each such character becomes `?`, which
 * matches one character other than `/`, and the file name's random UUID
 * keeps the pattern from matching another file.
 */
function toLiteralGlob(path: string): string {
  return path.replace(/[*?{}]/g, '?');
}

/** Escapes a value for a single-quoted ClickHouse string literal. */
function quoteSqlString(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}
