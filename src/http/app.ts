import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { requireScope } from '../auth/verifier.js';
import { AppiaError, isAppiaError } from '../domain/errors.js';
import type { AppConfig, AppDeps } from './context.js';
import { clientErrorHandler, sendGraphError, toAppiaError } from './graph-errors.js';
import { HoldLimiter } from './holds.js';
import { acceptJsonBodies } from './json-body.js';
import { checkQueryOptions } from './query-options.js';
import { connectionClientKey, RateLimiter } from './rate-limit.js';
import { checkAskedUser, rewriteUserPath } from './user-path.js';
import { deviceRoutes } from './routes/devices.js';
import { commandRoutes } from './routes/commands.js';
import { batchRoutes } from './routes/batches.js';
import { eventRoutes } from './routes/events.js';
import { postbackRoutes } from './routes/postbacks.js';
import { systemRoutes } from './routes/system.js';
import { lazyChildLoggerFactory, loggerOptions, requestLogging } from './observability.js';
import { metadataRoutes } from './routes/metadata.js';
import { metricsRoutes } from './routes/metrics.js';
import { registerOpenapi } from './routes/openapi.js';
import { consoleRoutes } from './routes/console.js';
import { pairingRoutes } from './routes/pairing.js';

export type { AppConfig, AppDeps, Authenticator, Caller, WellKnown } from './context.js';

export type App = FastifyInstance;

/**
 * Builds the HTTP app (no listening: main.ts does that, tests use inject()).
 * The Graph API is served under /beta and /v1.0; paths match case-insensitively.
 */
