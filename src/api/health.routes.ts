/**
 * `GET /health` (SPEC 7): 200 `{status: "ok"}` once the app is ready, 503 while it is starting or
 * draining, so a load balancer stops sending work before the server goes away. It also shows the
 * driver's health, the runs in flight, whether an emergency stop is active, and which nodes are
 * offline or in safe mode.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Services } from '../services.ts';
import { HealthSchema } from './api.schemas.ts';

/** Where the app is in its life: `ready` between start-up and shutdown. */
export type Phase = 'starting' | 'ready' | 'draining';

/** The app's phase, shared by the health route, the intake guard and the server's close. */
export interface Lifecycle {
  phase: Phase;
  /** Unix ms when the app was built. */
  readonly startedAt: number;
}

/** Options of the health route. */
export interface HealthRoutesOptions {
  services: Services;
  lifecycle: Lifecycle;
}

/** Registers `GET /health`. */
export async function healthRoutes(app: FastifyInstance, { services, lifecycle }: HealthRoutesOptions): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get('/health', {
    schema: {
      tags: ['service'],
      summary: 'Readiness: 200 when ready, 503 while starting or draining',
      response: { 200: HealthSchema, 503: HealthSchema },
    },
  }, async (_request, reply) => {
    const driver = services.driver.health();
    const nodes = services.devices.nodes();
    const status = lifecycle.phase === 'ready' ? 'ok' : lifecycle.phase;
    return reply.code(status === 'ok' ? 200 : 503).send({
      status,
      uptime_seconds: Math.round((Date.now() - lifecycle.startedAt) / 100) / 10,
      started_at: new Date(lifecycle.startedAt).toISOString(),
      runs_running: services.engine.runningCount,
      driver: { kind: services.driver.kind, ok: driver.ok, detail: driver.detail },
      emergency_stop: services.safety.latch.active,
      devices: {
        known: nodes.length,
        online: nodes.filter((n) => n.presence === 'online').length,
        offline: nodes.filter((n) => n.presence === 'offline').map((n) => n.esp_id),
        safe_mode: nodes.filter((n) => n.safe_mode).map((n) => n.esp_id),
      },
    });
  });
}
