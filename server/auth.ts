import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';

/** A bearer token and what it may do. */
export interface ApiToken {
  name: string;
  token: string;
  scopes: readonly string[];
}

/**
 * Returns the name of the token presented by `request` when it carries
 * `scope`; throws API_ERR_UNAUTHORIZED otherwise. Tokens are compared as
 * SHA-256 digests in constant time, so neither length nor content leaks.
 */
export function authorize(request: FastifyRequest, tokens: readonly ApiToken[], scope: string): string {
  const header = request.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new ApiError('API_ERR_UNAUTHORIZED');

  const presented = digest(match[1]!);
  for (const candidate of tokens) {
    if (timingSafeEqual(presented, digest(candidate.token)) && candidate.scopes.includes(scope)) {
      return candidate.name;
    }
  }
  throw new ApiError('API_ERR_UNAUTHORIZED');
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