export function buildApp(deps: AppDeps, config: AppConfig, serverOptions: FastifyServerOptions = {}): App {
  const { https, ...otherOptions } = serverOptions as FastifyServerOptions & { https?: object | null };
  const app = Fastify({
    // DESIGN 7: one JSON line per request (observability.ts) instead of Fastify's two; secrets redacted
    logger: loggerOptions(config.logLevel, deps.logDestination),
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    childLoggerFactory: lazyChildLoggerFactory,
    bodyLimit: config.maxBodyBytes > 0 ? config.maxBodyBytes : 1024 * 1024 * 1024,
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true },
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // DESIGN 2: /beta/users/{the caller's own id}/... is /beta/me/... (checked once the caller is known)
    rewriteUrl: rewriteUserPath,
    // DESIGN 8: what the HTTP parser refuses (a body trickled past the request timeout: 408) in Graph's shape
    clientErrorHandler,
    ...requestTimeouts(config.requestTimeoutMs ?? 0, https),
    // A URL that cannot be decoded is bad input too: answer in Graph's shape.
    frameworkErrors: (err, request, reply) => {
      reply.header('request-id', request.id);
      sendGraphError(request, reply, new AppiaError('badRequest', `the request URL is malformed: ${err.message}`));
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
    ...otherOptions,
  }).withTypeProvider<TypeBoxTypeProvider>();
  limitConnections(app, config.maxConnections ?? 0);

  // JSON only: a body in another media type is refused with a clear message rather than read as a string.
  app.removeContentTypeParser('text/plain');
  // DESIGN 7: /openapi.json sees every route registered after it; then the hook every answer passes
  registerOpenapi(app);
  requestLogging(app, deps.metrics);
  acceptJsonBodies(app, config.maxJsonDepth);
  const limiter = new RateLimiter(config.rateLimit, deps.now);
  const authFailures = new RateLimiter(config.authFailureLimit ?? 0, deps.now);
  app.decorate('holds', new HoldLimiter(config.maxStreamsPerUser ?? 0));

  app.addHook('onRequest', async (request, reply) => {
    reply.header('request-id', request.id);
    const clientRequestId = request.headers['client-request-id'];
    if (typeof clientRequestId === 'string') reply.header('client-request-id', clientRequestId.slice(0, 200));
  });

  app.setErrorHandler((err, request, reply) => {
    const appiaError = toAppiaError(err);
    // the detail of a fault (a driver's text, a stack) is logged, never sent (graph-errors.ts)
    if (appiaError.code === 'internal') request.log.error({ err }, 'internal error');
    else if (appiaError.code === 'unavailable') request.log.warn({ err }, 'a backing service is unavailable');
    return sendGraphError(request, reply, appiaError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendGraphError(request, reply, new AppiaError('notFound', `no resource at ${request.method} ${request.url.split('?')[0]}`)),
  );

  app.register(systemRoutes(deps, config.publicUrl));
  app.register(metadataRoutes());
  if (deps.metrics) app.register(metricsRoutes(deps.metrics));
  app.register(consoleRoutes());
  // DESIGN 10: the device's pairing calls (no token) and the owner's approval under the Graph roots share their limits
  const pairing = pairingRoutes(deps, config);
  app.register(pairing.devices);
  for (const prefix of ['/beta', '/v1.0']) {
    app.register(
      async (graph) => {
        graph.addHook('onRequest', async (request) => {
          // DESIGN 8: an address that failed too often this second is refused before its signature is checked
          // no trustProxy: request.ip is the socket's peer address
          const client = connectionClientKey(request.raw.socket);
          if (authFailures.exhausted(client)) {
            throw new AppiaError('rateLimited', `more than ${config.authFailureLimit} failed authentications per second from this address`, {
              retryAfter: authFailures.retryAfter(),
            });
          }
          try {
            request.caller = await deps.auth.authenticate(request.headers.authorization);
          } catch (err) {
            if (isAppiaError(err) && err.code === 'invalidToken') authFailures.take(client);
            throw err;
          }
          checkAskedUser(request.raw, request.caller.userId);
          if (!limiter.take(request.caller.userId)) {
            throw new AppiaError('rateLimited', `more than ${config.rateLimit} requests per second`, { retryAfter: limiter.retryAfter() });
          }
          // DESIGN 5: the one check of the scopes each route declares in its config
          const scopes = request.routeOptions.config.scopes;
          if (scopes) requireScope(request.caller, scopes);
          checkQueryOptions(request, request.routeOptions.config.query ?? []);
          normaliseIds(request.params);
        });
        await graph.register(deviceRoutes(deps, config));
        await graph.register(commandRoutes(deps, config));
        await graph.register(batchRoutes(deps, config));
        await graph.register(eventRoutes(deps, config));
        await graph.register(postbackRoutes(deps));
        await graph.register(pairing.owner);
      },
      { prefix },
    );
  }
  return app;
}

/**
 * DESIGN 2: device ids are GUIDs and command ids hex, matched in any case:
 * the routes see device ids in lower case (as they are made) and command
 * ids in upper case.
 */
function normaliseIds(params: unknown): void {
  const p = params as Record<string, unknown> | undefined;
  if (typeof p?.['deviceId'] === 'string') p['deviceId'] = p['deviceId'].toLowerCase();
  if (typeof p?.['commandId'] === 'string') p['commandId'] = p['commandId'].toUpperCase();
}

/**
 * APPIA_REQUEST_TIMEOUT_MS (DESIGN 8): Node's HTTP server cuts a request
 * whose headers and body have not all arrived in time (408, clientErrorHandler).
 * It looks for such requests every `connectionsCheckingInterval` (30 s by
 * default), so that is made a fraction of the timeout. 0 turns it off.
 */
function requestTimeouts(timeoutMs: number, https: object | null | undefined): Partial<FastifyServerOptions> {
  const server = timeoutMs > 0 ? { headersTimeout: Math.min(timeoutMs, 60_000), connectionsCheckingInterval: Math.min(1000, Math.max(20, Math.floor(timeoutMs / 4))) } : {};
  const transport = https ? { https: { ...https, ...server } } : { http: server };
  return { requestTimeout: timeoutMs, ...transport } as Partial<FastifyServerOptions>;
}

/** APPIA_MAX_CONNECTIONS: beyond it Node closes new connections at once; that is logged, at most once a minute. */
function limitConnections(app: FastifyInstance, maxConnections: number): void {
  if (maxConnections <= 0) return;
  app.server.maxConnections = maxConnections;
  let loggedAt = -Infinity;
  app.server.on('drop', () => {
    if (Date.now() - loggedAt < 60_000) return;
    loggedAt = Date.now();
    app.log.warn(`connections beyond APPIA_MAX_CONNECTIONS (${maxConnections}) are being dropped`);
  });
}
