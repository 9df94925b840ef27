import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppiaError } from '../domain/errors.js';
import type { Engine } from '../service/engine.js';
import { sendGraphError, toAppiaError } from './graph-errors.js';
import { RateLimiter } from './rate-limit.js';
import { deviceRoutes } from './routes/devices.js';
import { commandRoutes } from './routes/commands.js';
import { eventRoutes } from './routes/events.js';
import { systemRoutes } from './routes/system.js';
import { consoleRoutes } from './routes/console.js';

/** Who is calling (DESIGN 5): the user and the token's delegated scopes. */
export interface Principal {
  readonly userId: string;
  readonly scopes: ReadonlySet<string>;
}

/** Turns an Authorization header into a Principal, or throws AppiaError invalidToken / forbidden. */
export interface Authenticator {
  authenticate(authorization: string | undefined): Promise<Principal>;
}

/** The embedded issuer's public documents, when it is on. */
export interface WellKnown {
  discovery(baseUrl: string): object;
  jwks(): object;
}

export interface AppDeps {
  readonly engine: Engine;
  readonly auth: Authenticator;
  readonly wellKnown?: WellKnown;
  /** readiness probes beyond the store (e.g. the bus) */
  readonly ready?: () => Promise<void>;
}

export interface AppConfig {
  readonly publicUrl: string | null;
  readonly maxBodyBytes: number;
  readonly maxPayloadBytes: number;
  readonly maxJsonDepth: number;
  readonly rateLimit: number;
  readonly logLevel?: string;
}

export type App = FastifyInstance;

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

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
          request.principal = await deps.auth.authenticate(request.headers.authorization);
          if (!limiter.take(request.principal.userId)) {
            throw new AppiaError('rateLimited', `more than ${config.rateLimit} requests per second`, { retryAfter: limiter.retryAfter() });
          }
        });
        await graph.register(deviceRoutes(deps, config));
        await graph.register(commandRoutes(deps, config));
        await graph.register(eventRoutes(deps, config));
      },
      { prefix },
    );
  }
  return app;
}

/** DESIGN 5: throws forbidden unless the caller has one of the scopes. */
export function requireScope(principal: Principal, anyOf: readonly string[]): void {
  for (const s of anyOf) if (principal.scopes.has(s)) return;
  throw new AppiaError('forbidden', `this operation needs the ${anyOf.join(' or ')} scope`);
}
