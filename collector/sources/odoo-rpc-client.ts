import { describeError, withTimeout } from './common.js';
import { SourceError } from './errors.js';

/** Odoo external API protocols the client speaks. */
export const ODOO_PROTOCOLS = ['jsonrpc', 'json2'] as const;
export type OdooProtocol = (typeof ODOO_PROTOCOLS)[number];

/** `common` service methods that return a user id for a login and password or API key. */
export const ODOO_AUTH_METHODS = ['authenticate', 'login'] as const;
export type OdooAuthMethod = (typeof ODOO_AUTH_METHODS)[number];

/** Stable codes of the errors the Odoo client raises. */
export const ODOO_ERROR_CODES = {
  accessDenied: 'COLLECTOR_ERR_ODOO_ACCESS_DENIED',
  serverError: 'COLLECTOR_ERR_ODOO_SERVER',
  httpStatus: 'COLLECTOR_ERR_ODOO_HTTP',
  invalidResponse: 'COLLECTOR_ERR_ODOO_RESPONSE',
  unreachable: 'COLLECTOR_ERR_ODOO_UNREACHABLE',
} as const;

export type OdooErrorCode = (typeof ODOO_ERROR_CODES)[keyof typeof ODOO_ERROR_CODES];

/** An error returned by an Odoo server, or a response the client cannot use. */
export class OdooRpcError extends Error {
  readonly code: OdooErrorCode;
  /** Fully qualified name of the Python exception, such as `odoo.exceptions.AccessDenied`. */
  readonly odooName: string | undefined;
  readonly httpStatus: number | undefined;

  constructor(
    code: OdooErrorCode,
    message: string,
    details: { odooName?: string | undefined; httpStatus?: number | undefined; cause?: unknown } = {},
  ) {
    super(`${code}: ${message}`, { cause: details.cause });
    this.name = 'OdooRpcError';
    this.code = code;
    this.odooName = details.odooName;
    this.httpStatus = details.httpStatus;
  }
}

/** Connection settings of one Odoo database. */
export interface OdooConnectionOptions {
  /** Base URL of the Odoo server, such as `https://erp.example.com`. */
  url: string;
  protocol: OdooProtocol;
  /** Database name; required by JSON-RPC, sent as `X-Odoo-Database` by `/json/2` when set. */
  database?: string | undefined;
  /** User login; required by JSON-RPC only. */
  login?: string | undefined;
  /** Password or API key of the login (JSON-RPC), or the bearer API key (`/json/2`). */
  apiKey: string;
  authMethod?: OdooAuthMethod | undefined;
  /** Time limit of one HTTP request, in milliseconds. */
  timeoutMs: number;
}

/** Return value of one model method and the server clock read from the response. */
export interface OdooCallResult {
  result: unknown;
  /** Value of the HTTP `Date` response header; undefined when the header is missing or invalid. */
  serverDate: Date | undefined;
}

/**
 * Calls methods of Odoo models with named parameters. `domain` is passed as
 * the first positional argument over JSON-RPC and as a named one over `/json/2`.
 */
export interface OdooModelClient {
  readonly protocol: OdooProtocol;
  callModel(model: string, method: string, params: Record<string, unknown>): Promise<OdooCallResult>;
}

/** Creates the client of `options.protocol`. */
export function createOdooClient(options: OdooConnectionOptions): OdooModelClient {
  return options.protocol === 'json2' ? new Json2Client(options) : new JsonRpcClient(options);
}

/** Checks whether `error` means that Odoo rejected the credentials. */
export function isOdooAccessDenied(error: unknown): boolean {
  return error instanceof OdooRpcError && error.code === ODOO_ERROR_CODES.accessDenied;
}

/** JSON body of an Odoo error: the `data` of a JSON-RPC error, or the whole body of a `/json/2` error. */
interface OdooErrorBody {
  name?: unknown;
  message?: unknown;
}

