import type { createClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';

/** The connection type `createClient({ connection })` takes. */
export type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>;

type Operation = 'query' | 'exec' | 'command' | 'insert' | 'ping';
const SERIALIZED_OPERATIONS: ReadonlySet<PropertyKey> = new Set<Operation>(['query', 'exec', 'command', 'insert', 'ping']);

/**
 * Opens a chDB connection for `@clickhouse/client` that runs one statement at
 * a time and cleans up after a failed one.
 *
 * chDB 26.7 (npm chdb 3.4) keeps the output a statement wrote before it
 * failed, and returns it in front of the next statement's result, so one
 * failed JSON query corrupts whatever runs next. After every failure this
 * connection runs a throwaway `SELECT 1` inside the same lock, before any
 * other caller's statement.
 */
export function openSerializedChdbConnection(path: string): ClientConnection {
  // chdb types its connection against the deprecated @clickhouse/client-common
  // package, while @clickhouse/client now bundles its own copy of the same types.
  const inner = createChdbConnection({ path }) as unknown as ClientConnection;
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

  const runExclusive = <T>(operation: () => Promise<T>): Promise<T> => {
    const result = tail.then(operation).catch(async (error: unknown) => {
      await discardLeftoverOutput();
      throw error;
    });
    tail = result.catch(() => undefined);
    return result;
  };

  return new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (SERIALIZED_OPERATIONS.has(property)) {
        return (params: unknown) => runExclusive(() => (value as (params: unknown) => Promise<unknown>).call(target, params));
      }
      return (value as (...args: unknown[]) => unknown).bind(target);
    },
  });
}
