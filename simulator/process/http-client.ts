import { createRequire } from 'node:module';

// Loaded through require after the SDK has started, so this is the `http`
// module the HTTP instrumentation patched and every call gets a client span.
const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');

/** A JSON response from another system. */
export interface JsonResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** Raised when another system sends no response within the timeout. */
export class RequestTimeoutError extends Error {
  override name = 'TimeoutError';
  readonly code = 'ETIMEDOUT';
}

/** Options of one JSON request. */
export interface JsonRequestOptions {
  method: 'GET' | 'POST' | 'PUT';
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs: number;
}

/**
 * Sends a JSON request and resolves with the status and parsed body for any
 * status code. Rejects with `RequestTimeoutError` when no response arrives in time.
 */
export function requestJson(url: string, options: JsonRequestOptions): Promise<JsonResponse> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (payload !== undefined) headers['content-type'] = 'application/json';

  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: options.method, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          statusCode: response.statusCode ?? 0,
          headers: response.headers,
          body: parseJson(text),
        });
      });
    });
    request.setTimeout(options.timeoutMs, () => {
      request.destroy(
        new RequestTimeoutError(`${options.method} ${url} timed out after ${options.timeoutMs} ms`),
      );
    });
    request.on('error', reject);
    request.end(payload);
  });
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
