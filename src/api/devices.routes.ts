/**
 * `GET /api/v1/devices` (SPEC 7): every node the driver knows, with its presence, safe mode and
 * actuators, each with the run holding its lease. Works with every driver: the sim driver's nodes
 * are always online, the mqtt driver's are as their heartbeats and reports say. An operator clears
 * the lease a failed safe state left on an actuator by an OFF the device confirms (SPEC 10).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { NodeReport } from '../drivers/actuator-driver.ts';
import { leaseKey, type LeaseTable } from '../safety/lease-table.ts';
import type { UnconfirmedLease } from '../safety/safety-system.ts';
import type { Services } from '../services.ts';
import { ActuatorOffResponseSchema, ActuatorParamsSchema, DevicesResponseSchema, ErrorBodySchema, errorResponses } from './api.schemas.ts';

/** Options of the devices route. */
export interface DevicesRoutesOptions {
  services: Services;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/**
 * A node as the route answers it. An actuator a failed safe state left leased is listed even when
 * the node never reported it (its device never answered): state UNKNOWN, held by that run.
 */
function view(node: NodeReport, leases: LeaseTable, unconfirmed: readonly UnconfirmedLease[]) {
  const reported = new Set(node.actuators.map((a) => a.gpio));
  const unreported = unconfirmed
    .filter((lease) => lease.key.slice(0, lease.key.lastIndexOf(':')) === node.esp_id)
    .map((lease) => Number(lease.key.slice(lease.key.lastIndexOf(':') + 1)))
    .filter((gpio) => !reported.has(gpio))
    .map((gpio) => ({ gpio, state: 'UNKNOWN' as const, value: null, last_command: null, emergency: null, updated_at: null }));
  return {
    esp_id: node.esp_id,
    online: node.presence === 'online',
    presence: node.presence,
    last_seen_at: iso(node.last_seen_at),
    safe_mode: node.safe_mode,
    safe_mode_reason: node.safe_mode_reason,
    actuators: [...node.actuators, ...unreported]
      .sort((a, b) => a.gpio - b.gpio)
      .map((a) => ({
        ...a,
        held_by_run: leases.holderOf(leaseKey(node.esp_id, a.gpio))?.runId ?? null,
        updated_at: iso(a.updated_at),
      })),
  };
}

/** Registers `GET /devices` and the operator's OFF of one actuator. */
export async function devicesRoutes(app: FastifyInstance, { services }: DevicesRoutesOptions): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.post('/devices/:esp_id/actuators/:gpio/off', {
    schema: {
      tags: ['devices'],
      summary: 'Send one OFF to an actuator (within the safe-state timeout); once the device confirms it, a lease a failed safe state left on it is released',
      params: ActuatorParamsSchema,
      response: { 200: ActuatorOffResponseSchema, ...errorResponses(401, 403, 409, 422) },
    },
  }, async (request) => {
    const { esp_id, gpio } = request.params;
    const { released_from_run } = await services.safety.operatorOff(esp_id, gpio);
    return { success: true as const, esp_id, gpio, released_from_run };
  });
  routes.get('/devices', {
    schema: {
      tags: ['devices'],
      summary: 'Every known node: presence, safe mode, actuators with state, lease holder and last command',
      response: { 200: DevicesResponseSchema, 401: ErrorBodySchema },
    },
  }, async () => ({ success: true as const, devices: services.devices.nodes().map((node) => view(node, services.safety.leases, services.safety.unconfirmed())) }));
}
