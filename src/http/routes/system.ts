import type { FastifyPluginAsync } from 'fastify';
import { AppiaError } from '../../domain/errors.js';
import type { AppDeps } from '../context.js';
import { baseUrl } from '../odata.js';
import { answers, Health, OpenDocument } from '../response-schemas.js';

/** Liveness, readiness and the embedded issuer's well-known documents (DESIGN 5, 7). */
export function systemRoutes(deps: AppDeps, publicUrl: string | null): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { schema: { response: { 200: Health } } }, async () => ({ status: 'ok' }));
    app.get('/readyz', { schema: { response: answers({ 200: Health }) } }, async () => {
      try {
        await deps.core.ready();
      } catch (cause) {
        throw new AppiaError('unavailable', 'a backing service is not reachable', { cause, retryAfter: 5 });
      }
      return { status: 'ready' };
    });
    const wellKnown = deps.wellKnown;
    if (wellKnown) {
      app.get('/.well-known/openid-configuration', { schema: { response: { 200: OpenDocument } } }, async (request) => wellKnown.discovery(baseUrl(request, publicUrl)));
      app.get('/.well-known/jwks.json', { schema: { response: { 200: OpenDocument } } }, async () => wellKnown.jwks());
    }
  };
}
