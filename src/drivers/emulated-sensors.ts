/**
 * The sensors of the device emulator (SPEC 9.1): the simulated sensors' model, published as the
 * firmware publishes readings, on `kaiser/{kaiser_id}/esp/{esp_id}/sensor/{gpio}/data`. It does no
 * I/O: each method returns the messages to publish, and the emulator sends them.
 */
import type { Reading } from '../conditions/evaluate-condition.ts';
import { SimulatedSensors, type DutyOf, type SensorSetting } from '../sensors/simulated-sensors.ts';
import type { NodeMessage } from './emulated-node.ts';

/** One sensor the emulator plays, with its starting value and model. */
export interface EmulatedSensorSpec {
  esp_id: string;
  gpio: number;
  setting: SensorSetting;
}

/** The emulator's sensors and the messages that report them. */
export class EmulatedSensors {
  readonly #kaiserId: string;
  readonly #model: SimulatedSensors;

  /** Sensors whose followed actuators' duty `duty` tells. */
  constructor(kaiserId: string, duty: DutyOf) {
    this.#kaiserId = kaiserId;
    this.#model = new SimulatedSensors(duty);
  }

  /** Sensors played. */
  get size(): number {
    return this.#model.size;
  }

  /** Sets a sensor (creating it); returns the reading to publish at once. */
  set(spec: EmulatedSensorSpec, now: number): NodeMessage {
    return this.#message(this.#model.set(spec.esp_id, spec.gpio, spec.setting, now));
  }

  /** Every sensor's reading now (the periodic report). */
  report(now: number): NodeMessage[] {
    return this.#model.readings(now).map((reading) => this.#message(reading));
  }

  /** An actuator's status changed: the readings of the sensors whose rate changed with it, published at once. */
  actuatorChanged(espId: string, gpio: number, duty: number, now: number): NodeMessage[] {
    return this.#model.actuatorChanged(espId, gpio, duty, now).map((reading) => this.#message(reading));
  }

  /** A sensor's current reading. */
  read(espId: string, gpio: number, now: number): Reading | undefined {
    return this.#model.read(espId, gpio, now);
  }

  /** The firmware's sensor data payload (`ts` in Unix seconds; `raw` as the value, not in raw mode). */
  #message(reading: Reading): NodeMessage {
    const payload = {
      ts: Math.floor(reading.at / 1000),
      esp_id: reading.esp_id,
      gpio: reading.gpio,
      sensor_type: 'emulated',
      raw: reading.value,
      value: reading.value,
      unit: reading.unit ?? '',
      quality: reading.quality ?? 'good',
      raw_mode: false,
    };
    return { topic: `kaiser/${this.#kaiserId}/esp/${reading.esp_id}/sensor/${reading.gpio}/data`, payload, qos: 1 };
  }
}
