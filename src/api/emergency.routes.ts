/**
 * The emergency-stop routes of SPEC 7 and 10 under `/api/v1`: trip the stop (every run cancelled,
 * every actuator runs touched driven OFF, commands and starts refused with 5642), clear it, and
 * read its state. Only operators may POST (the auth hook refuses viewers with 403); the services
 * own every rule, and their errors reach the shared error handler.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Services } from '../services.ts';
import { errorResponses } from './api.schemas.ts';

/** Options of the emergency routes. */
export interface EmergencyRoutesOptions {
  services: Services;
}

/** The body of `POST /emergency-stop`. */
export const EmergencyStopBodySchema = z
  .strictObject({
    reason: z.string().min(1).max(500).optional().describe('Why the installation is being stopped; kept until the stop is cleared'),
  })
  .nullish();

/** The state of the latch as every emergency route answers it. */
export const EmergencyStateSchema = z.object({
  success: z.literal(true),
  active: z.boolean().describe('True while actuator commands (except OFF) and starts are refused with 5642'),
  reason: z.string().nullable().describe("Reason of the stop in force, in the operator's own words (the first one, if pressed again: see history); null when none was given"),
  since: z.string().nullable().describe('When the current state began (ISO 8601)'),
  history: z
    .array(z.object({ reason: z.string().nullable(), at: z.string().describe('ISO 8601') }))
    .describe('Every stop pressed since the latch tripped, oldest first, each with its own reason (empty once cleared)'),
});

/** What `POST /emergency-stop` did, besides the state. */
export const EmergencyStopResponseSchema = EmergencyStateSchema.extend({
  runs_cancelled: z.number().int().describe('Runs cancelled by this stop (running, paused and queued)'),
  actuators_off: z.number().int().describe('Actuators the devices confirmed OFF'),
  actuators_failed: z.array(z.string()).describe('`esp_id:gpio: reason` for every OFF that failed; these need a person'),
});

/** Registers `GET /emergency-stop`, `POST /emergency-stop` and `POST /emergency-stop/clear`. */
export async function emergencyRoutes(app: FastifyInstance, { services }: EmergencyRoutesOptions): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['safety'];
  const state = () => {
    const latch = services.safety.latch.state();
    return {
      success: true as const,
      active: latch.active,
      reason: latch.reason,
      since: latch.since === null ? null : new Date(latch.since).toISOString(),
      history: services.safety.latch.history().map((press) => ({ reason: press.reason, at: new Date(press.at).toISOString() })),
    };
  };

  api.get('/emergency-stop', {
    schema: { tags, summary: 'Whether an emergency stop is in force, why and since when', response: { 200: EmergencyStateSchema, ...errorResponses(401) } },
  }, async () => state());

  api.post('/emergency-stop', {
    schema: {
      tags,
      summary: 'Cancel every run, turn OFF every actuator runs touched, refuse commands and starts until cleared',
      body: EmergencyStopBodySchema,
      response: { 200: EmergencyStopResponseSchema, ...errorResponses(401, 403, 422) },
    },
  }, async (request) => {
    // In a hurry, a bare POST must still stop everything; its reason is then null, not made up.
    const result = await services.emergencyStop(request.body?.reason ?? null);
    return { ...state(), ...result };
  });

  api.post('/emergency-stop/clear', {
    schema: { tags, summary: 'Lift the emergency stop: commands and starts are allowed again', response: { 200: EmergencyStateSchema, ...errorResponses(401, 403) } },
  }, async () => {
    await services.clearEmergencyStop();
    return state();
  });
}
