/**
 * The simulated-device routes of SPEC 9 under `/api/v1`: see every simulated node and its
 * actuators, and make a node slow, failing or hanging; set simulated sensors and their model
 * (SPEC 9.1). Registered only with the sim driver.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { SimDriver } from '../drivers/sim.driver.ts';
import { EspParamsSchema, errorResponses, SimBehaviourSchema, SimDeviceSchema } from './api.schemas.ts';
import { SensorParamsSchema, SimSensorBodySchema, SimSensorSchema } from './sensor.schemas.ts';

/** Options of the sim routes. */
export interface SimRoutesOptions {
  sim: SimDriver;
}

/** Registers `GET /sim/devices`, `PUT /sim/devices/:esp_id`, `GET /sim/sensors` and `PUT /sim/sensors/:esp_id/:gpio`. */
export async function simRoutes(app: FastifyInstance, { sim }: SimRoutesOptions): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['sim'];

  api.get('/sim/devices', {
    schema: {
      tags,
      summary: 'Every simulated node with its actuators (on/off, value) and behaviour',
      response: { 200: z.object({ success: z.literal(true), devices: z.array(SimDeviceSchema) }) },
    },
  }, async () => ({ success: true as const, devices: sim.devices() }));

  api.put('/sim/devices/:esp_id', {
    schema: {
      tags,
      summary: "Change a simulated node's behaviour (created if new)",
      params: EspParamsSchema,
      body: SimBehaviourSchema,
      response: { 200: z.object({ success: z.literal(true), device: SimDeviceSchema }), ...errorResponses(422) },
    },
  }, async (request) => {
    const change = Object.fromEntries(Object.entries(request.body).filter(([, value]) => value !== undefined));
    return { success: true as const, device: sim.configure(request.params.esp_id, change) };
  });

  api.get('/sim/sensors', {
    schema: {
      tags,
      summary: 'Every simulated sensor with its value now and its model (follows, drift)',
      response: { 200: z.object({ success: z.literal(true), sensors: z.array(SimSensorSchema) }) },
    },
  }, async () => ({ success: true as const, sensors: sim.sensors() }));

  api.put('/sim/sensors/:esp_id/:gpio', {
    schema: {
      tags,
      summary: "Set a simulated sensor's reading and model (created if new); the reading goes out at once",
      params: SensorParamsSchema,
      body: SimSensorBodySchema,
      response: { 200: z.object({ success: z.literal(true), sensor: SimSensorSchema }), ...errorResponses(422) },
    },
  }, async (request) => ({ success: true as const, sensor: sim.setSensor(request.params.esp_id, request.params.gpio, request.body) }));
}
