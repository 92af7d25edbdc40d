import { Ajv, type Options, type ValidateFunction } from 'ajv';

/**
 * Ajv options shared by every request part. Unknown fields are rejected
 * rather than dropped, and errors carry the offending value.
 */
const SHARED_OPTIONS: Options = { removeAdditional: false, useDefaults: true, verbose: true, allErrors: false, strict: false };

/**
 * Builds the request validator compiler. Querystrings, path parameters and
 * headers arrive as text, so their Ajv converts types (`?limit=5` becomes the
 * number 5). A JSON body already has types, so its Ajv converts nothing and
 * `{"reason": 5}` fails with "expected string, received number".
 */
export function buildRequestValidatorCompiler(): (route: { schema?: unknown; httpPart?: string }) => ValidateFunction {
  const coercing = new Ajv({ ...SHARED_OPTIONS, coerceTypes: 'array' });
  const strict = new Ajv({ ...SHARED_OPTIONS, coerceTypes: false });
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? strict : coercing;
    return ajv.compile(schema as object);
  };
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