const ACCESS_DENIED_NAMES = new Set(['odoo.exceptions.AccessDenied', 'werkzeug.exceptions.Unauthorized']);

/**
 * Client of the `/jsonrpc` endpoint: `common.authenticate` (or `common.login`)
 * returns the user id once, then each call is `object.execute_kw`.
 */
class JsonRpcClient implements OdooModelClient {
  readonly protocol = 'jsonrpc' as const;
  readonly #options: OdooConnectionOptions;
  readonly #endpoint: string;
  #uid: number | undefined;
  #requestId = 0;

  constructor(options: OdooConnectionOptions) {
    this.#options = options;
    this.#endpoint = joinUrl(options.url, '/jsonrpc');
  }

  async callModel(model: string, method: string, params: Record<string, unknown>): Promise<OdooCallResult> {
    const uid = this.#uid ?? (await this.#authenticate());
    const { domain, ...kwargs } = params;
    const args = domain === undefined ? [] : [domain];
    try {
      return await this.#call('object', 'execute_kw', [
        this.#options.database,
        uid,
        this.#options.apiKey,
        model,
        method,
        args,
        kwargs,
      ]);
    } catch (error) {
      // A revoked key or a changed password: authenticate again on the next call.
      if (isOdooAccessDenied(error)) this.#uid = undefined;
      throw error;
    }
  }

  async #authenticate(): Promise<number> {
    const method = this.#options.authMethod ?? 'authenticate';
    const { database, login, apiKey } = this.#options;
    // `login` takes three arguments, `authenticate` a fourth: the user agent environment.
    const args = method === 'login' ? [database, login, apiKey] : [database, login, apiKey, {}];
    const { result } = await this.#call('common', method, args);
    // Odoo returns `false`, not an error, for a wrong login or key.
    if (typeof result !== 'number' || !Number.isInteger(result) || result <= 0) {
      throw new OdooRpcError(
        ODOO_ERROR_CODES.accessDenied,
        `authentication failed for login "${login ?? ''}" on database "${database ?? ''}": ` +
          `common.${method} returned ${JSON.stringify(result)}; check the login and the API key`,
      );
    }
    this.#uid = result;
    return result;
  }

  async #call(service: string, method: string, args: unknown[]): Promise<OdooCallResult> {
    this.#requestId += 1;
    const body = { jsonrpc: '2.0', method: 'call', id: this.#requestId, params: { service, method, args } };
    const operation = `POST ${this.#endpoint} ${service}.${method}`;
    const response = await postJson(this.#endpoint, body, { 'content-type': 'application/json' }, this.#options.timeoutMs, operation);
    if (!response.ok) {
      await response.body?.cancel();
      throw new OdooRpcError(
        ODOO_ERROR_CODES.httpStatus,
        `${operation} failed with HTTP ${response.status} ${response.statusText}`,
        { httpStatus: response.status },
      );
    }
    const serverDate = readServerDate(response);
    const envelope = (await readJson(response, operation)) as { result?: unknown; error?: unknown };
    if (envelope === null || typeof envelope !== 'object') {
      throw new OdooRpcError(ODOO_ERROR_CODES.invalidResponse, `${operation} returned ${typeof envelope}: expected a JSON-RPC object`);
    }
    if (envelope.error !== undefined && envelope.error !== null) {
      throw toJsonRpcError(envelope.error, operation);
    }
    if (!('result' in envelope)) {
      throw new OdooRpcError(ODOO_ERROR_CODES.invalidResponse, `${operation} returned neither "result" nor "error"`);
    }
    return { result: envelope.result, serverDate };
  }
}

/** Client of the `/json/2/<model>/<method>` endpoint of Odoo 19 and later. */
class Json2Client implements OdooModelClient {
  readonly protocol = 'json2' as const;
  readonly #options: OdooConnectionOptions;

  constructor(options: OdooConnectionOptions) {
    this.#options = options;
  }

