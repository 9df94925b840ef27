import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { requireScope } from '../auth/verifier.js';
import { AppiaError } from '../domain/errors.js';
import type { AppConfig, AppDeps } from './context.js';
import { sendGraphError, toAppiaError } from './graph-errors.js';
import { RateLimiter } from './rate-limit.js';
import { deviceRoutes } from './routes/devices.js';
import { commandRoutes } from './routes/commands.js';
import { eventRoutes } from './routes/events.js';
import { postbackRoutes } from './routes/postbacks.js';
import { systemRoutes } from './routes/system.js';
import { consoleRoutes } from './routes/console.js';

export type { AppConfig, AppDeps, Authenticator, Caller, WellKnown } from './context.js';

export type App = FastifyInstance;

/**
 * Builds the HTTP app (no listening: main.ts does that, tests use inject()).
 * The Graph API is served under /beta and /v1.0; paths match case-insensitively.
 */
export function buildApp(deps: AppDeps, config: AppConfig, serverOptions: FastifyServerOptions = {}): App {
  const app = Fastify({
    logger: config.logLevel && config.logLevel !== 'silent' ? { level: config.logLevel, redact: ['req.headers.authorization'] } : false,
    bodyLimit: config.maxBodyBytes > 0 ? config.maxBodyBytes : 1024 * 1024 * 1024,
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true },
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // A URL that cannot be decoded is bad input too: answer in Graph's shape.
    frameworkErrors: (err, request, reply) => {
      reply.header('request-id', request.id);
      sendGraphError(request, reply, new AppiaError('badRequest', `the request URL is malformed: ${err.message}`));
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
    ...serverOptions,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only: a body in another media type is refused with a clear message rather than read as a string.
  app.removeContentTypeParser('text/plain');
  const limiter = new RateLimiter(config.rateLimit);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('request-id', request.id);
    const clientRequestId = request.headers['client-request-id'];
    if (typeof clientRequestId === 'string') reply.header('client-request-id', clientRequestId.slice(0, 200));
  });

  app.setErrorHandler((err, request, reply) => {
    const appiaError = toAppiaError(err);
    if (appiaError.code === 'internal') request.log.error({ err }, 'internal error');
    return sendGraphError(request, reply, appiaError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendGraphError(request, reply, new AppiaError('notFound', `no resource at ${request.method} ${request.url.split('?')[0]}`)),
  );

  app.register(systemRoutes(deps, config.publicUrl));
  app.register(consoleRoutes());
  for (const prefix of ['/beta', '/v1.0']) {
    app.register(
      async (graph) => {
        graph.addHook('onRequest', async (request) => {
          request.caller = await deps.auth.authenticate(request.headers.authorization);
          if (!limiter.take(request.caller.userId)) {
            throw new AppiaError('rateLimited', `more than ${config.rateLimit} requests per second`, { retryAfter: limiter.retryAfter() });
          }
          // DESIGN 5: the one check of the scopes each route declares in its config
          const scopes = request.routeOptions.config.scopes;
          if (scopes) requireScope(request.caller, scopes);
        });
        await graph.register(deviceRoutes(deps, config));
        await graph.register(commandRoutes(deps, config));
        await graph.register(eventRoutes(deps, config));
        await graph.register(postbackRoutes(deps));
      },
      { prefix },
    );
  }
  return app;
}
