/**
 * A local server that speaks Odoo's external API over a real `queue_job`
 * table in PostgreSQL: `/jsonrpc` (`common.authenticate`, `common.login`,
 * `object.execute_kw`) and `/json/2/<model>/<method>` with a bearer API key.
 * Domains become parameterised SQL, so the queue.job reads run against the
 * same rows the SQL source reads.
 *
 * NOTE: it implements only what syncwatch calls: `read_group`,
 * `formatted_read_group`, `search_read`, `search_count` and `requeue` on
 * `queue.job`.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import pg from 'pg';
import type { Logger } from 'pino';
import { OdooFault, quoteColumn, SqlParameters, translateDomain, type OdooFieldType } from './odoo-domain-sql.js';
import { quoteTableName } from './odoo-queue-job.js';

/** Model that the server serves. */
export const SIMULATED_JOB_MODEL = 'queue.job';
/** User id that `authenticate` returns for the configured login. */
export const SIMULATED_UID = 2;
/** `queue.job`'s default order in the OCA addon. */
const DEFAULT_JOB_ORDER = 'date_created desc, date_done desc';
const AGGREGATE_FUNCTIONS = new Set(['count', 'count_distinct', 'sum', 'avg', 'min', 'max']);
const ORDER_PATTERN = /^\s*"?([a-z_][a-z0-9_]*)"?(?:\s+(asc|desc))?(?:\s+nulls\s+(first|last))?\s*$/i;
/** `alias:fn(field)`, `field:fn` or `field`, as `read_group` accepts them. */
const FIELD_SPEC_PATTERN = /^([a-z_][a-z0-9_]*)(?::([a-z_]+)(?:\(([a-z_][a-z0-9_]*)\))?)?$/;

export interface OdooRpcServerOptions {
  /** PostgreSQL URL of the database that contains the table. */
  databaseUrl: string;
  /** Table that backs `queue.job`, optionally schema-qualified. */
  table: string;
  /** Odoo database name that clients must send. */
  database: string;
  login: string;
  /** The user's password and API key; both protocols accept it. */
  apiKey: string;
  host?: string;
  /** Port to listen on; 0 picks a free one. */
  port?: number;
  /** Shifts the `Date` response header, to stand for a server clock that differs from the host's. */
  clockOffsetMs?: number;
  /** Leaves out the `Date` response header. */
  omitDateHeader?: boolean;
  /** Receives one line per request that ends in an Odoo error. */
  logger?: Logger;
}

export interface OdooRpcServer {
  /** Base URL, such as `http://127.0.0.1:40123`. */
  url: string;
  close(): Promise<void>;
}

/** Named parameters of one model method after positional arguments are bound. */
type MethodParams = Record<string, unknown>;

interface MethodSpec {
  /** Parameter names in Python's order, for binding positional arguments. */
  parameters: readonly string[];
  /** Whether the method runs on records, whose ids come first over JSON-RPC and as `ids` over `/json/2`. */
  onRecords?: boolean;
  run(table: JobTable, params: MethodParams): Promise<unknown>;
}

/** Starts the server and reads the column types of `options.table`. */
export async function startOdooRpcServer(options: OdooRpcServerOptions): Promise<OdooRpcServer> {
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 4 });
  pool.on('error', () => undefined);
  let app: FastifyInstance | undefined;
  try {
    const table = await JobTable.open(pool, options.table);
    app = Fastify({ logger: false });
    registerDateHeader(app, options);
    registerJsonRpcRoute(app, table, options);
    registerJson2Route(app, table, options);
    const address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
    const server = app;
    return {
      url: address,
      async close() {
        await server.close();
        await pool.end();
      },
    };
  } catch (error) {
    await app?.close();
    await pool.end();
    throw error;
  }
}

function registerDateHeader(app: FastifyInstance, options: OdooRpcServerOptions): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    if (options.omitDateHeader) {
      reply.raw.sendDate = false;
    } else if (options.clockOffsetMs) {
      reply.header('date', new Date(Date.now() + options.clockOffsetMs).toUTCString());
    }
    return payload;
  });
}

