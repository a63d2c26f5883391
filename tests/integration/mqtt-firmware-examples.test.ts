/**
 * The example payloads of AutomationOne's firmware protocol document (Auto-one-Family/Automation-One,
 * `El Trabajante/docs/Mqtt_Protocoll.md`), published as the document prints them onto a real
 * Mosquitto, and what the server understood from each. Where the document gives a schema with
 * `//` comments rather than an example (heartbeat, sensor batch), the comments are removed and
 * the values kept.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActuatorResponse } from '../../src/drivers/actuator-driver.ts';
import type { EventEnvelope, SequenceEvents } from '../../src/events/event-types.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { findMosquitto, MOSQUITTO_MISSING, startMosquitto, type MosquittoBroker } from '../helpers/mosquitto.ts';
import { mqttConfig, mqttSpy, until } from './mqtt-harness.ts';

const ESP = 'kaiser/god/esp/ESP_12AB34CD';

/** Section 6, "Payload-Beispiel (Success)". */
const RESPONSE_SUCCESS = `{
  "ts": 1735818000,
  "gpio": 5,
  "command": "ON",
  "value": 1.0,
  "duration": 0,
  "success": true,
  "message": "Command executed"
}`;

/** Section 6, "Payload-Beispiel (Failure - Emergency-Stop)". */
const RESPONSE_FAILURE = `{
  "ts": 1735818000,
  "gpio": 5,
  "command": "ON",
  "value": 1.0,
  "duration": 0,
  "success": false,
  "message": "Actuator GPIO 5 is emergency stopped"
}`;

/** Section 5, "Payload-Beispiel (Pump)". */
const STATUS_PUMP = `{
  "ts": 1735818000,
  "gpio": 5,
  "type": "pump",
  "state": true,
  "pwm": 0,
  "runtime_ms": 3600000,
  "emergency": "normal"
}`;

/** Section 5, "Payload-Beispiel (PWM Actuator)". */
const STATUS_PWM = `{
  "ts": 1735818000,
  "gpio": 12,
  "type": "pwm",
  "state": true,
  "pwm": 128,
  "runtime_ms": 0,
  "emergency": "normal"
}`;

/** Section 7, "Payload-Beispiel (Emergency-Stop)". */
const ALERT_EMERGENCY = `{
  "ts": 1735818000,
  "gpio": 5,
  "type": "emergency_stop",
  "message": "Actuator stopped"
}`;

/** Section 7, "Payload-Beispiel (Config-Fehler - System-wide)". */
const ALERT_SYSTEM_WIDE = `{
  "ts": 1735818000,
  "gpio": 255,
  "type": "config_invalid",
  "message": "Payload missing 'actuators'"
}`;

/** Section 3, "Payload-Schema (Current Implementation)", comments removed. */
const HEARTBEAT = `{
  "esp_id": "ESP_12AB34CD",
  "zone_id": "greenhouse",
  "master_zone_id": "greenhouse-master",
  "zone_assigned": true,
  "ts": 1735818000,
  "uptime": 3600,
  "heap_free": 245760,
  "wifi_rssi": -65,
  "sensor_count": 3,
  "actuator_count": 2,
  "gpio_status": [
    {
      "gpio": 4,
      "owner": "sensor",
      "component": "DS18B20",
      "mode": 1,
      "safe": false
    }
  ],
  "gpio_reserved_count": 4
}`;

/** Section 10, "Payload-Schema". */
const SAFE_MODE = `{
  "ts": 1735818000,
  "esp_id": "ESP_12AB34CD",
  "safe_mode_active": true,
  "reason": "Emergency stop triggered"
}`;

/** Section 1, "Payload-Beispiel". */
const SENSOR_DATA = `{
  "ts": 1735818000,
  "esp_id": "ESP_12AB34CD",
  "gpio": 4,
  "sensor_type": "DS18B20",
  "raw": 2150,
  "value": 21.5,
  "unit": "°C",
  "quality": "good",
  "subzone_id": "zone_a",
  "sensor_name": "Boden Temp",
  "library_name": "dallas_temp",
  "library_version": "1.0.0",
  "raw_mode": false
}`;

/** Section 2, "Payload-Schema", comments removed. */
const SENSOR_BATCH = `{
  "ts": 1735818000,
  "esp_id": "ESP_12AB34CD",
  "sensors": [
    {
      "gpio": 4,
      "sensor_type": "DS18B20",
      "value": 21.5,
      "unit": "°C",
      "quality": "good"
    },
    {
      "gpio": 34,
      "sensor_type": "pH",
      "value": 7.2,
      "unit": "pH",
      "quality": "excellent"
    }
  ]
}`;

