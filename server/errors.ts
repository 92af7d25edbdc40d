/**
 * Errors the query API returns. Codes are stable: clients match on them, so a
 * retired code is never reused for another meaning.
 */
export const API_ERRORS = {
  API_ERR_UNAUTHORIZED: { status: 401, message: 'missing or invalid bearer token; send Authorization: Bearer <token> with a token that has the "sql" scope' },
  API_ERR_INVALID_BODY: { status: 400, message: 'invalid request body' },
  API_ERR_QUERY_REJECTED: { status: 400, message: 'query rejected' },
  API_ERR_QUERY_FAILED: { status: 400, message: 'query failed' },
  API_ERR_QUERY_TIMEOUT: { status: 400, message: 'query timed out' },
  API_ERR_RESULT_TOO_LARGE: { status: 400, message: 'result too large' },
  API_ERR_STORE_UNAVAILABLE: { status: 503, message: 'the ClickHouse store is unavailable; retry later' },
  API_ERR_NOT_FOUND: { status: 404, message: 'no such route' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** An error carried to the client as `{ error: { code, message } }` with the code's HTTP status. */
export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ApiErrorCode,
    detail?: string,
  ) {
    super(detail ? `${API_ERRORS[code].message}: ${detail}` : API_ERRORS[code].message);
    this.name = 'ApiError';
    this.status = API_ERRORS[code].status;
  }

  toBody(): { error: { code: ApiErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}
