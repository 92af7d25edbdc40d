import { createHash, timingSafeEqual } from 'node:crypto';
import { createCollectorError } from '../errors.js';

/** A bearer token that may send telemetry to the receiver. */
export interface IngestToken {
  name: string;
  token: string;
}

/**
 * Checks the `Authorization` header of one request and returns the name of
 * the matching token. Returns undefined when no tokens are configured, so the
 * receiver is open.
 */
export type IngestAuthenticator = (authorization: string | undefined) => string | undefined;

const BEARER_HEADER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * Creates the authenticator for `tokens`. It throws
 * `COLLECTOR_ERR_UNAUTHENTICATED` for a missing header, a scheme other than
 * Bearer, or a token not in the list. Tokens are compared as SHA-256 digests
 * in constant time, so the comparison leaks neither length nor content.
 */
export function createIngestAuthenticator(tokens: readonly IngestToken[]): IngestAuthenticator {
  const known = tokens.map(({ name, token }) => ({ name, digest: digest(token) }));

  return (authorization) => {
    if (known.length === 0) return undefined;
    if (authorization === undefined || authorization === '') {
      throw createCollectorError('unauthenticated', { problem: 'no Authorization header' });
    }

    const match = BEARER_HEADER.exec(authorization);
    if (!match) {
      throw createCollectorError('unauthenticated', { problem: 'Authorization is not a Bearer token' });
    }

    const presented = digest(match[1] as string);
    let matched: string | undefined;
    // Every candidate is compared, so the response time does not reveal which one matched.
    for (const candidate of known) {
      if (timingSafeEqual(presented, candidate.digest)) matched ??= candidate.name;
    }
    if (matched === undefined) {
      throw createCollectorError('unauthenticated', { problem: 'the token is not an ingest token' });
    }
    return matched;
  };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
