/**
 * `GET /metrics` (SPEC 7): the server's Prometheus metrics in the text exposition format.
 */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics.ts';

/** Options of the metrics route. */
export interface MetricsRoutesOptions {
  metrics: Metrics;
}

/** Registers `GET /metrics`. */
export async function metricsRoutes(app: FastifyInstance, { metrics }: MetricsRoutesOptions): Promise<void> {
  app.get('/metrics', {
    schema: { tags: ['service'], summary: 'Prometheus metrics (text exposition format)' },
  }, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));
}
