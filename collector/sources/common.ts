import { z } from 'zod';
// Imported from the module itself because config/index.js imports the sources, which would be a cycle.
import { durationSchema } from '../../config/duration.js';
import { SOURCE_ERROR_CODES, SourceError } from './errors.js';
import type { LagSample, LagStatus } from './types.js';

/** Shortest poll interval a source accepts, in milliseconds. */
export const MIN_POLL_INTERVAL_MS = 100;

const MIN_POLL_INTERVAL_MESSAGE = `expected a poll interval of at least ${MIN_POLL_INTERVAL_MS}ms`;

/** Config fields every pull source has. */
export const baseSourceFields = {
  /** Unique source name, stored in the `source` column. */
  name: z.string().min(1),
  /** Integration the source watches (Odoo, MES, WMS, ...). */
  integration: z.string().min(1),
  /** Workflow of the source's entities; stored as an empty string when unset. */
  workflow: z.string().min(1).optional(),
  /** Poll interval in milliseconds; `interval` sets the same as a duration string. */
  intervalMs: z.number().int().min(MIN_POLL_INTERVAL_MS, MIN_POLL_INTERVAL_MESSAGE).optional(),
  /** Poll interval as a duration such as `15s` or a number of milliseconds, parsed to milliseconds. */
  interval: durationSchema.refine((ms) => ms >= MIN_POLL_INTERVAL_MS, MIN_POLL_INTERVAL_MESSAGE).optional(),
  /** Time limit of one request to the watched system, in milliseconds. */
  timeoutMs: z.number().int().positive().optional(),
};

/**
 * Resolves the poll interval from `intervalMs` or the parsed `interval`, in
 * that order, and falls back to `defaultMs`.
 */
export function resolveIntervalMs(
  config: { intervalMs?: number | undefined; interval?: number | undefined },
  defaultMs: number,
): number {
  return config.intervalMs ?? config.interval ?? defaultMs;
}

/**
 * Parses `input` with `schema` and throws a `SourceError` that names each
 * invalid key, the expectation and the value that arrived.
 */
export function parseSourceConfig<T extends z.ZodType>(schema: T, input: unknown, kind: string): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    return `${path}: ${issue.message}`;
  });
  throw new SourceError(
    SOURCE_ERROR_CODES.invalidConfig,
    `invalid ${kind} source config: ${problems.join('; ')}`,
  );
}

/** Fields shared by all samples of one source. */
export interface SampleOrigin {
  integration: string;
  source: string;
  sourceKind: string;
}

/** Builds a sample with the fields of `origin` and the given status. */
export function buildSample(
  origin: SampleOrigin,
  observedAt: Date,
  entity: string,
  workflow: string,
  status: LagStatus,
): LagSample {
  return {
    observedAt,
    integration: origin.integration,
    workflow,
    source: origin.source,
    sourceKind: origin.sourceKind,
    entity,
    status,
  };
}

/** Returns the message of an error, or its string form. */
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(describeError).join('; ');
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message || error.name;
    return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
  }
  return String(error);
}

/** Removes the password from a URL so it can appear in logs and details. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * Rejects with a `SourceError` when `promise` has not settled after
 * `timeoutMs`. The operation itself keeps running.
 */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new SourceError(SOURCE_ERROR_CODES.timedOut, `${operation} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const SQL_IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Checks that `name` is `table` or `schema.table` made of plain SQL identifiers. */
export function isQualifiedSqlName(name: string): boolean {
  const parts = name.split('.');
  return parts.length <= 2 && parts.every((part) => SQL_IDENTIFIER_PATTERN.test(part));
}

/** Quotes a name accepted by `isQualifiedSqlName` for use in SQL text. */
export function quoteQualifiedSqlName(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
}