const mosquittoBin = findMosquitto();
describe.skipIf(!mosquittoBin)(`the firmware document's example payloads${mosquittoBin ? '' : ` (skipped: ${MOSQUITTO_MISSING})`}`, () => {
  let broker: MosquittoBroker;
  let server: RunningServer;
  let spy: Awaited<ReturnType<typeof mqttSpy>>;
  const alerts: SequenceEvents['device_alert'][] = [];

  beforeEach(async () => {
    alerts.length = 0;
    broker = await startMosquitto(mosquittoBin as string);
    server = await startServer(mqttConfig({ mqttUrl: broker.url }));
    server.services.engine.events.subscribe((event) => {
      if (event.type === 'device_alert') alerts.push((event as EventEnvelope<'device_alert'>).data);
    });
    spy = await mqttSpy(broker.url, [`${ESP}/actuator/+/command`]);
  });

  afterEach(async () => {
    await spy.close();
    await server.close();
    await broker.close();
  });

  const node = () => server.services.devices.nodes().find((n) => n.esp_id === 'ESP_12AB34CD');

  /** Sends ON to ESP_12AB34CD gpio 5 and answers it with `response`, as the firmware would. */
  async function answered(response: string): Promise<ActuatorResponse | undefined> {
    const command = { esp_id: 'ESP_12AB34CD', gpio: 5, command: 'ON' as const, value: 1, duration_seconds: 0, correlation_id: crypto.randomUUID() };
    const sent = server.services.mqtt?.send(command, { signal: new AbortController().signal, timeoutMs: 10_000 });
    await spy.next(`${ESP}/actuator/5/command`, (p) => p.correlation_id === command.correlation_id);
    await spy.publish(`${ESP}/actuator/5/response`, response);
    return sent;
  }

  it('pairs both command responses, without a correlation_id, with the ON waiting on gpio 5', async () => {
    expect(await answered(RESPONSE_SUCCESS)).toEqual({ success: true, message: 'Command executed' });
    expect(await answered(RESPONSE_FAILURE)).toEqual({ success: false, message: 'Actuator GPIO 5 is emergency stopped' });
    expect(server.services.mqtt?.unmatchedResponses).toBe(0);
  });

  it('keeps the actuator status of a pump and of a PWM actuator', async () => {
    await spy.publish(`${ESP}/actuator/5/status`, STATUS_PUMP);
    await spy.publish(`${ESP}/actuator/12/status`, STATUS_PWM);
    const actuators = await until(() => (node()?.actuators.length === 2 ? node()?.actuators : undefined));
    expect(actuators).toEqual([
      { gpio: 5, state: 'ON', value: 1, last_command: null, emergency: 'normal', updated_at: expect.any(Number) },
      { gpio: 12, state: 'ON', value: 128 / 255, last_command: null, emergency: 'normal', updated_at: expect.any(Number) },
    ]);
  });

  it('turns an actuator alert and a system-wide one into device alerts', async () => {
    await spy.publish(`${ESP}/actuator/5/alert`, ALERT_EMERGENCY);
    await spy.publish(`${ESP}/actuator/255/alert`, ALERT_SYSTEM_WIDE);
    await until(() => (alerts.length === 2 ? true : undefined));
    expect(alerts).toEqual([
      { esp_id: 'ESP_12AB34CD', gpio: 5, type: 'emergency_stop', message: 'ESP_12AB34CD gpio 5: emergency_stop: Actuator stopped' },
      { esp_id: 'ESP_12AB34CD', gpio: null, type: 'config_invalid', message: "ESP_12AB34CD: config_invalid: Payload missing 'actuators'" },
    ]);
  });

  it('counts a heartbeat as the node being online, and keeps its safe mode and reason', async () => {
    await spy.publish(`${ESP}/system/heartbeat`, HEARTBEAT);
    await until(() => (node()?.presence === 'online' ? true : undefined));
    await spy.publish(`${ESP}/safe_mode`, SAFE_MODE);
    await until(() => (node()?.safe_mode ? true : undefined));
    expect(node()).toMatchObject({ presence: 'online', last_seen_at: expect.any(Number), safe_mode: true, safe_mode_reason: 'Emergency stop triggered' });
    expect(alerts).toEqual([
      { esp_id: 'ESP_12AB34CD', gpio: null, type: 'safe_mode', message: 'ESP_12AB34CD entered safe mode: Emergency stop triggered' },
    ]);
  });

  it('parses sensor data and a sensor batch without error, as signs of life', async () => {
    await spy.publish(`${ESP}/sensor/4/data`, SENSOR_DATA);
    await spy.publish(`${ESP}/sensor/batch`, SENSOR_BATCH);
    await spy.publish(`${ESP}/sensor/4/data`, '{"gpio": 4, "unit": "°C"}');
    await until(() => (server.services.mqtt?.malformedReports === 1 ? true : undefined));
    expect(node()).toMatchObject({ presence: 'unknown', last_seen_at: expect.any(Number), actuators: [] });
    expect(server.services.mqtt?.malformedResponses).toBe(0);
  });
});
