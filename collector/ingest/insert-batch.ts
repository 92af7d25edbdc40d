import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';

/** ClickHouse input formats of batch bodies. */
export type InsertFormat = 'JSONEachRow' | 'RowBinaryWithNamesAndTypes';

/** Format of a batch or spool record that names none, as every spool record written before formats existed. */
export const DEFAULT_INSERT_FORMAT: InsertFormat = 'JSONEachRow';

/**
 * A batch ready to insert: its id, which doubles as the deduplication token,
 * and its body in `format` (JSONEachRow when absent).
 */
export interface EncodedBatch {
  batchId: string;
  rowCount: number;
  body: Buffer;
  format?: InsertFormat;
}

/**
 * Rows encoded before they reach the batcher. A `RowBinaryWithNamesAndTypes`
 * body contains rows only, and the batch that takes them starts with `header`.
 */
export type EncodedRows =
  | { format: 'JSONEachRow'; rowCount: number; body: Buffer }
  | { format: 'RowBinaryWithNamesAndTypes'; rowCount: number; header: Buffer; body: Buffer };

/** Inserts encoded batches into ClickHouse. The ingest pipeline depends on this interface only. */
export interface BatchInserter {
  /**
   * Inserts `batch` into `table` and resolves once ClickHouse has stored it.
   * Inserting the same batch again stores nothing, as long as the first
   * insert is still within the table's deduplication window.
   */
  insert(table: string, batch: EncodedBatch): Promise<void>;
}

/** Characters allowed in table names and batch ids, which are written into the SQL text. */
const SAFE_TABLE_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SAFE_BATCH_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,200}$/;

/**
 * Creates an inserter that sends each batch as one
 * `INSERT ... SETTINGS insert_deduplication_token = '<batch id>' FORMAT <format>`.
 * The body goes as bytes, so binary formats work over HTTP. On chDB,
 * `openClickHouse`'s connection passes binary bodies through a file.
 *
 * The token sits in the statement's own SETTINGS clause, never in
 * `clickhouse_settings`: on chDB the client turns `clickhouse_settings` into
 * `SET` statements that stay in force for the rest of the session, and a
 * token left behind would make ClickHouse drop the next, different batch as
 * a duplicate.
 *
 * `async_insert = 0` overrides the server client's default of async inserts
 * for these statements. Batches already hold thousands of rows, so the
 * server-side buffer adds nothing, and ClickHouse documents deduplication of
 * async inserts (`async_insert_deduplicate`) for replicated tables only,
 * while these tables are plain MergeTree.
 *
 * `max_partitions_per_insert_block = 0` lifts ClickHouse's limit of 100
 * partitions per insert block: the tables are partitioned by day, and one
 * batch of spans or samples can cover more than 100 days.
 */
export function createClientBatchInserter(client: ClickHouseClient): BatchInserter {
  return {
    async insert(table, batch) {
      const query = buildInsertStatement(table, batch.batchId, batch.format);
      const result = await client.exec({ query, values: Readable.from([batch.body]) });
      // The response carries no rows; reading it to the end frees the connection.
      result.stream.resume();
      await new Promise<void>((resolve, reject) => {
        result.stream.once('end', resolve);
        result.stream.once('close', resolve);
        result.stream.once('error', reject);
      });
    },
  };
}

/** Builds the INSERT statement of a batch. Throws a RangeError for a name or id outside the safe pattern. */
export function buildInsertStatement(table: string, batchId: string, format: InsertFormat = DEFAULT_INSERT_FORMAT): string {
  if (!SAFE_TABLE_PATTERN.test(table)) {
    throw new RangeError(`invalid table name "${table}": expected letters, digits and underscores`);
  }
  if (!SAFE_BATCH_ID_PATTERN.test(batchId)) {
    throw new RangeError(`invalid batch id "${batchId}": expected 1 to 200 letters, digits or . _ : -`);
  }
  return `INSERT INTO ${table} SETTINGS insert_deduplication_token = '${batchId}', async_insert = 0, max_partitions_per_insert_block = 0 FORMAT ${format}`;
}
