import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';

/**
 * Scopes an API token may carry. `sql` runs analyst queries. `read`,
 * `approve` and `admin` open the remediation API and form a ladder, so each
 * includes the ones before it.
 */
export const API_SCOPES = ['sql', 'read', 'approve', 'admin'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

/** Remediation scopes from least to most privileged. */
const SCOPE_LADDER: readonly ApiScope[] = ['read', 'approve', 'admin'];

/** A bearer token and what it may do. */
export interface ApiToken {
  name: string;
  token: string;
  scopes: readonly string[];
  /** syncwatch user the token acts as; required for the remediation scopes. */
  user?: string;
}

/**
 * Returns the name of the token presented by `request` when it carries
 * `scope`; throws API_ERR_UNAUTHORIZED otherwise. Tokens are compared as
 * SHA-256 digests in constant time, so neither length nor content leaks.
 */
export function authorize(request: FastifyRequest, tokens: readonly ApiToken[], scope: string): string {
  const token = findPresentedToken(request, tokens);
  if (token === undefined || !token.scopes.includes(scope)) {
    throw new ApiError('API_ERR_UNAUTHORIZED', `the route requires a token with the "${scope}" scope`);
  }
  return token.name;
}

/**
 * Returns the token presented by `request` when it grants `scope`. Throws
 * API_ERR_UNAUTHORIZED (401) for a missing or unknown token and
 * API_ERR_FORBIDDEN_SCOPE (403) for a known token without the scope.
 */
export function requireScope(request: FastifyRequest, tokens: readonly ApiToken[], scope: ApiScope): ApiToken {
  const token = findPresentedToken(request, tokens);
  if (token === undefined) throw new ApiError('API_ERR_UNAUTHORIZED');
  if (!hasScope(token, scope)) {
    throw new ApiError(
      'API_ERR_FORBIDDEN_SCOPE',
      `token "${token.name}" has scopes [${token.scopes.join(', ')}]; this route requires "${scope}"`,
    );
  }
  return token;
}

/** Tells whether `token` grants `scope`, counting higher remediation scopes as including lower ones. */
export function hasScope(token: Pick<ApiToken, 'scopes'>, scope: ApiScope): boolean {
  if (token.scopes.includes(scope)) return true;
  const rank = SCOPE_LADDER.indexOf(scope);
  if (rank < 0) return false;
  return SCOPE_LADDER.slice(rank + 1).some((higher) => token.scopes.includes(higher));
}

/** Returns the configured token whose value matches the request's bearer token, if any. */
export function findPresentedToken(request: FastifyRequest, tokens: readonly ApiToken[]): ApiToken | undefined {
  const header = request.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return undefined;

  const presented = digest(match[1]!);
  let found: ApiToken | undefined;
  // Every candidate is compared, so the time taken does not tell which entry matched.
  for (const candidate of tokens) {
    if (timingSafeEqual(presented, digest(candidate.token)) && found === undefined) found = candidate;
  }
  return found;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
