/**
 * zod schemas of the sensor routes (SPEC 7 `GET /sensors`, SPEC 9.1 `/sim/sensors`): requests and
 * responses, which also document them at `/docs`.
 */
import { z } from 'zod';

/** One sensor's latest reading (SPEC 7). */
export const SensorReadingSchema = z.object({
  esp_id: z.string(),
  gpio: z.number().int(),
  value: z.number(),
  unit: z.string().nullable(),
  quality: z.string().nullable().describe('As the node said it (good, fair, poor, bad, stale); bad and stale make conditions unknown'),
  at: z.string().describe('ISO 8601: when it was taken (the node\'s ts when believable, else its arrival); staleness counts from here'),
});

/** Answer of `GET /sensors`. */
export const SensorsResponseSchema = z.object({ success: z.literal(true), sensors: z.array(SensorReadingSchema) });

/** Path parameters of one simulated sensor. */
export const SensorParamsSchema = z.object({
  esp_id: z.string().min(1).max(64).regex(/^[^/+#]+$/, "an esp_id is one topic level: no '/', '+' or '#'"),
  gpio: z.coerce.number().int().min(0).max(255),
});

/** The actuator a simulated sensor follows. */
const FollowsSchema = z.strictObject({
  esp_id: z.string().min(1).max(64),
  gpio: z.number().int().min(0).max(39),
  rate_per_second: z.number().describe('Change per second while that actuator is ON (scaled by its PWM duty); negative falls'),
});

/** Body of `PUT /sim/sensors/{esp_id}/{gpio}` (SPEC 9.1). Absent fields keep their value; `follows: null` removes it. */
export const SimSensorBodySchema = z
  .strictObject({
    value: z.number().describe('The reading from now'),
    unit: z.string().max(16).nullable().optional(),
    quality: z.string().min(1).max(16).optional().describe('Default good; bad or stale make conditions unknown'),
    drift_per_second: z.number().optional().describe('Change per second while the followed actuator is OFF (or always, without follows); default 0'),
    follows: FollowsSchema.nullable().optional(),
  })
  .meta({ examples: [{ value: 35, unit: '%', follows: { esp_id: 'ESP_12AB34CD', gpio: 5, rate_per_second: 0.5 }, drift_per_second: -0.01 }] });

/** A simulated sensor with its model. */
export const SimSensorSchema = z.object({
  esp_id: z.string(),
  gpio: z.number().int(),
  value: z.number().describe('Its value now'),
  unit: z.string().nullable(),
  quality: z.string(),
  drift_per_second: z.number(),
  follows: FollowsSchema.nullable(),
  rate_per_second: z.number().describe('How fast it changes right now'),
});
