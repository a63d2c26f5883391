/**
 * The definition files of docs/examples are what the server accepts, and the closed-loop ones do
 * what docs/examples/README.md says, on the sim driver with simulated sensors and fake timers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Progress } from '../../src/domain/progress.ts';
import { SimDriver } from '../../src/drivers/sim.driver.ts';
import { Engine } from '../../src/engine/engine.ts';
import { builtinExecutors } from '../../src/executors/builtin-executors.ts';
import { SensorTable } from '../../src/sensors/sensor-table.ts';
import { EventRecorder } from '../helpers/event.recorder.ts';

const dir = join(import.meta.dirname, '..', '..', 'docs', 'examples');
const read = (file: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;
const definitions = readdirSync(dir).filter((file) => file.endsWith('.json') && !file.endsWith('.template.json'));

let sensors: SensorTable;
let sim: SimDriver;
let engine: Engine;
let events: EventRecorder;

beforeEach(() => {
  vi.useFakeTimers();
  sensors = new SensorTable();
  sim = new SimDriver(0, { onReading: (reading) => sensors.update(reading), readingIntervalMs: 1000 });
  engine = new Engine({ executors: builtinExecutors(sim), sensors });
  events = new EventRecorder(engine.events);
});

afterEach(async () => {
  await engine.close();
  await sim.close();
  vi.useRealTimers();
});

describe('docs/examples', () => {
  it.each(definitions)('%s is a valid definition', (file) => {
    expect(engine.validate(read(file))).toMatchObject({ ok: true });
  });

  it('irrigate-until-moist: opens the valve while the soil is dry, closes it once it has read above 40 % for 10 s', async () => {
    sim.setSensor('ESP_12AB34CD', 34, { value: 30, unit: '%', follows: { esp_id: 'ESP_12AB34CD', gpio: 5, rate_per_second: 0.5 } });
    const { run_id } = engine.start(read('irrigate-until-moist.json'));
    await vi.advanceTimersByTimeAsync(15_000);
    expect(sim.actuator('ESP_12AB34CD', 5)).toMatchObject({ on: true });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(events.completed(run_id)).toMatchObject({ status: 'completed', steps_completed: 3 });
    expect(sim.actuator('ESP_12AB34CD', 5)).toMatchObject({ on: false });
    const progress = (await engine.get(run_id)) as Progress;
    expect(progress.step_results[1]?.message).toMatch(/^ESP_12AB34CD:34 = 4\d(\.\d+)? % at .+ \(held 10 s\)$/);
  });

  it('vent-while-hot: runs the fan round after round until the greenhouse reads below 28 °C', async () => {
    sim.setSensor('ESP_12AB34CD', 36, { value: 31, unit: '°C', follows: { esp_id: 'ESP_12AB34CD', gpio: 6, rate_per_second: -0.03 } });
    const { run_id } = engine.start(read('vent-while-hot.json'));
    await vi.advanceTimersByTimeAsync(300_000);
    expect(events.completed(run_id)).toMatchObject({ status: 'completed' });
    const progress = (await engine.get(run_id)) as Progress;
    expect(progress.step_results[0]?.message).toMatch(/^Until held after 2 iterations: ESP_12AB34CD:36 = 27\.\d+ °C at /);
    expect(sim.actuator('ESP_12AB34CD', 6)).toMatchObject({ on: false });
  });

  it('vent-while-hot: skips venting when it is not hot', async () => {
    sim.setSensor('ESP_12AB34CD', 36, { value: 22, unit: '°C' });
    const { run_id } = engine.start(read('vent-while-hot.json'));
    await vi.advanceTimersByTimeAsync(10);
    expect(events.completed(run_id)).toMatchObject({ status: 'completed' });
    expect(((await engine.get(run_id)) as Progress).step_results[0]).toMatchObject({ skipped: true });
    expect(sim.actuator('ESP_12AB34CD', 6)).toBeUndefined();
  });
});
