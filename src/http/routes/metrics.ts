import type { FastifyPluginAsync } from 'fastify';
import type { RequestMetrics } from '../observability.js';
import { answers, textAnswer } from '../response-schemas.js';

/**
 * DESIGN 7: GET /metrics in Prometheus' text format. Like /healthz it needs
 * no token: it shows counts and timings, never users, devices or commands,
 * and the server listens on loopback unless told otherwise.
 *
 * @example
 * app.register(metricsRoutes(new AppiaMetrics()));
 */
export function metricsRoutes(metrics: RequestMetrics): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/metrics',
      { schema: { summary: "This node's Prometheus metrics", response: answers({ 200: textAnswer('text/plain', 'Prometheus text format 0.0.4') }) } },
      async (_request, reply) => {
        const { contentType, body } = await metrics.scrape();
        return reply.type(contentType).send(body);
      },
    );
  };
}
