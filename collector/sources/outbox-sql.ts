import mysql from 'mysql2/promise';
import type pg from 'pg';
import { openReadOnlyPool } from './queue-job.js';

/** Columns and rules of one outbox table, after config validation. */
export interface OutboxTableSpec {
  /** `table` or `schema.table`, already checked to be plain identifiers. */
  table: string;
  createdAtColumn: string;
  publishedAtColumn?: string;
  statusColumn?: string;
  unpublishedStatuses?: string[];
  failedStatuses?: string[];
  groupColumn?: string;
  /** Zone in which zone-less timestamp columns (`timestamp`, `DATETIME`) are written: `UTC`, `+02:00` or an IANA name. */
  timestampZone: string;
}

/** Counts of one group (or of the whole table when no group column is set). */
export interface OutboxGroupReading {
  /** Group value as text; null for rows whose group column is NULL and for ungrouped tables. */
  group: string | null;
  depth: number;
  /** Age of the oldest unpublished row by the database clock, in seconds; negative when it lies in the future. */
  oldestAgeSeconds: number | null;
  /** Unpublished rows whose created-at lies ahead of the database clock. */
  futureRows: number;
  /** Rows created within the rate window. */
  createdRecent: number;
  /** Rows published within the rate window; undefined without a published-at column. */
  publishedRecent?: number;
  /** Rows in a failed status; undefined without `failedStatuses`. */
  failed?: number;
}

/** Reads one outbox table on one database. */
export interface OutboxReader {
  read(windowSeconds: number): Promise<OutboxGroupReading[]>;
  close(): Promise<void>;
}

const OFFSET_ZONE_PATTERN = /^[+-]\d{2}:\d{2}$/;

/** Kinds of timestamp column the age arithmetic handles. */
type TimestampKind = 'zoned' | 'local';

interface ColumnKinds {
  createdAt: TimestampKind;
  publishedAt?: TimestampKind;
}

/**
 * Opens a reader for `url`: PostgreSQL for `postgres://` and `postgresql://`,
 * MariaDB or MySQL for `mysql://` and `mariadb://`.
 */
