import swagger, { type SwaggerOptions } from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { API_V1_PREFIX } from './routes.js';

/** Version of the API the document describes; it changes when a route changes incompatibly. */
const API_DOCUMENT_VERSION = '1.0.0';

/** Path of the generated OpenAPI document. */
export const OPENAPI_PATH = `${API_V1_PREFIX}/openapi.json`;

/**
 * Registers @fastify/swagger on `app` itself, so it collects the schema of every
 * route registered after it, in any plugin, and serves the resulting OpenAPI
 * 3.0 document at {@link OPENAPI_PATH} without a token.
 */
export function registerOpenApi(app: FastifyInstance): void {
  const options: SwaggerOptions = {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'syncwatch API',
        version: API_DOCUMENT_VERSION,
        description:
          'Remediation API of syncwatch: open incidents, remediation proposals and their approval, and the audit log. ' +
          'Send `Authorization: Bearer <token>` with a token from `api.tokens`. Its scopes (read, approve, admin) ' +
          'select the routes it may call, and its `user` is who acts.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    },
    // Shared schemas keep their `$id` as their name under components.schemas.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, index) => (typeof json.$id === 'string' ? json.$id : `def-${index}`),
    },
  };
  void app.register(swagger, options);
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
}
