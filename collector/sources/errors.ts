/** Stable codes of the errors the pull sources raise. */
export const SOURCE_ERROR_CODES = {
  invalidConfig: 'COLLECTOR_ERR_SOURCE_CONFIG',
  timedOut: 'COLLECTOR_ERR_SOURCE_TIMEOUT',
} as const;

export type SourceErrorCode = (typeof SOURCE_ERROR_CODES)[keyof typeof SOURCE_ERROR_CODES];

/** An error raised by a pull source, with a stable code. */
export class SourceError extends Error {
  readonly code: SourceErrorCode;

  constructor(code: SourceErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(`${code}: ${message}`, { cause: options.cause });
    this.name = 'SourceError';
    this.code = code;
  }
}
