import type { ClickHouseClient } from '@clickhouse/client';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { registerOpenApi } from './api-v1/openapi.js';
import { API_V1_PREFIX, apiV1Routes } from './api-v1/routes.js';
import type { RemediationAccess } from './api-v1/views.js';
import type { ApiToken } from './auth.js';
import { consoleRoutes } from './console/route.js';
import { ApiError } from './errors.js';
import type { Logger } from './logger.js';
import type { MetricsRegistry } from './metrics.js';
import { registerSqlRoute } from './sql-route.js';
import { buildRequestValidatorCompiler, describeValidation, type ValidationIssue } from './validation.js';

/**
 * Maximum length of one path parameter, in characters. It is above the
 * schemas' own limits, so a long proposal id gets the schema's 422 message
 * with the limit that applies.
 */
const MAX_PARAM_LENGTH = 1_000;

export interface ApiServerOptions {
  client: ClickHouseClient;
  tokens: readonly ApiToken[];
  logger: Logger;
  /** Text shown by `/healthz` about where the store lives. */
  storeDescription: string;
  /** Self-metrics served at `GET /metrics`. Without them the route is absent. */
  metrics?: MetricsRegistry;
  /** The remediation layer behind `/api/v1/proposals` and the console; without it those routes reply 503. */
  remediation?: RemediationAccess;
  /** Requests one token may send to `/api/v1` per window. */
  rateLimit?: { max: number; windowMs: number };
}

/**
 * Builds the API server: `GET /healthz`, `GET /metrics` for Prometheus, the
 * token-protected `POST /api/sql`, the remediation API under `/api/v1` with
 * its OpenAPI document, and the web console at `/console`. `/metrics` needs
 * no token, like `/healthz`, because Prometheus scrapes without one by
 * default and the metrics carry counts and configured names only.
 */
export function buildApiServer(options: ApiServerOptions): FastifyInstance {
  const logger = options.logger.child({ component: 'api' }, { serializers: { req: serializeRequest } });
  const validatorCompiler = buildRequestValidatorCompiler();
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // A compiler factory, unlike setValidatorCompiler, also reaches plugins that add schemas of their own.
    schemaController: { compilersFactory: { buildValidator: () => validatorCompiler } },
    // Errors the router raises before any route runs get the same envelope as the routes' own errors.
    frameworkErrors: (error, request, reply) => {
      const apiError =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new ApiError('API_ERR_VALIDATION', `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`)
          : new ApiError('API_ERR_INVALID_URL', error.message);
      request.log.info({ code: apiError.code, url: request.url.slice(0, 200) }, 'request failed');
      // The option's reply type is generic over every route's replies, so it is narrowed to a plain reply.
      void (reply as FastifyReply).status(apiError.status).send(apiError.toBody());
    },
  });
  const routes = collectRoutes(app);

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof ApiError) {
      const log = error.status >= 500 ? request.log.error.bind(request.log) : request.log.info.bind(request.log);
      log({ code: error.code, err: error }, 'request failed');
      if (error.status === 401) void reply.header('www-authenticate', 'Bearer realm="syncwatch"');
      return reply.status(error.status).send(error.toBody());
    }
    const validation = (error as { validation?: ValidationIssue[]; validationContext?: string }).validation;
    if (validation !== undefined) {
      const context = (error as { validationContext?: string }).validationContext ?? 'request';
      request.log.info({ issues: validation.length }, 'request failed validation');
      return reply.status(422).send(new ApiError('API_ERR_VALIDATION', describeValidation(context, validation)).toBody());
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
    const path = request.url.split('?')[0] ?? request.url;
    const allowed = routes.methodsOf(path);
    if (allowed.length > 0) {
      const error = new ApiError('API_ERR_METHOD_NOT_ALLOWED', `${request.method} ${path}; allowed: ${allowed.join(', ')}`);
      return reply.status(405).header('allow', allowed.join(', ')).send(error.toBody());
    }
    return reply.status(404).send(new ApiError('API_ERR_NOT_FOUND', `${request.method} ${path}`).toBody());
  });

  // The document generator is registered first, so it collects the routes of every plugin registered after it.
  registerOpenApi(app);
  void app.register(async (root) => {
    // The health check is unauthenticated, so it names the kind of store, not its path or host.
    const storeKind = options.storeDescription.startsWith('embedded') ? 'embedded' : 'server';
    root.get(
      '/healthz',
      { schema: { operationId: 'getHealth', summary: 'Liveness and the kind of store, without a token', tags: ['service'] } },
      async () => ({ status: 'ok', store: storeKind }),
    );
    const { metrics } = options;
    if (metrics) {
      root.get(
        '/metrics',
        { schema: { operationId: 'getMetrics', summary: 'Self-metrics in the Prometheus text format, without a token', tags: ['service'] } },
        async (_request, reply) => reply.type(metrics.contentType).send(await metrics.serialize()),
      );
    }
    registerSqlRoute(root, options.client, options.tokens);
  });
  void app.register(apiV1Routes, {
    prefix: API_V1_PREFIX,
    client: options.client,
    tokens: options.tokens,
    remediation: options.remediation,
    rateLimit: options.rateLimit,
  });
  void app.register(consoleRoutes);
  return app;
}

/**
 * Records the path pattern and methods of every route registered after this
 * call, so a request for a known path with another method gets 405 and an
 * `Allow` header instead of 404.
 */
function collectRoutes(app: FastifyInstance): { methodsOf(path: string): string[] } {
  const routes: Array<{ pattern: RegExp; methods: string[] }> = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    routes.push({ pattern: pathPattern(route.url), methods: methods.map(String) });
  });
  return {
    methodsOf(path) {
      const methods = new Set(routes.filter((route) => route.pattern.test(path)).flatMap((route) => route.methods));
      return [...methods].sort();
    },
  };
}

/** Turns a route path such as `/api/v1/proposals/:id` into an anchored regular expression. */
function pathPattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => {
      if (segment.startsWith(':')) return '[^/]+';
      if (segment === '*') return '.*';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${source}$`);
}

/**
 * Logs a request without its query string's `token` parameter, which the
 * console accepts once in its address, so no token reaches the log.
 */
function serializeRequest(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: request.url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]'),
    host: request.host,
    remoteAddress: request.ip,
  };
}