  async callModel(model: string, method: string, params: Record<string, unknown>): Promise<OdooCallResult> {
    const url = joinUrl(this.#options.url, `/json/2/${encodeURIComponent(model)}/${encodeURIComponent(method)}`);
    const headers: Record<string, string> = {
      authorization: `bearer ${this.#options.apiKey}`,
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'syncwatch',
    };
    if (this.#options.database !== undefined) headers['x-odoo-database'] = this.#options.database;
    const operation = `POST ${url}`;
    const response = await postJson(url, params, headers, this.#options.timeoutMs, operation);
    const serverDate = readServerDate(response);
    if (!response.ok) throw await toJson2Error(response, operation);
    return { result: await readJson(response, operation), serverDate };
  }
}

async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string>,
  timeoutMs: number,
  operation: string,
): Promise<Response> {
  try {
    return await withTimeout(
      fetch(url, {
        method: 'POST',
        headers: { accept: 'application/json', ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      }),
      timeoutMs,
      operation,
    );
  } catch (error) {
    if (error instanceof SourceError) throw error;
    // fetch rejects with "fetch failed" and keeps the reason, such as ECONNREFUSED, in `cause`.
    const reason = error instanceof Error && error.cause !== undefined ? error.cause : error;
    throw new OdooRpcError(ODOO_ERROR_CODES.unreachable, `${operation} failed: ${describeError(reason)}`, { cause: error });
  }
}

async function readJson(response: Response, operation: string): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new OdooRpcError(
      ODOO_ERROR_CODES.invalidResponse,
      `${operation} returned a body that is not JSON: ${JSON.stringify(text.slice(0, 120))}`,
      { cause: error },
    );
  }
}

/** Reads the `Date` header, which has whole seconds (RFC 9110 section 5.6.7). */
function readServerDate(response: Response): Date | undefined {
  const header = response.headers.get('date');
  if (header === null) return undefined;
  const date = new Date(header);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function toJsonRpcError(error: unknown, operation: string): OdooRpcError {
  const envelope = (typeof error === 'object' && error !== null ? error : {}) as { message?: unknown; data?: unknown };
  const data = (typeof envelope.data === 'object' && envelope.data !== null ? envelope.data : {}) as OdooErrorBody;
  const name = typeof data.name === 'string' ? data.name : undefined;
  const message = typeof data.message === 'string' ? data.message : String(envelope.message ?? 'unknown error');
  if (name !== undefined && ACCESS_DENIED_NAMES.has(name)) {
    return new OdooRpcError(
      ODOO_ERROR_CODES.accessDenied,
      `${operation} was rejected with ${name} (${message}): check the login, the user id and the API key`,
      { odooName: name },
    );
  }
  return new OdooRpcError(ODOO_ERROR_CODES.serverError, `${operation} failed with ${name ?? 'an Odoo error'}: ${message}`, {
    odooName: name,
  });
}

async function toJson2Error(response: Response, operation: string): Promise<OdooRpcError> {
  const text = await response.text();
  let body: OdooErrorBody = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) body = parsed as OdooErrorBody;
  } catch {
    // A proxy in front of Odoo may respond with HTML, and the status still shows what failed.
  }
  const name = typeof body.name === 'string' ? body.name : undefined;
  const message = typeof body.message === 'string' ? body.message : text.slice(0, 120);
  const status = `HTTP ${response.status}`;
  if (response.status === 401 || (name !== undefined && ACCESS_DENIED_NAMES.has(name))) {
    return new OdooRpcError(
      ODOO_ERROR_CODES.accessDenied,
      `${operation} was rejected with ${status} ${name ?? ''} (${message}): check the API key and the database`,
      { odooName: name, httpStatus: response.status },
    );
  }
  return new OdooRpcError(
    ODOO_ERROR_CODES.httpStatus,
    `${operation} failed with ${status} ${name ?? response.statusText}: ${message}`,
    { odooName: name, httpStatus: response.status },
  );
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}
