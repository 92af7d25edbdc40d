import type { FastifyInstance, FastifyReply } from 'fastify';
import { CONSOLE_CSS, CONSOLE_HTML } from './page.js';
import { CONSOLE_SCRIPT } from './script.js';

/**
 * Headers of every console response. The policy lets the page load scripts,
 * styles and API replies from this service only, and keeps it out of frames.
 * `no-referrer` keeps a `?token=` address from leaking to other sites.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
} as const;

function send(reply: FastifyReply, type: string, body: string): FastifyReply {
  return reply.headers(SECURITY_HEADERS).type(type).send(body);
}

/**
 * Serves the web console at `/console`: one static page and its script and
 * style sheet. The page needs no token to load, because it contains no data.
 * The script requests one and calls the `/api/v1` routes with it.
 */
export async function consoleRoutes(app: FastifyInstance): Promise<void> {
  const hidden = { schema: { hide: true } };
  app.get('/console', hidden, async (_request, reply) => send(reply, 'text/html; charset=utf-8', CONSOLE_HTML));
  app.get('/console/', hidden, async (_request, reply) => send(reply, 'text/html; charset=utf-8', CONSOLE_HTML));
  app.get('/console/console.js', hidden, async (_request, reply) =>
    send(reply, 'text/javascript; charset=utf-8', CONSOLE_SCRIPT),
  );
  app.get('/console/console.css', hidden, async (_request, reply) => send(reply, 'text/css; charset=utf-8', CONSOLE_CSS));
}