function registerJsonRpcRoute(app: FastifyInstance, table: JobTable, options: OdooRpcServerOptions): void {
  app.post('/jsonrpc', async (request) => {
    const body = (request.body ?? {}) as { id?: unknown; params?: { service?: unknown; method?: unknown; args?: unknown } };
    const id = body.id ?? null;
    try {
      const result = await dispatchJsonRpc(table, options, body.params ?? {});
      return { jsonrpc: '2.0', id, result };
    } catch (error) {
      const fault = toFault(error);
      logFault(options, fault, '/jsonrpc', body.params?.method);
      // Odoo sends errors inside an HTTP 200 response, in the JSON-RPC error member.
      return {
        jsonrpc: '2.0',
        id,
        error: { code: 200, message: 'Odoo Server Error', data: serializeFault(fault) },
      };
    }
  });
}

async function dispatchJsonRpc(
  table: JobTable,
  options: OdooRpcServerOptions,
  params: { service?: unknown; method?: unknown; args?: unknown },
): Promise<unknown> {
  const args = Array.isArray(params.args) ? params.args : [];
  if (params.service === 'common' && (params.method === 'authenticate' || params.method === 'login')) {
    const [database, login, password] = args;
    checkDatabase(options, database);
    // Odoo returns false, not an error, for a wrong login or password.
    return login === options.login && password === options.apiKey ? SIMULATED_UID : false;
  }
  if (params.service === 'object' && params.method === 'execute_kw') {
    const [database, uid, password, model, method, positional, keywords] = args;
    checkDatabase(options, database);
    if (uid !== SIMULATED_UID || password !== options.apiKey) {
      throw new OdooFault('odoo.exceptions.AccessDenied', 'Access Denied', 401);
    }
    const spec = findMethod(model, method);
    const bound = bindArguments(String(method), spec, positional ?? [], keywords ?? {});
    return spec.run(table, bound);
  }
  throw new OdooFault(
    'builtins.KeyError',
    `unknown method ${JSON.stringify(params.method)} of service ${JSON.stringify(params.service)}`,
  );
}

function registerJson2Route(app: FastifyInstance, table: JobTable, options: OdooRpcServerOptions): void {
  app.post<{ Params: { model: string; method: string } }>('/json/2/:model/:method', async (request, reply) => {
    try {
      const authorization = request.headers.authorization ?? '';
      const match = /^bearer\s+(.+)$/i.exec(authorization);
      if (!match || match[1] !== options.apiKey) {
        throw new OdooFault('werkzeug.exceptions.Unauthorized', 'Invalid apikey', 401);
      }
      const database = request.headers['x-odoo-database'];
      if (database !== undefined) checkDatabase(options, database);
      const body = (request.body ?? {}) as Record<string, unknown>;
      const { ids, context: _context, ...keywords } = body;
      const spec = findMethod(request.params.model, request.params.method);
      if (spec.onRecords) return await spec.run(table, { ...bindArguments(request.params.method, spec, [], keywords), ids });
      if (Array.isArray(ids) && ids.length > 0) {
        throw new OdooFault(
          'werkzeug.exceptions.UnprocessableEntity',
          `cannot call ${request.params.model}.${request.params.method} with ids`,
        );
      }
      return await spec.run(table, bindArguments(request.params.method, spec, [], keywords));
    } catch (error) {
      const fault = toFault(error);
      logFault(options, fault, '/json/2', `${request.params.model}.${request.params.method}`);
      return sendJson2Error(reply, fault);
    }
  });
}

function logFault(options: OdooRpcServerOptions, fault: OdooFault, endpoint: string, method: unknown): void {
  options.logger?.info({ endpoint, method, odooName: fault.odooName, err: fault }, 'odoo request failed');
}

function sendJson2Error(reply: FastifyReply, fault: OdooFault): FastifyReply {
  return reply.code(fault.httpStatus).send(serializeFault(fault));
}

