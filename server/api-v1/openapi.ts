import swagger, { type SwaggerOptions } from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { MAX_QUERY_LENGTH, MAX_RESULT_ROWS } from '../sql-route.js';
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
    transformObject: (documentObject) => {
      if (!('openapiObject' in documentObject)) return documentObject.swaggerObject;
      completeDocument(documentObject.openapiObject as OpenApiDocument);
      return documentObject.openapiObject;
    },
    // Shared schemas keep their `$id` as their name under components.schemas.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, index) => (typeof json.$id === 'string' ? json.$id : `def-${index}`),
    },
  };
  void app.register(swagger, options);
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
}

type Operation = Record<string, unknown>;
interface OpenApiDocument {
  paths?: Record<string, Record<string, Operation>>;
}

const errorReply = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

/**
 * Fills in what route schemas cannot express. The approve route takes an empty
 * or missing body, which @fastify/swagger 9 always marks as required.
 * `POST /api/sql` reads JSON or plain text itself, so its body and replies
 * are described here instead of in a schema Fastify would enforce.
 */
function completeDocument(document: OpenApiDocument): void {
  const approve = document.paths?.[`${API_V1_PREFIX}/proposals/{id}/approve`]?.post;
  const requestBody = approve?.requestBody as { required?: boolean } | undefined;
  if (requestBody) requestBody.required = false;

  const sql = document.paths?.['/api/sql']?.post;
  if (sql) Object.assign(sql, SQL_OPERATION);
}

const SQL_OPERATION: Operation = {
  operationId: 'runSqlQuery',
  summary: 'Run one read-only SQL statement against the store',
  description:
    `Needs a token with the \`sql\` scope. The statement runs with ClickHouse's readonly setting; ` +
    `at most ${MAX_RESULT_ROWS} rows are returned, and \`truncated\` says when more matched.`,
  tags: ['sql'],
  security: [{ bearerAuth: [] }],
  requestBody: {
    required: true,
    content: {
      'application/json': {
        schema: {
          type: 'object',
          required: ['query'],
          properties: { query: { type: 'string', minLength: 1, maxLength: MAX_QUERY_LENGTH } },
        },
      },
      'text/plain': { schema: { type: 'string', minLength: 1, maxLength: MAX_QUERY_LENGTH } },
    },
  },
  responses: {
    200: {
      description: 'the result rows with their column names and types',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['columns', 'rows', 'rowCount', 'truncated', 'elapsedMs'],
            properties: {
              columns: {
                type: 'array',
                items: { type: 'object', properties: { name: { type: 'string' }, type: { type: 'string' } } },
              },
              rows: { type: 'array', items: { type: 'object', additionalProperties: true } },
              rowCount: { type: 'integer' },
              truncated: { type: 'boolean' },
              elapsedMs: { type: 'number' },
            },
          },
        },
      },
    },
    400: errorReply('the body holds no query, or the query was rejected, failed, timed out or returned too much'),
    401: errorReply('missing or unknown bearer token, or a token without the sql scope'),
    503: errorReply('the ClickHouse store is unavailable'),
  },
};
