/**
 * Errors the query API returns. Codes are stable: clients match on them, so a
 * retired code is never reused for another meaning.
 */
export const API_ERRORS = {
  API_ERR_UNAUTHORIZED: { status: 401, message: 'missing or invalid bearer token; send Authorization: Bearer <token> with a token listed under api.tokens' },
  API_ERR_INVALID_BODY: { status: 400, message: 'invalid request body' },
  API_ERR_QUERY_REJECTED: { status: 400, message: 'query rejected' },
  API_ERR_QUERY_FAILED: { status: 400, message: 'query failed' },
  API_ERR_QUERY_TIMEOUT: { status: 400, message: 'query timed out' },
  API_ERR_RESULT_TOO_LARGE: { status: 400, message: 'result too large' },
  API_ERR_STORE_UNAVAILABLE: { status: 503, message: 'the ClickHouse store is unavailable; retry later' },
  API_ERR_INVALID_URL: { status: 400, message: 'the request URL cannot be decoded' },
  API_ERR_NOT_FOUND: { status: 404, message: 'no such route' },
  API_ERR_METHOD_NOT_ALLOWED: { status: 405, message: 'the route does not take this method' },
  API_ERR_FORBIDDEN_SCOPE: { status: 403, message: 'the token lacks the scope this route requires' },
  API_ERR_UNKNOWN_USER: { status: 403, message: 'the token is bound to a user that the remediation store does not list' },
  API_ERR_DECISION_REFUSED: { status: 403, message: 'the approval policy refused the decision' },
  API_ERR_PROPOSAL_NOT_FOUND: { status: 404, message: 'no such proposal' },
  API_ERR_PROPOSAL_CONFLICT: { status: 409, message: 'the proposal cannot take this decision in its current state' },
  API_ERR_IDEMPOTENCY_CONFLICT: {
    status: 409,
    message: 'the Idempotency-Key was already used by this user for a different request; send a new key',
  },
  API_ERR_PROPOSAL_EXPIRED: { status: 410, message: 'the proposal expired before the decision arrived' },
  API_ERR_VALIDATION: { status: 422, message: 'the request does not match the route schema' },
  API_ERR_RATE_LIMITED: { status: 429, message: 'too many requests for this token' },
  API_ERR_REMEDIATION_UNAVAILABLE: { status: 503, message: 'the remediation layer is not running in this service' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** An error carried to the client as `{ error: { code, message } }` with the code's HTTP status. */
export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ApiErrorCode,
    detail?: string,
    /** Fields sent inside `error` beside code and message, such as a refused decision's outcome. */
    readonly details?: Record<string, unknown>,
  ) {
    super(detail ? `${API_ERRORS[code].message}: ${detail}` : API_ERRORS[code].message);
    this.name = 'ApiError';
    this.status = API_ERRORS[code].status;
  }

  toBody(): { error: { code: ApiErrorCode; message: string } } {
    return { error: { ...this.details, code: this.code, message: this.message } };
  }
}
