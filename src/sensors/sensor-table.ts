/**
 * The latest reading of every sensor (SPEC 9.1), fed by the driver: the MQTT driver's sensor
 * topics, or the simulated sensors. Conditions read it; `GET /sensors` lists it; a listener hears
 * every reading (the engine wakes the runs waiting on that sensor, and only those).
 */
import type { Reading, ReadingLookup } from '../conditions/evaluate-condition.ts';

export type { Reading } from '../conditions/evaluate-condition.ts';

/** Options of the table. */
export interface SensorTableOptions {
  /**
   * Most sensors kept (default 10,000): readings of further new sensors are dropped and counted,
   * so a publisher inventing esp_ids cannot fill the memory.
   */
  maxSensors?: number;
}

/** The key of a sensor in maps: `esp_id:gpio`. */
export function sensorKey(espId: string, gpio: number): string {
  return `${espId}:${gpio}`;
}

/** The latest readings by sensor. */
export class SensorTable implements ReadingLookup {
  readonly #readings = new Map<string, Reading>();
  readonly #listeners = new Set<(reading: Reading) => void>();
  readonly #maxSensors: number;
  #dropped = 0;

  /** An empty table. */
  constructor(options: SensorTableOptions = {}) {
    this.#maxSensors = options.maxSensors ?? 10_000;
  }

  /** Readings dropped because the table was full of other sensors. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Sensors known. */
  get size(): number {
    return this.#readings.size;
  }

  /**
   * Keeps a reading as its sensor's latest and tells every listener. A reading older than the one
   * kept (a late or replayed message) is ignored. False when it was not kept.
   */
  update(reading: Reading): boolean {
    const key = sensorKey(reading.esp_id, reading.gpio);
    const kept = this.#readings.get(key);
    if (kept === undefined && this.#readings.size >= this.#maxSensors) {
      this.#dropped += 1;
      return false;
    }
    if (kept !== undefined && kept.at > reading.at) return false;
    this.#readings.set(key, reading);
    for (const listener of this.#listeners) listener(reading);
    return true;
  }

  /** The latest reading of a sensor. */
  reading(espId: string, gpio: number): Reading | undefined {
    return this.#readings.get(sensorKey(espId, gpio));
  }

  /** Every sensor's latest reading, sorted by node and pin. */
  list(): Reading[] {
    return [...this.#readings.values()].sort((a, b) => a.esp_id.localeCompare(b.esp_id) || a.gpio - b.gpio);
  }

  /** Calls `listener` with every reading kept from now on; returns what removes it. */
  onReading(listener: (reading: Reading) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
