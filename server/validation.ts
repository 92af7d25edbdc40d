import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';

/**
 * Ajv options shared by every request part. Unknown fields are rejected
 * rather than dropped, and errors carry the offending value.
 */
const SHARED_OPTIONS: Options = { removeAdditional: false, useDefaults: true, verbose: true, allErrors: false, strict: false };

/**
 * Builds the request validator compiler. Querystrings, path parameters and
 * headers arrive as text, so their Ajv converts types (`?limit=5` becomes the
 * number 5). A JSON body already has types, so its Ajv converts nothing and
 * `{"reason": 5}` fails with "expected string, received number". Every part
 * also rejects strings containing NUL (U+0000), which PostgreSQL text
 * columns cannot store.
 */
export function buildRequestValidatorCompiler(): (route: { schema?: unknown; httpPart?: string }) => ValidateFunction {
  const coercing = new Ajv({ ...SHARED_OPTIONS, coerceTypes: 'array' });
  const strict = new Ajv({ ...SHARED_OPTIONS, coerceTypes: false });
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? strict : coercing;
    return rejectingNul(ajv.compile(schema as object));
  };
}

/** Keyword of the issue reported for a string that contains NUL. */
const NUL_KEYWORD = 'noNul';

/**
 * Wraps `validate` so that a value which passes the schema but contains a
 * NUL character anywhere fails with one issue at that string. `schemaEnv` is
 * copied because Fastify passes the parent object only to functions that
 * carry it, and Ajv needs the parent to replace a converted root value.
 */
function rejectingNul(validate: ValidateFunction): ValidateFunction {
  const checked = ((data: unknown, context?: Parameters<ValidateFunction>[1]) => {
    if (!validate(data, context)) {
      checked.errors = validate.errors;
      return false;
    }
    const found = findNul(data, '');
    checked.errors = found ? [found] : null;
    return found === undefined;
  }) as ValidateFunction;
  Object.assign(checked, { schema: validate.schema, schemaEnv: validate.schemaEnv });
  return checked;
}

function findNul(value: unknown, path: string): ErrorObject | undefined {
  if (typeof value === 'string') {
    if (!value.includes('\u0000')) return undefined;
    return { instancePath: path, schemaPath: '#', keyword: NUL_KEYWORD, params: {}, message: 'must not contain NUL characters (U+0000)', data: value };
  }
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = findNul(item, `${path}/${key}`);
    if (found) return found;
  }
  return undefined;
}

/** A failed schema check as Fastify attaches it to the error. */
export interface ValidationIssue {
  instancePath: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
  data?: unknown;
}

/** Maximum characters of a received value quoted in a message. */
const MAX_QUOTED_LENGTH = 80;

/**
 * Describes failed schema checks as "<where> <what was expected>; received
 * <value>". Type errors read "expected string, received number 5".
 */
export function describeValidation(context: string, issues: readonly ValidationIssue[]): string {
  return issues.map((issue) => describeIssue(context, issue)).join('; ');
}

function describeIssue(context: string, issue: ValidationIssue): string {
  const where = `${context}${issue.instancePath.replace(/\//g, '.')}`;
  if (issue.keyword === 'type') {
    const received = issue.data === null || issue.data === undefined ? quote(issue.data) : `${typeName(issue.data)} ${quote(issue.data)}`;
    return `${where} expected ${String(issue.params?.type)}, received ${received}`;
  }
  const allowed = Array.isArray(issue.params?.allowedValues) ? ` (${issue.params.allowedValues.join(', ')})` : '';
  const extra = typeof issue.params?.additionalProperty === 'string' ? ` "${issue.params.additionalProperty}"` : '';
  return `${where} ${issue.message ?? 'is invalid'}${allowed}${extra}; received ${quote(issue.data)}`;
}

function typeName(value: unknown): string {
  return Array.isArray(value) ? 'array' : typeof value;
}

/** Quotes a received value as JSON, shortened, so NUL and other control characters appear escaped. */
function quote(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_QUOTED_LENGTH ? `${text.slice(0, MAX_QUOTED_LENGTH)}…` : text;
}
