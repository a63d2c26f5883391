/**
 * The payloads AutomationOne's ESP32 firmware publishes, as its protocol document
 * (`El Trabajante/docs/Mqtt_Protocoll.md`) gives them, as zod schemas: the one description the
 * MQTT driver parses with and docs/mqtt.md tabulates. Extra fields are allowed, because newer
 * firmware adds some (`esp_id`, `seq`, `zone_id`, `issued_by`); a payload that is not JSON or
 * lacks what the document calls required parses to null and is counted, never a crash.
 */
import { z } from 'zod';

const gpio = z.number().int().min(0).max(255);

/**
 * Actuator-Command-Response (`.../actuator/{gpio}/response`): `{ts, gpio, command, value,
 * duration, success, message}`. The firmware of the document sends no `correlation_id`; our
 * emulator's default mode and newer firmware echo the one they were sent. Without an id, the
 * `command` it answers is what matches it to a waiting command.
 */
export const ResponsePayloadSchema = z
  .looseObject({
    ts: z.number().optional(),
    gpio: gpio.optional(),
    command: z.string().min(1).optional(),
    value: z.number().optional(),
    duration: z.number().optional(),
    success: z.boolean(),
    message: z.string().optional(),
    correlation_id: z.string().min(1).optional(),
  })
  .refine((p) => p.correlation_id !== undefined || p.command !== undefined, {
    message: 'an answer needs the correlation_id or the command it answers',
  });

/** A parsed command response. */
export type ResponsePayload = z.infer<typeof ResponsePayloadSchema>;

/**
 * Actuator-Status (`.../actuator/{gpio}/status`), published after every change: `state` as a
 * boolean (or `"on"`/`"off"`), `pwm` 0..255 (or `value`; 0 for binary actuators), `runtime_ms`,
 * `emergency` (`normal`, `active`, `clearing`, `resuming`).
 */
export const StatusPayloadSchema = z.looseObject({
  ts: z.number().optional(),
  gpio: gpio.optional(),
  type: z.string().optional(),
  actuator_type: z.string().optional(),
  state: z.union([z.boolean(), z.string().toLowerCase().pipe(z.enum(['on', 'off']))]),
  pwm: z.number().min(0).max(255).optional(),
  value: z.number().min(0).max(255).optional(),
  runtime_ms: z.number().optional(),
  emergency: z.string().optional(),
});

/** A parsed actuator status. */
export type StatusPayload = z.infer<typeof StatusPayloadSchema>;

/** Whether a status says the actuator is on. */
export function statusIsOn(status: StatusPayload): boolean {
  return status.state === true || status.state === 'on';
}

/** The duty 0..1 a status reports: the PWM value for a PWM actuator, 1 for a binary one that is on. */
export function statusValue(status: StatusPayload): number {
  if (!statusIsOn(status)) return 0;
  const pwm = status.pwm ?? status.value ?? 0;
  return pwm > 0 ? pwm / 255 : 1;
}

/**
 * Actuator-Alert (`.../actuator/{gpio}/alert`): `{ts, gpio, type, message}`; `gpio` 255 is the
 * whole node. Newer firmware names the type `alert_type`; either is read.
 */
export const AlertPayloadSchema = z
  .looseObject({
    ts: z.number().optional(),
    gpio,
    type: z.string().min(1).optional(),
    alert_type: z.string().min(1).optional(),
    message: z.string().optional(),
  })
  .refine((p) => p.type !== undefined || p.alert_type !== undefined, { message: 'an alert needs a type' });

/** A parsed actuator alert. */
export type AlertPayload = z.infer<typeof AlertPayloadSchema>;

/** The gpio of an alert about the whole node rather than one actuator. */
export const NODE_WIDE_GPIO = 255;

/** Safe-Mode-Status (`kaiser/{k}/esp/{esp}/safe_mode`): `{ts, esp_id, safe_mode_active, reason}`. */
export const SafeModePayloadSchema = z.looseObject({
  ts: z.number().optional(),
  esp_id: z.string().optional(),
  safe_mode_active: z.boolean(),
  reason: z.string().optional(),
});

/** A parsed safe-mode report. */
export type SafeModePayload = z.infer<typeof SafeModePayloadSchema>;

/**
 * Heartbeat (`.../system/heartbeat`, QoS 0, every 60 s): `{esp_id, ts, uptime, heap_free,
 * wifi_rssi, ...}`. Only its arrival matters to presence, so every field is optional.
 */
export const HeartbeatPayloadSchema = z.looseObject({
  esp_id: z.string().optional(),
  ts: z.number().optional(),
  uptime: z.number().optional(),
  heap_free: z.number().optional(),
  free_heap: z.number().optional(),
  wifi_rssi: z.number().optional(),
});

/**
 * System status (`kaiser/{k}/esp/{esp}/status`): the node's state every few minutes, or its last
 * will `{status: "offline", reason: "connection_lost"}` that the broker publishes when it drops.
 */
export const NodeStatusPayloadSchema = z.looseObject({
  status: z.string().optional(),
  system_state: z.string().optional(),
  reason: z.string().optional(),
});

/** Sensor data (`.../sensor/{gpio}/data`): `value`, or `raw` / `raw_value` when it has none. */
export const SensorDataPayloadSchema = z
  .looseObject({
    ts: z.number().optional(),
    timestamp: z.number().optional(),
    esp_id: z.string().optional(),
    gpio,
    sensor_type: z.string().optional(),
    raw: z.number().optional(),
    raw_value: z.number().optional(),
    value: z.number().optional(),
    unit: z.string().optional(),
    quality: z.string().optional(),
    raw_mode: z.boolean().optional(),
  })
  .refine((p) => p.value !== undefined || p.raw !== undefined || p.raw_value !== undefined, { message: 'a reading needs value or raw' });

/** Sensor batch (`.../sensor/batch`): `{ts, esp_id, sensors: [{gpio, value, unit, quality}]}`. */
export const SensorBatchPayloadSchema = z.looseObject({
  ts: z.number().optional(),
  esp_id: z.string().optional(),
  sensors: z.array(z.looseObject({ gpio, value: z.number(), unit: z.string().optional(), quality: z.string().optional() })),
});

/** Parses a JSON payload with `schema`; null when it is not JSON or does not match. */
export function parsePayload<T>(schema: z.ZodType<T>, payload: Buffer): T | null {
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  const parsed = schema.safeParse(body);
  return parsed.success ? parsed.data : null;
}