function checkDatabase(options: OdooRpcServerOptions, database: unknown): void {
  if (database !== options.database) {
    throw new OdooFault('psycopg2.OperationalError', `database ${JSON.stringify(database)} does not exist`, 404);
  }
}

const METHODS: Record<string, MethodSpec> = {
  read_group: {
    parameters: ['domain', 'fields', 'groupby', 'offset', 'limit', 'orderby', 'lazy'],
    run: (table, params) => table.readGroupLegacy(params),
  },
  formatted_read_group: {
    parameters: ['domain', 'groupby', 'aggregates', 'having', 'offset', 'limit', 'order'],
    run: (table, params) => table.formattedReadGroup(params),
  },
  search_read: {
    parameters: ['domain', 'fields', 'offset', 'limit', 'order'],
    run: (table, params) => table.searchRead(params),
  },
  search_count: {
    parameters: ['domain', 'limit'],
    run: (table, params) => table.searchCount(params),
  },
  requeue: {
    parameters: ['ids'],
    onRecords: true,
    run: (table, params) => table.requeue(params),
  },
};

function findMethod(model: unknown, method: unknown): MethodSpec {
  if (model !== SIMULATED_JOB_MODEL) {
    throw new OdooFault('werkzeug.exceptions.NotFound', `the model ${JSON.stringify(model)} does not exist`, 404);
  }
  const spec = typeof method === 'string' && Object.hasOwn(METHODS, method) ? METHODS[method] : undefined;
  if (spec === undefined) {
    throw new OdooFault(
      'werkzeug.exceptions.NotFound',
      `The method ${JSON.stringify(method)} does not exist on the model "${SIMULATED_JOB_MODEL}"`,
      404,
    );
  }
  return spec;
}

/** Binds positional and keyword arguments to parameter names, rejecting what Python would reject. */
function bindArguments(method: string, spec: MethodSpec, positional: unknown, keywords: unknown): MethodParams {
  if (!Array.isArray(positional) || typeof keywords !== 'object' || keywords === null || Array.isArray(keywords)) {
    throw new OdooFault('builtins.TypeError', `${method}() expects a list of arguments and an object of keyword arguments`);
  }
  if (positional.length > spec.parameters.length) {
    throw new OdooFault('builtins.TypeError', `${method}() takes ${spec.parameters.length} arguments but ${positional.length} were given`);
  }
  const params: MethodParams = {};
  positional.forEach((value, index) => {
    params[spec.parameters[index] as string] = value;
  });
  for (const [name, value] of Object.entries(keywords)) {
    if (name === 'context') continue;
    if (!spec.parameters.includes(name)) {
      throw new OdooFault('builtins.TypeError', `${method}() got an unexpected keyword argument '${name}'`);
    }
    if (name in params) throw new OdooFault('builtins.TypeError', `${method}() got multiple values for argument '${name}'`);
    params[name] = value;
  }
  return params;
}

function toFault(error: unknown): OdooFault {
  if (error instanceof OdooFault) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new OdooFault('psycopg2.Error', message, 500);
}

/** Builds the error object Odoo serializes: the same fields on both protocols. */
function serializeFault(fault: OdooFault): Record<string, unknown> {
  return {
    name: fault.odooName,
    message: fault.message,
    arguments: [fault.message],
    context: {},
    debug: `Traceback (most recent call last):\n${fault.odooName}: ${fault.message}\n`,
  };
}

interface Aggregate {
  key: string;
  field: string;
  fn: string;
}

/** The queue_job table seen as the `queue.job` model: fields, types and the four read methods. */
class JobTable {
  readonly #pool: pg.Pool;
  readonly #table: string;
  readonly #fields: ReadonlyMap<string, OdooFieldType>;

  private constructor(pool: pg.Pool, table: string, fields: ReadonlyMap<string, OdooFieldType>) {
    this.#pool = pool;
    this.#table = quoteTableName(table);
    this.#fields = fields;
  }