export function openOutboxReader(url: string, spec: OutboxTableSpec, timeoutMs: number): OutboxReader {
  if (/^postgres(ql)?:\/\//.test(url)) return new PostgresOutboxReader(url, spec, timeoutMs);
  return new MysqlOutboxReader(url, spec, timeoutMs);
}

/** Accumulates rows of several queries into one reading per group. */
class GroupAccumulator {
  readonly #groups = new Map<string | null, OutboxGroupReading>();
  readonly #spec: OutboxTableSpec;

  constructor(spec: OutboxTableSpec) {
    this.#spec = spec;
  }

  get(group: string | null): OutboxGroupReading {
    let reading = this.#groups.get(group);
    if (reading === undefined) {
      reading = { group, depth: 0, oldestAgeSeconds: null, futureRows: 0, createdRecent: 0 };
      if (this.#spec.publishedAtColumn !== undefined) reading.publishedRecent = 0;
      if (this.#spec.failedStatuses !== undefined) reading.failed = 0;
      this.#groups.set(group, reading);
    }
    return reading;
  }

  readings(): OutboxGroupReading[] {
    return [...this.#groups.values()];
  }
}

function toNumber(value: unknown): number {
  if (value === null || value === undefined) return 0;
  return Number(value);
}

function toNullableNumber(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  return Number(value);
}

function toGroup(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return String(value);
}

function splitQualifiedName(name: string): { schema: string | undefined; table: string } {
  const parts = name.split('.');
  return parts.length === 2 ? { schema: parts[0], table: parts[1] ?? '' } : { schema: undefined, table: name };
}

function configuredColumns(spec: OutboxTableSpec): string[] {
  const columns = [spec.createdAtColumn, spec.publishedAtColumn, spec.statusColumn, spec.groupColumn];
  return columns.filter((column): column is string => column !== undefined);
}

/** Reads an outbox table in PostgreSQL through a read-only pool. */
class PostgresOutboxReader implements OutboxReader {
  readonly #pool: pg.Pool;
  readonly #spec: OutboxTableSpec;
  #kinds: ColumnKinds | undefined;

  constructor(url: string, spec: OutboxTableSpec, timeoutMs: number) {
    this.#spec = spec;
    this.#pool = openReadOnlyPool(url, timeoutMs);
  }

  async read(windowSeconds: number): Promise<OutboxGroupReading[]> {
    const client = await this.#pool.connect();
    try {
      // One read-only transaction, so every query reads one snapshot with one `now()`.
      await client.query('BEGIN READ ONLY');
      const kinds = this.#kinds ?? (await this.#readColumnKinds(client));
      const readings = await this.#readGroups(client, kinds, windowSeconds);
      await client.query('COMMIT');
      client.release();
      return readings;
    } catch (error) {
      // A changed table may explain the failure, so its columns are read again next time.
      this.#kinds = undefined;
      client.release(error as Error);
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async #readColumnKinds(client: pg.PoolClient): Promise<ColumnKinds> {
    const { schema, table } = splitQualifiedName(this.#spec.table);
    const result = await client.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns
        WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2`,
      [schema ?? null, table],
    );
    const types = new Map(result.rows.map((row) => [row.column_name, row.data_type]));
    const kinds = checkColumns(this.#spec, types, postgresTimestampKind);
    this.#kinds = kinds;
    return kinds;
  }

  async #readGroups(client: pg.PoolClient, kinds: ColumnKinds, windowSeconds: number): Promise<OutboxGroupReading[]> {
    const spec = this.#spec;
    const table = quotePostgresName(spec.table);
    const created = quotePostgresName(spec.createdAtColumn);
    const group = spec.groupColumn === undefined ? 'NULL::text' : `${quotePostgresName(spec.groupColumn)}::text`;
    const zoneParam = OFFSET_ZONE_PATTERN.test(spec.timestampZone) ? '$1::interval' : '$1::text';
    const clockOf = (kind: TimestampKind) => (kind === 'zoned' ? 'now()' : `(now() AT TIME ZONE ${zoneParam})`);
    // The zone parameter is always selected, because PostgreSQL rejects a parameter whose type it cannot deduce.
    const clock = `(SELECT ${clockOf(kinds.createdAt)} AS created_now,
                           ${clockOf(kinds.publishedAt ?? 'zoned')} AS published_now,
                           ${zoneParam} AS zone) AS clock`;
    const groupBy = spec.groupColumn === undefined ? '' : 'GROUP BY 1';
    const accumulator = new GroupAccumulator(spec);

    let unpublished: string;
    const unpublishedParams: unknown[] = [spec.timestampZone];
    if (spec.statusColumn !== undefined) {
      unpublished = `${quotePostgresName(spec.statusColumn)}::text = ANY($2::text[])`;
      unpublishedParams.push(spec.unpublishedStatuses ?? []);
    } else {
      unpublished = `${quotePostgresName(spec.publishedAtColumn ?? '')} IS NULL`;
    }
    const waiting = await client.query<{ grp: string | null; depth: number; oldest_seconds: number | null; future_rows: number }>(
      `SELECT ${group} AS grp,
              count(*)::int AS depth,
              max(extract(epoch FROM clock.created_now - ${created}))::float8 AS oldest_seconds,
              count(*) FILTER (WHERE ${created} > clock.created_now)::int AS future_rows
         FROM ${table}, ${clock}
        WHERE ${unpublished}
        ${groupBy}`,
      unpublishedParams,
    );
    for (const row of waiting.rows) {
      if (spec.groupColumn !== undefined || row.depth > 0) {
        const reading = accumulator.get(toGroup(row.grp));
        reading.depth = toNumber(row.depth);
        reading.oldestAgeSeconds = toNullableNumber(row.oldest_seconds);
        reading.futureRows = toNumber(row.future_rows);
      }
    }

    const createdRecent = await client.query<{ grp: string | null; rows: number }>(
      `SELECT ${group} AS grp, count(*)::int AS rows
         FROM ${table}, ${clock}
        WHERE ${created} > clock.created_now - make_interval(secs => $2)
        ${groupBy}`,
      [spec.timestampZone, windowSeconds],
    );
    for (const row of createdRecent.rows) {
      if (row.rows > 0) accumulator.get(toGroup(row.grp)).createdRecent = toNumber(row.rows);
    }

    if (spec.publishedAtColumn !== undefined) {
      const published = quotePostgresName(spec.publishedAtColumn);
      const publishedRecent = await client.query<{ grp: string | null; rows: number }>(
        `SELECT ${group} AS grp, count(*)::int AS rows
           FROM ${table}, ${clock}
          WHERE ${published} > clock.published_now - make_interval(secs => $2)
          ${groupBy}`,
        [spec.timestampZone, windowSeconds],
      );
      for (const row of publishedRecent.rows) {
        if (row.rows > 0) accumulator.get(toGroup(row.grp)).publishedRecent = toNumber(row.rows);
      }
    }

    if (spec.statusColumn !== undefined && spec.failedStatuses !== undefined) {
      const failed = await client.query<{ grp: string | null; rows: number }>(
        `SELECT ${group} AS grp, count(*)::int AS rows
           FROM ${table}
          WHERE ${quotePostgresName(spec.statusColumn)}::text = ANY($1::text[])
          ${groupBy}`,
        [spec.failedStatuses],
      );
      for (const row of failed.rows) {
        if (row.rows > 0) accumulator.get(toGroup(row.grp)).failed = toNumber(row.rows);
      }
    }
    return accumulator.readings();
  }
}

function postgresTimestampKind(dataType: string): TimestampKind | undefined {
  if (dataType === 'timestamp with time zone') return 'zoned';
  if (dataType === 'timestamp without time zone') return 'local';
  return undefined;
}

/**
 * Checks that every configured column exists and that the timestamp columns
 * have a timestamp type, and returns how each timestamp column stores time.
 */
function checkColumns(
  spec: OutboxTableSpec,
  types: Map<string, string>,
  timestampKind: (dataType: string) => TimestampKind | undefined,
): ColumnKinds {
  if (types.size === 0) throw new Error(`table ${spec.table} not found or not readable`);
  for (const column of configuredColumns(spec)) {
    if (!types.has(column)) {
      throw new Error(`column "${column}" not found in table ${spec.table}; columns are: ${[...types.keys()].join(', ')}`);
    }
  }
  const kindOf = (column: string): TimestampKind => {
    const dataType = types.get(column) ?? '';
    const kind = timestampKind(dataType);
    if (kind === undefined) {
      throw new Error(`column "${column}" of table ${spec.table} has type ${dataType}; expected a timestamp type`);
    }
    return kind;
  };
  const kinds: ColumnKinds = { createdAt: kindOf(spec.createdAtColumn) };
  if (spec.publishedAtColumn !== undefined) kinds.publishedAt = kindOf(spec.publishedAtColumn);
  return kinds;
}

function quotePostgresName(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
}

function quoteMysqlName(name: string): string {
  return name
    .split('.')
    .map((part) => `\`${part}\``)
    .join('.');
}

/**
 * Reads an outbox table in MariaDB or MySQL. Every session is read-only and
 * runs in UTC (`time_zone = '+00:00'`), so `TIMESTAMP` columns are read as UTC.
 * A `DATETIME` column carries no zone: its values are taken to be in
 * `timestampZone` and compared with the database clock converted to that zone.
 */
class MysqlOutboxReader implements OutboxReader {
  readonly #pool: mysql.Pool;
  readonly #spec: OutboxTableSpec;
  readonly #timeoutMs: number;
  #kinds: ColumnKinds | undefined;

  constructor(url: string, spec: OutboxTableSpec, timeoutMs: number) {
    this.#spec = spec;
    this.#timeoutMs = timeoutMs;
    this.#pool = mysql.createPool({
      uri: url.replace(/^mariadb:/, 'mysql:'),
      connectionLimit: 1,
      maxIdle: 1,
      idleTimeout: 60_000,
      connectTimeout: timeoutMs,
      timezone: 'Z',
    });
    // Commands on one connection run in order, so these settings apply before any query of ours.
    this.#pool.pool.on('connection', (connection) => {
      connection.query('SET SESSION TRANSACTION READ ONLY');
      connection.query("SET time_zone = '+00:00'");
    });
  }

  async read(windowSeconds: number): Promise<OutboxGroupReading[]> {
    const connection = await this.#pool.getConnection();
    try {
      await this.#query(connection, 'START TRANSACTION READ ONLY', []);
      const kinds = this.#kinds ?? (await this.#readColumnKinds(connection));
      const readings = await this.#readGroups(connection, kinds, windowSeconds);
      await this.#query(connection, 'COMMIT', []);
      connection.release();
      return readings;
    } catch (error) {
      this.#kinds = undefined;
      // The transaction state is unknown, so the connection is closed instead of returned.
      connection.destroy();
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async #query(connection: mysql.PoolConnection, sql: string, values: unknown[]): Promise<Record<string, unknown>[]> {
    const [rows] = await connection.query({ sql, values, timeout: this.#timeoutMs });
    return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
  }

  async #readColumnKinds(connection: mysql.PoolConnection): Promise<ColumnKinds> {
    const { schema, table } = splitQualifiedName(this.#spec.table);
    const rows = await this.#query(
      connection,
      `SELECT COLUMN_NAME AS column_name, DATA_TYPE AS data_type FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?`,
      [schema ?? null, table],
    );
    const types = new Map(rows.map((row) => [String(row.column_name), String(row.data_type).toLowerCase()]));
    const kinds = checkColumns(this.#spec, types, mysqlTimestampKind);
    if (kinds.createdAt === 'local' || kinds.publishedAt === 'local') {
      await this.#checkZone(connection);
    }
    this.#kinds = kinds;
    return kinds;
  }

  /** Rejects a zone that CONVERT_TZ cannot convert to, which would otherwise turn every age into NULL. */
  async #checkZone(connection: mysql.PoolConnection): Promise<void> {
    const zone = mysqlZone(this.#spec.timestampZone);
    const rows = await this.#query(connection, "SELECT CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', ?) AS converted", [zone]);
    if (rows[0]?.converted === null || rows[0]?.converted === undefined) {
      throw new Error(
        `time zone "${this.#spec.timestampZone}" is unknown to the server; load its time zone tables or set timestampZone to an offset such as "+01:00"`,
      );
    }
  }

  async #readGroups(
    connection: mysql.PoolConnection,
    kinds: ColumnKinds,
    windowSeconds: number,
  ): Promise<OutboxGroupReading[]> {
    const spec = this.#spec;
    const table = quoteMysqlName(spec.table);
    const created = quoteMysqlName(spec.createdAtColumn);
    const group = spec.groupColumn === undefined ? 'NULL' : `CAST(${quoteMysqlName(spec.groupColumn)} AS CHAR)`;
    const groupBy = spec.groupColumn === undefined ? '' : 'GROUP BY grp';
    const zone = mysqlZone(spec.timestampZone);
    const clockOf = (kind: TimestampKind) =>
      kind === 'zoned' ? 'UTC_TIMESTAMP(6)' : "CONVERT_TZ(UTC_TIMESTAMP(6), '+00:00', ?)";
    const clockParams = (...used: TimestampKind[]) => used.filter((kind) => kind === 'local').map(() => zone);
    const createdKind = kinds.createdAt;
    const publishedKind = kinds.publishedAt ?? 'zoned';
    const clock = `(SELECT ${clockOf(createdKind)} AS created_now, ${clockOf(publishedKind)} AS published_now) AS clock`;
    const clockValues = clockParams(createdKind, publishedKind);
    const accumulator = new GroupAccumulator(spec);

    let unpublished: string;
    const unpublishedParams: unknown[] = [...clockValues];
    if (spec.statusColumn !== undefined) {
      const statuses = spec.unpublishedStatuses ?? [];
      unpublished = `${quoteMysqlName(spec.statusColumn)} IN (${statuses.map(() => '?').join(', ')})`;
      unpublishedParams.push(...statuses);
    } else {
      unpublished = `${quoteMysqlName(spec.publishedAtColumn ?? '')} IS NULL`;
    }
    // TIMESTAMPDIFF in microseconds stays an integer, which the driver returns as a number.
    const waiting = await this.#query(
      connection,
      `SELECT ${group} AS grp,
              COUNT(*) AS depth,
              MAX(TIMESTAMPDIFF(MICROSECOND, ${created}, clock.created_now)) AS oldest_us,
              COALESCE(SUM(${created} > clock.created_now), 0) AS future_rows
         FROM ${table} CROSS JOIN ${clock}
        WHERE ${unpublished}
        ${groupBy}`,
      unpublishedParams,
    );
    for (const row of waiting) {
      const depth = toNumber(row.depth);
      if (spec.groupColumn !== undefined || depth > 0) {
        const reading = accumulator.get(toGroup(row.grp));
        reading.depth = depth;
        const oldestMicros = toNullableNumber(row.oldest_us);
        reading.oldestAgeSeconds = oldestMicros === null ? null : oldestMicros / 1_000_000;
        reading.futureRows = toNumber(row.future_rows);
      }
    }

    const windowMicros = Math.round(windowSeconds * 1_000_000);
    const createdRecent = await this.#query(
      connection,
      `SELECT ${group} AS grp, COUNT(*) AS row_count
         FROM ${table} CROSS JOIN ${clock}
        WHERE ${created} > clock.created_now - INTERVAL ? MICROSECOND
        ${groupBy}`,
      [...clockValues, windowMicros],
    );
    for (const row of createdRecent) {
      const rows = toNumber(row.row_count);
      if (rows > 0) accumulator.get(toGroup(row.grp)).createdRecent = rows;
    }

    if (spec.publishedAtColumn !== undefined) {
      const published = quoteMysqlName(spec.publishedAtColumn);
      const publishedRecent = await this.#query(
        connection,
        `SELECT ${group} AS grp, COUNT(*) AS row_count
           FROM ${table} CROSS JOIN ${clock}
          WHERE ${published} > clock.published_now - INTERVAL ? MICROSECOND
          ${groupBy}`,
        [...clockValues, windowMicros],
      );
      for (const row of publishedRecent) {
        const rows = toNumber(row.row_count);
        if (rows > 0) accumulator.get(toGroup(row.grp)).publishedRecent = rows;
      }
    }

    if (spec.statusColumn !== undefined && spec.failedStatuses !== undefined) {
      const failedStatuses = spec.failedStatuses;
      const failed = await this.#query(
        connection,
        `SELECT ${group} AS grp, COUNT(*) AS row_count
           FROM ${table}
          WHERE ${quoteMysqlName(spec.statusColumn)} IN (${failedStatuses.map(() => '?').join(', ')})
          ${groupBy}`,
        failedStatuses,
      );
      for (const row of failed) {
        const rows = toNumber(row.row_count);
        if (rows > 0) accumulator.get(toGroup(row.grp)).failed = rows;
      }
    }
    return accumulator.readings();
  }
}

/** Maps `UTC` to an offset, because CONVERT_TZ needs the server's time zone tables for named zones but not for offsets. */
function mysqlZone(zone: string): string {
  return zone === 'UTC' ? '+00:00' : zone;
}

function mysqlTimestampKind(dataType: string): TimestampKind | undefined {
  if (dataType === 'timestamp') return 'zoned';
  if (dataType === 'datetime') return 'local';
  return undefined;
}
