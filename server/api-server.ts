import type { ClickHouseClient } from '@clickhouse/client';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ApiToken } from './auth.js';
import { ApiError } from './errors.js';
import type { Logger } from './logger.js';
import type { MetricsRegistry } from './metrics.js';
import { registerSqlRoute } from './sql-route.js';

export interface ApiServerOptions {
  client: ClickHouseClient;
  tokens: readonly ApiToken[];
  logger: Logger;
  /** Text shown by `/healthz` about where the store lives. */
  storeDescription: string;
  /** Self-metrics served at `GET /metrics`. Without them the route is absent. */
  metrics?: MetricsRegistry;
}

/**
 * Builds the query API: `GET /healthz`, `GET /metrics` for Prometheus and the
 * token-protected `POST /api/sql`. `/metrics` needs no token, like
 * `/healthz`, because Prometheus scrapes without one by default and the
 * metrics carry counts and configured names only.
 */
export function buildApiServer(options: ApiServerOptions): FastifyInstance {
  const app = Fastify({ loggerInstance: options.logger.child({ component: 'api' }) as FastifyBaseLogger, bodyLimit: 1024 * 1024 });

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof ApiError) {
      const log = error.status >= 500 ? request.log.error.bind(request.log) : request.log.info.bind(request.log);
      log({ code: error.code, err: error }, 'request failed');
      return reply.status(error.status).send(error.toBody());
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      request.log.info({ err: error }, 'invalid request');
      return reply.status(status).send(new ApiError('API_ERR_INVALID_BODY', (error as Error).message).toBody());
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send({ error: { code: 'API_ERR_INTERNAL', message: 'internal error; see the service log' } });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(new ApiError('API_ERR_NOT_FOUND', `${request.method} ${request.url}`).toBody());
  });

  // The health check is unauthenticated, so it names the kind of store, not its path or host.
  const storeKind = options.storeDescription.startsWith('embedded') ? 'embedded' : 'server';
  app.get('/healthz', async () => ({ status: 'ok', store: storeKind }));
  const { metrics } = options;
  if (metrics) {
    app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.serialize()));
  }
  registerSqlRoute(app, options.client, options.tokens);
  return app;
}
