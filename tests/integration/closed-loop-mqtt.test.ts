/**
 * A closed loop over MQTT (SPEC 2.1, 9.1) against a real Mosquitto on a free port: the device
 * emulator plays a node whose soil moisture rises while its valve is ON and publishes it as the
 * firmware does; a run opens the valve, waits for the reading and closes the valve. A malformed
 * sensor payload is counted and changes nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findMosquitto, MOSQUITTO_MISSING, startMosquitto, type MosquittoBroker } from '../helpers/mosquitto.ts';
import { act, type MqttRig, mqttSpy, startMqttRig, until } from './mqtt-harness.ts';

const mosquittoBin = findMosquitto();

describe.skipIf(!mosquittoBin)(`closed loop over mqtt through a real mosquitto${mosquittoBin ? '' : ` (skipped: ${MOSQUITTO_MISSING})`}`, () => {
  let broker: MosquittoBroker;
  let rig: MqttRig;
  let user: MqttRig['user'];

  beforeEach(async () => {
    broker = await startMosquitto(mosquittoBin as string);
    rig = await startMqttRig(broker.url, {
      espIds: ['ESP_M'],
      latencyMs: 1,
      sensorIntervalMs: 200,
      sensors: [{ esp_id: 'ESP_M', gpio: 34, setting: { value: 35, unit: '%', follows: { esp_id: 'ESP_M', gpio: 5, rate_per_second: 10 } } }],
    });
    user = rig.user;
  });

  afterEach(async () => {
    await rig.close();
    await broker.close();
  });

  it('a run waits, the emulated sensor rises while the valve is ON, the run goes on and closes the valve', async () => {
    const progress = await user.run({
      sequence_id: 'zone-m',
      steps: [act('ESP_M', 5, 'ON'), { name: 'Until moist', wait_for: { condition: { sensor: { esp_id: 'ESP_M', gpio: 34 }, above: 40 }, timeout_seconds: 30 } }, act('ESP_M', 5, 'OFF')],
    });
    expect(progress.status).toBe('completed');
    const waited = progress.step_results[1];
    expect(waited?.message).toMatch(/^ESP_M:34 = [\d.]+ % at \d\d:\d\d:\d\d$/);
    expect(Number(/= ([\d.]+) %/.exec(waited?.message ?? '')?.[1])).toBeGreaterThan(40);
    expect(rig.emulator.state()).toEqual([expect.objectContaining({ esp_id: 'ESP_M', gpio: 5, on: false, last_command: 'OFF' })]);
    const sensors = (await user.get('/api/v1/sensors')).body as { sensors: { esp_id: string; gpio: number; value: number }[] };
    expect(sensors.sensors).toEqual([expect.objectContaining({ esp_id: 'ESP_M', gpio: 34, unit: '%', quality: 'good' })]);
  });

  it('a malformed sensor payload is counted and ignored: the table keeps its reading and a waiting run goes on waiting', async () => {
    const runId = await user.start({ sequence_id: 'wait-x', steps: [{ name: 'Until hot', wait_for: { condition: { sensor: { esp_id: 'ESP_X', gpio: 40 }, above: 30 }, timeout_seconds: 60 } }] });
    const spy = await mqttSpy(broker.url, []);
    const topic = 'kaiser/god/esp/ESP_X/sensor/40/data';
    await spy.publish(topic, { ts: Math.floor(Date.now() / 1000), esp_id: 'ESP_X', gpio: 40, value: 20, unit: '°C', quality: 'good' });
    // Only ESP_X's row: the emulated ESP_M publishes a new reading every 200 ms meanwhile.
    const readingOfX = async () => ((await user.get('/api/v1/sensors')).body as { sensors: { esp_id: string }[] }).sensors.find((s) => s.esp_id === 'ESP_X');
    await until(readingOfX);
    const before = await readingOfX();
    const counted = (text: string) => Number(/^sequencer_sensor_payloads_malformed_total (\d+)$/m.exec(text)?.[1] ?? 0);
    const malformedBefore = counted(await user.metrics());

    await spy.publish(topic, 'not json {');
    await spy.publish(topic, { ts: Math.floor(Date.now() / 1000), esp_id: 'ESP_X', gpio: 40, value: 'hot', unit: '°C' });
    await spy.publish('kaiser/god/esp/ESP_X/sensor/batch', { ts: 1, esp_id: 'ESP_X', sensors: 'all of them' });
    await until(async () => (counted(await user.metrics()) >= malformedBefore + 3 ? true : undefined));

    expect(await readingOfX()).toEqual(before);
    const progress = (await user.get(`/api/v1/sequences/${runId}`)).body as { status: string; state: string; step_results: unknown[] };
    expect(progress).toMatchObject({ status: 'running', state: 'running.waiting', step_results: [] });
    expect((await user.get('/health')).status).toBe(200);
    await spy.close();
  });
});
