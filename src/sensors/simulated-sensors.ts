/**
 * The small sensor model of SPEC 9.1, shared by the sim driver and the MQTT device emulator: a
 * sensor starts at a value and changes by `follows.rate_per_second` while the actuator it follows
 * is ON (scaled by its PWM duty), by `drift_per_second` otherwise. Values are computed from time
 * when read, never stepped by a timer: each sensor keeps a value, the time of it and its current
 * rate, and a change of the followed actuator settles the value at that moment before the rate
 * changes.
 */
import type { Reading } from '../conditions/evaluate-condition.ts';
import { sensorKey } from './sensor-table.ts';

/** The actuator a simulated sensor follows. */
export interface Follows {
  esp_id: string;
  gpio: number;
  /** Change per second while that actuator is ON (negative: falls). */
  rate_per_second: number;
}

/** What `PUT /sim/sensors/{esp_id}/{gpio}` sets; absent fields keep what they were (`follows: null` removes it). */
export interface SensorSetting {
  value: number;
  unit?: string | null;
  quality?: string;
  drift_per_second?: number;
  follows?: Follows | null;
}

/** A simulated sensor as `GET /sim/sensors` shows it. */
export interface SimulatedSensorView {
  esp_id: string;
  gpio: number;
  value: number;
  unit: string | null;
  quality: string;
  drift_per_second: number;
  follows: Follows | null;
  /** The change per second right now (the followed actuator's rate, or the drift). */
  rate_per_second: number;
}

interface Sensor {
  espId: string;
  gpio: number;
  base: number;
  since: number;
  rate: number;
  unit: string | null;
  quality: string;
  drift: number;
  follows: Follows | null;
}

/** The duty 0..1 an actuator runs at now (0: OFF). */
export type DutyOf = (espId: string, gpio: number) => number;

/** A set of simulated sensors. */
export class SimulatedSensors {
  readonly #sensors = new Map<string, Sensor>();
  /** Sensors by the actuator they follow, so an actuator's change touches only its followers. */
  readonly #followers = new Map<string, Set<Sensor>>();
  readonly #duty: DutyOf;

  /** Sensors that ask `duty` for the state of the actuators they follow. */
  constructor(duty: DutyOf) {
    this.#duty = duty;
  }

  /** Sensors simulated. */
  get size(): number {
    return this.#sensors.size;
  }

  /** Sets a sensor's value and model at `now` (creating it); returns its reading. */
  set(espId: string, gpio: number, setting: SensorSetting, now: number): Reading {
    const key = sensorKey(espId, gpio);
    const old = this.#sensors.get(key);
    if (old) this.#unfollow(old);
    const sensor: Sensor = {
      espId,
      gpio,
      base: setting.value,
      since: now,
      rate: 0,
      unit: setting.unit !== undefined ? setting.unit : (old?.unit ?? null),
      quality: setting.quality ?? old?.quality ?? 'good',
      drift: setting.drift_per_second ?? old?.drift ?? 0,
      follows: setting.follows !== undefined ? setting.follows : (old?.follows ?? null),
    };
    sensor.rate = this.#rateOf(sensor, sensor.follows ? this.#duty(sensor.follows.esp_id, sensor.follows.gpio) : 0);
    this.#sensors.set(key, sensor);
    if (sensor.follows) {
      const followed = sensorKey(sensor.follows.esp_id, sensor.follows.gpio);
      const set = this.#followers.get(followed) ?? new Set();
      set.add(sensor);
      this.#followers.set(followed, set);
    }
    return readingOf(sensor, now);
  }

  /**
   * An actuator changed to `duty` at `now`: its followers keep the value they reached and change
   * at their new rate from here. Returns the readings of the followers whose rate changed.
   */
  actuatorChanged(espId: string, gpio: number, duty: number, now: number): Reading[] {
    const followers = this.#followers.get(sensorKey(espId, gpio));
    if (!followers) return [];
    const changed: Reading[] = [];
    for (const sensor of followers) {
      const rate = this.#rateOf(sensor, duty);
      if (rate === sensor.rate) continue;
      sensor.base = valueAt(sensor, now);
      sensor.since = now;
      sensor.rate = rate;
      changed.push(readingOf(sensor, now));
    }
    return changed;
  }

  /** A sensor's reading at `now`, or undefined when it is not simulated. */
  read(espId: string, gpio: number, now: number): Reading | undefined {
    const sensor = this.#sensors.get(sensorKey(espId, gpio));
    return sensor && readingOf(sensor, now);
  }

  /** Every sensor's reading at `now`. */
  readings(now: number): Reading[] {
    return [...this.#sensors.values()].map((sensor) => readingOf(sensor, now));
  }

  /** Every sensor with its model at `now`, sorted by node and pin. */
  list(now: number): SimulatedSensorView[] {
    return [...this.#sensors.values()]
      .sort((a, b) => a.espId.localeCompare(b.espId) || a.gpio - b.gpio)
      .map((sensor) => ({
        esp_id: sensor.espId,
        gpio: sensor.gpio,
        value: valueAt(sensor, now),
        unit: sensor.unit,
        quality: sensor.quality,
        drift_per_second: sensor.drift,
        follows: sensor.follows,
        rate_per_second: sensor.rate,
      }));
  }

  #rateOf(sensor: Sensor, duty: number): number {
    return sensor.follows && duty > 0 ? sensor.follows.rate_per_second * duty : sensor.drift;
  }

  #unfollow(sensor: Sensor): void {
    if (!sensor.follows) return;
    const key = sensorKey(sensor.follows.esp_id, sensor.follows.gpio);
    const set = this.#followers.get(key);
    set?.delete(sensor);
    if (set?.size === 0) this.#followers.delete(key);
  }
}

/** The value a sensor has reached at `now`, rounded to 0.001 so readings stay readable. */
function valueAt(sensor: Sensor, now: number): number {
  return Math.round((sensor.base + (sensor.rate * (now - sensor.since)) / 1000) * 1000) / 1000;
}

function readingOf(sensor: Sensor, now: number): Reading {
  return { esp_id: sensor.espId, gpio: sensor.gpio, value: valueAt(sensor, now), unit: sensor.unit, quality: sensor.quality, at: now };
}