  static async open(pool: pg.Pool, table: string): Promise<JobTable> {
    const [schema, name] = table.includes('.') ? table.split('.') : [undefined, table];
    const { rows } = await pool.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns
        WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2`,
      [schema ?? null, name],
    );
    if (rows.length === 0) throw new Error(`SIMULATOR_ERR_TABLE_NOT_FOUND: table ${table} not found; create it with createQueueJobTable`);
    const fields = new Map(rows.map((row) => [row.column_name, fieldType(row.data_type)] as const));
    return new JobTable(pool, table, fields);
  }

  /**
   * Runs `queue.job.requeue` as the OCA addon does: the jobs become pending
   * with their retry count reset, whatever their state.
   */
  async requeue(params: MethodParams): Promise<boolean> {
    const ids = params.ids;
    if (!Array.isArray(ids) || !ids.every((id) => Number.isInteger(id))) {
      throw new OdooFault('builtins.TypeError', `requeue() expects a list of record ids, got ${JSON.stringify(ids)}`);
    }
    await this.#pool.query(
      `UPDATE ${this.#table} SET state = 'pending', retry = 0, date_enqueued = NULL, date_started = NULL, date_done = NULL, worker_pid = NULL
        WHERE id = ANY($1::int[])`,
      [ids],
    );
    return true;
  }

  async searchCount(params: MethodParams): Promise<number> {
    const sql = new SqlParameters();
    const where = translateDomain(params.domain, this.#fields, sql);
    const limit = readLimit(params.limit);
    const inner = `SELECT 1 FROM ${this.#table} WHERE ${where}${limit === undefined ? '' : ` LIMIT ${sql.add(limit)}`}`;
    const { rows } = await this.#pool.query<{ count: number }>(`SELECT count(*)::int AS count FROM (${inner}) AS matched`, sql.values);
    return rows[0]?.count ?? 0;
  }

  async searchRead(params: MethodParams): Promise<Array<Record<string, unknown>>> {
    const requested = Array.isArray(params.fields) && params.fields.length > 0 ? params.fields : [...this.#fields.keys()];
    const fields = ['id', ...requested.filter((field) => field !== 'id')].map((field) => this.#checkField(field));
    const sql = new SqlParameters();
    const where = translateDomain(params.domain, this.#fields, sql);
    const order = this.#buildOrder(params.order ?? DEFAULT_JOB_ORDER);
    let text = `SELECT ${fields.map((field) => `${this.#readExpression(field)} AS ${quoteColumn(field)}`).join(', ')}
                  FROM ${this.#table} WHERE ${where} ORDER BY ${order}`;
    const limit = readLimit(params.limit);
    if (limit !== undefined) text += ` LIMIT ${sql.add(limit)}`;
    text += ` OFFSET ${sql.add(readOffset(params.offset))}`;
    const { rows } = await this.#pool.query<Record<string, unknown>>(text, sql.values);
    return rows.map((row) => Object.fromEntries(fields.map((field) => [field, this.#toOdooValue(field, row[field])])));
  }

  /** Runs `read_group` of Odoo 8 to 18: aggregates keyed by alias or field name, `__count` with `lazy: false`. */
  async readGroupLegacy(params: MethodParams): Promise<Array<Record<string, unknown>>> {
    const groupby = this.#readGroupby(params.groupby);
    const lazy = params.lazy !== false;
    const used = lazy ? groupby.slice(0, 1) : groupby;
    const aggregates: Aggregate[] = [];
    for (const spec of Array.isArray(params.fields) ? params.fields : []) {
      const aggregate = this.#parseLegacySpec(spec, used);
      if (aggregate !== undefined) aggregates.push(aggregate);
    }
    const rows = await this.#group(params.domain, used, aggregates, params.orderby, params.offset, params.limit);
    const countKey = lazy && used[0] !== undefined ? `${used[0]}_count` : '__count';
    return rows.map((row) => ({
      ...row.values,
      [countKey]: row.count,
      ...row.aggregates,
      __domain: row.domain,
    }));
  }

  /** Runs `formatted_read_group` of Odoo 19: aggregates keyed `field:fn`, `__count` when requested. */
  async formattedReadGroup(params: MethodParams): Promise<Array<Record<string, unknown>>> {
    const groupby = this.#readGroupby(params.groupby);
    const specs = Array.isArray(params.aggregates) ? params.aggregates : [];
    const wantsCount = specs.includes('__count');
    const aggregates = specs.filter((spec) => spec !== '__count').map((spec) => this.#parseAggregateSpec(spec));
    const rows = await this.#group(params.domain, groupby, aggregates, params.order, params.offset, params.limit);
    return rows.map((row) => ({
      ...row.values,
      ...(wantsCount ? { __count: row.count } : {}),
      ...row.aggregates,
      __extra_domain: row.domain,
    }));
  }

  async #group(
    domain: unknown,
    groupby: string[],
    aggregates: Aggregate[],
    order: unknown,
    offset: unknown,
    limit: unknown,
  ): Promise<Array<{ values: Record<string, unknown>; count: number; aggregates: Record<string, unknown>; domain: unknown[] }>> {
    const sql = new SqlParameters();
    const where = translateDomain(domain, this.#fields, sql);
    const groupColumns = groupby.map(quoteColumn);
    const selected = [
      ...groupColumns,
      'count(*)::int AS "__count"',
      ...aggregates.map((aggregate, index) => `${this.#aggregateExpression(aggregate)} AS "agg_${index}"`),
    ];
    let text = `SELECT ${selected.join(', ')} FROM ${this.#table} WHERE ${where}`;
    if (groupColumns.length > 0) text += ` GROUP BY ${groupColumns.join(', ')}`;
    const orderBy = typeof order === 'string' && order.trim() !== '' ? this.#buildOrder(order, groupby) : groupColumns.join(', ');
    if (orderBy !== '') text += ` ORDER BY ${orderBy}`;
    const rowLimit = readLimit(limit);
    if (rowLimit !== undefined) text += ` LIMIT ${sql.add(rowLimit)}`;
    text += ` OFFSET ${sql.add(readOffset(offset))}`;
    const { rows } = await this.#pool.query<Record<string, unknown>>(text, sql.values);
    return rows.map((row) => ({
      values: Object.fromEntries(groupby.map((field) => [field, row[field] ?? false])),
      count: Number(row.__count),
      aggregates: Object.fromEntries(
        aggregates.map((aggregate, index) => [aggregate.key, this.#toAggregateValue(aggregate, row[`agg_${index}`])]),
      ),
      domain: groupby.map((field) => [field, '=', row[field] ?? false]),
    }));
  }

  #readGroupby(groupby: unknown): string[] {
    const list = typeof groupby === 'string' ? [groupby] : Array.isArray(groupby) ? groupby : [];
    return list.map((field) => {
      const name = this.#checkField(field);
      if (this.#fields.get(name) === 'datetime') {
        throw new OdooFault('builtins.ValueError', `grouping by the datetime field ${name} is not supported by this server`);
      }
      return name;
    });
  }

  #parseLegacySpec(spec: unknown, groupby: string[]): Aggregate | undefined {
    if (spec === '__count' || (typeof spec === 'string' && groupby.includes(spec))) return undefined;
    const match = typeof spec === 'string' ? FIELD_SPEC_PATTERN.exec(spec) : null;
    if (!match) throw new OdooFault('builtins.ValueError', `Invalid field specification ${JSON.stringify(spec)}`);
    const [, name, fn, field] = match as unknown as [string, string, string | undefined, string | undefined];
    if (fn === undefined) {
      // A plain field takes its default aggregate in Odoo; this server only sums numbers.
      return this.#fields.get(this.#checkField(name)) === 'char' ? undefined : { key: name, field: name, fn: 'sum' };
    }
    return this.#checkAggregate({ key: name, field: field ?? name, fn });
  }

  #parseAggregateSpec(spec: unknown): Aggregate {
    const match = typeof spec === 'string' ? /^([a-z_][a-z0-9_]*):([a-z_]+)$/.exec(spec) : null;
    if (!match) throw new OdooFault('builtins.ValueError', `Invalid aggregate specification ${JSON.stringify(spec)}`);
    return this.#checkAggregate({ key: spec as string, field: match[1] as string, fn: match[2] as string });
  }

  #checkAggregate(aggregate: Aggregate): Aggregate {
    this.#checkField(aggregate.field);
    if (!AGGREGATE_FUNCTIONS.has(aggregate.fn)) {
      throw new OdooFault('builtins.ValueError', `Invalid aggregation function ${JSON.stringify(aggregate.fn)}`);
    }
    return aggregate;
  }

  #aggregateExpression(aggregate: Aggregate): string {
    const column = quoteColumn(aggregate.field);
    switch (aggregate.fn) {
      case 'count':
        return `count(${column})::int`;
      case 'count_distinct':
        return `count(DISTINCT ${column})::int`;
      case 'sum':
      case 'avg':
        return `${aggregate.fn}(${column})::float8`;
      default:
        return this.#fields.get(aggregate.field) === 'datetime'
          ? `to_char(${aggregate.fn}(${column}), 'YYYY-MM-DD HH24:MI:SS')`
          : `${aggregate.fn}(${column})`;
    }
  }

  #buildOrder(order: unknown, allowed?: string[]): string {
    if (typeof order !== 'string') throw new OdooFault('builtins.ValueError', `Invalid order ${JSON.stringify(order)}`);
    return order
      .split(',')
      .map((part) => {
        const match = ORDER_PATTERN.exec(part);
        if (!match) throw new OdooFault('builtins.ValueError', `Invalid "order" specified (${order})`);
        const field = this.#checkField(match[1]);
        if (allowed !== undefined && !allowed.includes(field)) {
          throw new OdooFault('builtins.ValueError', `Order term ${JSON.stringify(field)} is not a grouped field`);
        }
        const direction = (match[2] ?? 'asc').toUpperCase();
        const nulls = match[3] ? ` NULLS ${match[3].toUpperCase()}` : '';
        return `${quoteColumn(field)} ${direction}${nulls}`;
      })
      .join(', ');
  }

  #checkField(field: unknown): string {
    if (typeof field !== 'string' || !this.#fields.has(field)) {
      throw new OdooFault('builtins.ValueError', `Invalid field ${JSON.stringify(field)} on model '${SIMULATED_JOB_MODEL}'`);
    }
    return field;
  }

  /** Reads datetimes as Odoo sends them: naive UTC text with whole seconds. */
  #readExpression(field: string): string {
    const column = quoteColumn(field);
    return this.#fields.get(field) === 'datetime' ? `to_char(${column}, 'YYYY-MM-DD HH24:MI:SS')` : column;
  }

  /** Converts NULL as Odoo's `read` does: 0 for numbers, `false` for the rest. */
  #toOdooValue(field: string, value: unknown): unknown {
    if (value !== null && value !== undefined) return value;
    const type = this.#fields.get(field);
    return type === 'integer' || type === 'float' ? 0 : false;
  }

  #toAggregateValue(aggregate: Aggregate, value: unknown): unknown {
    return value === null || value === undefined ? false : value;
  }
}

function fieldType(dataType: string): OdooFieldType {
  if (dataType.startsWith('timestamp')) return 'datetime';
  if (dataType === 'integer' || dataType === 'bigint' || dataType === 'smallint') return 'integer';
  if (dataType === 'double precision' || dataType === 'numeric' || dataType === 'real') return 'float';
  if (dataType === 'boolean') return 'boolean';
  return 'char';
}

function readLimit(limit: unknown): number | undefined {
  if (limit === undefined || limit === null || limit === false) return undefined;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) {
    throw new OdooFault('builtins.ValueError', `Invalid limit ${JSON.stringify(limit)}`);
  }
  return limit;
}

function readOffset(offset: unknown): number {
  if (offset === undefined || offset === null || offset === false) return 0;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) {
    throw new OdooFault('builtins.ValueError', `Invalid offset ${JSON.stringify(offset)}`);
  }
  return offset;
}
