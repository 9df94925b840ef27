import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { answers, NAMED_ANSWERS, OpenDocument } from '../response-schemas.js';

const NAMED = new Map(NAMED_ANSWERS.map((schema) => [String((schema as { $id?: string }).$id), schema]));

/** a named answer's schema as a reference to its component; any other as it is */
function named(answer: unknown): unknown {
  const id = (answer as { $id?: unknown } | null)?.$id;
  if (typeof id !== 'string' || !NAMED.has(id)) return answer;
  const description = (answer as { description?: unknown }).description;
  return { $ref: `#/components/schemas/${id}`, ...(typeof description === 'string' ? { description } : {}) };
}

/** the package version, shown as the document's `info.version` */
const VERSION = '0.1.0';

/**
 * DESIGN 7: `/openapi.json`, an OpenAPI 3.1 document generated from the
 * route schemas (@fastify/swagger, dynamic mode). Register it before any
 * route, so its onRoute hook sees them all. The answers' schemas
 * (response-schemas.ts) appear once under `components.schemas`, by their
 * `$id`, and the operations refer to them.
 *
 * @example
 * const app = Fastify();
 * registerOpenapi(app);
 * app.register(routes);
 * const doc = (await app.inject('/openapi.json')).json();
 */
export function registerOpenapi(app: FastifyInstance): void {
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Appia',
        version: VERSION,
        description:
          'Self-hosted device command relay, wire-compatible with the Microsoft Graph beta device command API. ' +
          'The Graph routes are served under /beta and /v1.0 alike; path segments match case-insensitively; ' +
          "every /me/... path is also served as /users/{the caller's own user id}/....",
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'a user token (DESIGN 5)' },
          deviceToken: { type: 'http', scheme: 'bearer', description: 'a device token from the registration (DESIGN 4)' },
        },
        schemas: Object.fromEntries(NAMED.entries()),
      },
      // served on the HTTP server's upgrade event, not by a Fastify route
      paths: {
        '/devices/connect': {
          get: {
            summary: "A device's WebSocket connection (DESIGN 4): JSON text frames; the token may also come as the subprotocol `appia.v1, token.<deviceToken>`",
            security: [{ deviceToken: [] }],
            responses: {
              101: { description: 'Switching Protocols: the device is connected' },
              400: { description: 'a token subprotocol without appia.v1' },
              401: { description: 'the device token is missing, unknown or revoked' },
              503: { description: 'the server is shutting down, or the store is unavailable' },
            },
          },
        },
      },
    },
    // name components by their $id (`Command`) rather than `def-0`
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    // every Graph route needs a bearer token (DESIGN 5); the others need none
    transform: ({ schema, url }) => {
      const graph = /^\/(beta|v1\.0)\//i.test(url) && !url.includes('$metadata');
      const response = schema?.response && Object.fromEntries(Object.entries(schema.response).map(([code, answer]) => [code, named(answer)]));
      return { schema: { ...schema, ...(response ? { response } : {}), ...(graph ? { security: [{ bearer: [] }] } : {}) }, url } as never;
    },
  });

  app.register(async (scope) => {
    scope.get(
      '/openapi.json',
      { schema: { summary: 'This document (OpenAPI 3.1)', response: answers({ 200: OpenDocument }) } },
      async (_request, reply) => reply.type('application/json').send(app.swagger()),
    );
  });
}
