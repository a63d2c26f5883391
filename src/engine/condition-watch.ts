/**
 * The runs waiting on each sensor (SPEC 2.1): a reading wakes the runs whose wait reads that
 * sensor, found in O(1) by the sensor's key, never by a scan of every run. A run is in the index
 * exactly while its statechart is in `running.waiting` (the state's entry and exit effects).
 */
import { sensorsOf, type Condition } from '../conditions/condition.schema.ts';
import { sensorKey } from '../sensors/sensor-table.ts';
import type { Run } from './run.ts';

/** The index of waiting runs by sensor. */
export class ConditionWatch {
  readonly #bySensor = new Map<string, Set<Run>>();
  /** The sensors each watching run is indexed under. */
  readonly #keysOf = new Map<Run, string[]>();

  /** Runs waiting now. */
  get size(): number {
    return this.#keysOf.size;
  }

  /** Indexes `run` under every sensor `condition` reads (a signal-only condition reads none). */
  watch(run: Run, condition: Condition): void {
    this.unwatch(run);
    const keys = sensorsOf(condition).map((sensor) => sensorKey(sensor.esp_id, sensor.gpio));
    this.#keysOf.set(run, keys);
    for (const key of keys) {
      let runs = this.#bySensor.get(key);
      if (!runs) this.#bySensor.set(key, (runs = new Set()));
      runs.add(run);
    }
  }

  /** Takes `run` out of the index. */
  unwatch(run: Run): void {
    const keys = this.#keysOf.get(run);
    if (!keys) return;
    this.#keysOf.delete(run);
    for (const key of keys) {
      const runs = this.#bySensor.get(key);
      runs?.delete(run);
      if (runs?.size === 0) this.#bySensor.delete(key);
    }
  }

  /** The runs waiting on a sensor (a copy: waking one may change the index). */
  runsOn(espId: string, gpio: number): Run[] {
    const runs = this.#bySensor.get(sensorKey(espId, gpio));
    return runs ? [...runs] : [];
  }
}
