/**
 * `GET /api/v1/sensors` (SPEC 7): every sensor's latest reading, whatever the driver (MQTT sensor
 * topics, or the simulated sensors).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Reading, SensorTable } from '../sensors/sensor-table.ts';
import { ErrorBodySchema } from './api.schemas.ts';
import { SensorsResponseSchema } from './sensor.schemas.ts';

/** Options of the sensors route. */
export interface SensorsRoutesOptions {
  sensors: SensorTable;
}

/** A reading as the API answers it. */
export function readingView(reading: Reading) {
  return { esp_id: reading.esp_id, gpio: reading.gpio, value: reading.value, unit: reading.unit, quality: reading.quality, at: new Date(reading.at).toISOString() };
}

/** Registers `GET /sensors`. */
export async function sensorsRoutes(app: FastifyInstance, { sensors }: SensorsRoutesOptions): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get('/sensors', {
    schema: {
      tags: ['devices'],
      summary: "Every sensor's latest reading (value, unit, quality, when taken)",
      response: { 200: SensorsResponseSchema, 401: ErrorBodySchema },
    },
  }, async () => ({ success: true as const, sensors: sensors.list().map(readingView) }));
}
