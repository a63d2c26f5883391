/**
 * Sensors (SPEC 9.1) as an operator meets them: the latest reading of each sensor, a simulated
 * sensor that follows its actuator and drifts otherwise (computed from time, no timer of its own),
 * readings from the firmware's data and batch topics, and when a reading counts as taken.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NodeReports, readingTime } from '../../src/drivers/node-reports.ts';
import { SimDriver } from '../../src/drivers/sim.driver.ts';
import type { Reading } from '../../src/sensors/sensor-table.ts';
import { SensorTable } from '../../src/sensors/sensor-table.ts';
import { SimulatedSensors } from '../../src/sensors/simulated-sensors.ts';

afterEach(() => {
  vi.useRealTimers();
});

const reading = (value: number, at: number, more: Partial<Reading> = {}): Reading => ({ esp_id: 'ESP_1', gpio: 34, value, unit: '%', quality: 'good', at, ...more });

describe('the sensor table', () => {
  it('keeps the latest reading per sensor, ignores an older one, and tells its listeners', () => {
    const table = new SensorTable();
    const heard: number[] = [];
    table.onReading((r) => heard.push(r.value));
    expect(table.update(reading(30, 1000))).toBe(true);
    expect(table.update(reading(20, 500))).toBe(false);
    table.update(reading(31, 2000, { gpio: 35 }));
    table.update(reading(1, 1500, { esp_id: 'ESP_0' }));
    expect(table.reading('ESP_1', 34)?.value).toBe(30);
    expect(heard).toEqual([30, 31, 1]);
    expect(table.list().map((r) => `${r.esp_id}:${r.gpio}`)).toEqual(['ESP_0:34', 'ESP_1:34', 'ESP_1:35']);
  });

  it('keeps at most maxSensors sensors and counts the readings it drops', () => {
    const table = new SensorTable({ maxSensors: 2 });
    table.update(reading(1, 1, { gpio: 1 }));
    table.update(reading(1, 1, { gpio: 2 }));
    expect(table.update(reading(1, 1, { gpio: 3 }))).toBe(false);
    expect(table.update(reading(2, 2, { gpio: 2 }))).toBe(true);
    expect([table.size, table.dropped]).toEqual([2, 1]);
  });
});

describe('simulated sensors', () => {
  it('rise at follows.rate_per_second while the actuator is ON (scaled by PWM), drift otherwise', () => {
    const duty = new Map<string, number>();
    const sensors = new SimulatedSensors((esp, gpio) => duty.get(`${esp}:${gpio}`) ?? 0);
    sensors.set('ESP_1', 34, { value: 30, unit: '%', drift_per_second: -0.1, follows: { esp_id: 'ESP_1', gpio: 5, rate_per_second: 0.5 } }, 0);
    expect(sensors.read('ESP_1', 34, 10_000)?.value).toBe(29);
    duty.set('ESP_1:5', 1);
    expect(sensors.actuatorChanged('ESP_1', 5, 1, 10_000)).toEqual([reading(29, 10_000)]);
    expect(sensors.read('ESP_1', 34, 30_000)?.value).toBe(39);
    sensors.actuatorChanged('ESP_1', 5, 0.5, 30_000);
    expect(sensors.read('ESP_1', 34, 40_000)?.value).toBe(41.5);
    expect(sensors.actuatorChanged('ESP_1', 6, 1, 40_000)).toEqual([]);
    sensors.actuatorChanged('ESP_1', 5, 0, 40_000);
    expect(sensors.list(50_000)).toEqual([
      { esp_id: 'ESP_1', gpio: 34, value: 40.5, unit: '%', quality: 'good', drift_per_second: -0.1, follows: { esp_id: 'ESP_1', gpio: 5, rate_per_second: 0.5 }, rate_per_second: -0.1 },
    ]);
  });

  it('keep what a new setting leaves out, and stop following with follows: null', () => {
    const sensors = new SimulatedSensors(() => 1);
    sensors.set('ESP_1', 34, { value: 30, unit: '%', quality: 'fair', follows: { esp_id: 'ESP_1', gpio: 5, rate_per_second: 1 } }, 0);
    sensors.set('ESP_1', 34, { value: 10 }, 0);
    expect(sensors.read('ESP_1', 34, 1000)).toEqual(reading(11, 1000, { quality: 'fair' }));
    sensors.set('ESP_1', 34, { value: 10, follows: null }, 0);
    expect(sensors.actuatorChanged('ESP_1', 5, 0, 0)).toEqual([]);
    expect(sensors.read('ESP_1', 34, 1000)?.value).toBe(10);
  });

  it('in the sim driver, report when set, when their actuator changes, and from one timer for all', async () => {
    vi.useFakeTimers({ now: 0 });
    const heard: Reading[] = [];
    const sim = new SimDriver(0, { onReading: (r) => heard.push(r), readingIntervalMs: 1000 });
    sim.setSensor('ESP_1', 34, { value: 30, unit: '%', follows: { esp_id: 'ESP_1', gpio: 5, rate_per_second: 2 } });
    sim.setSensor('ESP_1', 35, { value: 20 });
    expect(heard.map((r) => r.value)).toEqual([30, 20]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(heard.slice(2).map((r) => `${r.gpio}=${r.value}`)).toEqual(['34=30', '35=20']);
    await sim.send({ esp_id: 'ESP_1', gpio: 5, command: 'ON', value: 1, duration_seconds: 0, correlation_id: 'c' }, { signal: new AbortController().signal, timeoutMs: 1000 });
    expect(heard.slice(4).map((r) => `${r.gpio}=${r.value}`)).toEqual(['34=30']);
    await vi.advanceTimersByTimeAsync(2000);
    expect(sim.sensors()[0]).toMatchObject({ value: 34, rate_per_second: 2 });
    expect(vi.getTimerCount()).toBe(1);
    await sim.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('readings from the firmware topics', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const tracker = { heartbeatIntervalMs: 60_000, missedHeartbeats: 3 };

  function reports() {
    const heard: Reading[] = [];
    const nodeReports = new NodeReports(tracker, { alert: () => {}, presence: () => {}, reading: (r) => heard.push(r) });
    return { heard, handle: (kind: 'sensor_data' | 'sensor_batch', gpio: number | null, payload: unknown) => nodeReports.handle({ kind, espId: 'ESP_1', gpio }, Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), now, false) };
  }

  it('reads value (or raw) of a data payload and every sensor of a batch, at the node\'s ts', () => {
    const { heard, handle } = reports();
    const ts = now / 1000 - 5;
    expect(handle('sensor_data', 34, { ts, esp_id: 'ESP_1', gpio: 34, sensor_type: 'moisture', raw: 2000, value: 41.2, unit: '%', quality: 'good', raw_mode: false })).toBe(true);
    expect(handle('sensor_data', 35, { ts, gpio: 35, raw: 7 })).toBe(true);
    expect(handle('sensor_batch', null, { ts, esp_id: 'ESP_1', sensors: [{ gpio: 36, value: 21, unit: '°C', quality: 'fair' }, { gpio: 39, value: 1 }] })).toBe(true);
    expect(heard).toEqual([
      { esp_id: 'ESP_1', gpio: 34, value: 41.2, unit: '%', quality: 'good', at: now - 5000 },
      { esp_id: 'ESP_1', gpio: 35, value: 7, unit: null, quality: null, at: now - 5000 },
      { esp_id: 'ESP_1', gpio: 36, value: 21, unit: '°C', quality: 'fair', at: now - 5000 },
      { esp_id: 'ESP_1', gpio: 39, value: 1, unit: null, quality: null, at: now - 5000 },
    ]);
  });

  it('refuses malformed payloads without a reading', () => {
    const { heard, handle } = reports();
    for (const bad of ['not json', { gpio: 34 }, { gpio: 34, value: 'wet' }, [1, 2], { sensors: [{ gpio: 1 }] }]) {
      expect(handle('sensor_data', 34, bad) && handle('sensor_batch', null, bad)).toBe(false);
    }
    expect(heard).toEqual([]);
  });

  it('takes the node\'s ts when believable, never later than arrival, else the arrival', () => {
    expect(readingTime(undefined, now)).toBe(now);
    expect(readingTime(now / 1000 - 60, now)).toBe(now - 60_000);
    expect(readingTime(now - 2000, now)).toBe(now - 2000);
    expect(readingTime(now / 1000 + 30, now)).toBe(now);
    expect(readingTime(now / 1000 + 120, now)).toBe(now);
    expect(readingTime(3600, now)).toBe(now);
  });
});
