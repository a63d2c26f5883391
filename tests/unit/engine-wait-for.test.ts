/**
 * `wait_for` and `when` through the engine (SPEC 2.1) on fake timers: the sensor table feeds the
 * runs waiting on a sensor, the host answers the machine's questions, and the run's one timer
 * handles timeouts and readings that age out.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Progress } from '../../src/domain/progress.ts';
import { SensorTable } from '../../src/sensors/sensor-table.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import { actuatorStep, definition } from '../helpers/definition.builder.ts';
import { engineHarness, type EngineHarness, type HarnessOptions } from '../helpers/engine.harness.ts';

let sensors: SensorTable;
let h: EngineHarness;

function setUp(options: HarnessOptions = {}): EngineHarness {
  sensors = new SensorTable();
  h = engineHarness({ latencyMs: 0, sensors, ...options });
  return h;
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(Date.UTC(2026, 11, 3, 12, 0, 0));
  setUp();
});

afterEach(async () => {
  await h.engine.close();
  vi.useRealTimers();
});

/** A reading of ESP_1:`gpio` taken now (or `ageMs` ago). */
function read(value: number, gpio = 34, extra: { ageMs?: number; quality?: string; esp?: string } = {}): void {
  sensors.update({ esp_id: extra.esp ?? 'ESP_1', gpio, value, unit: '%', quality: extra.quality ?? 'good', at: Date.now() - (extra.ageMs ?? 0) });
}

const moisture = { esp_id: 'ESP_1', gpio: 34 };
const valveOff = actuatorStep({ name: 'Valve OFF', action: { type: 'actuator_command', esp_id: 'ESP_1', gpio: 5, command: 'OFF' } });
const waitFor = (condition: unknown, extra: Record<string, unknown> = {}) => ({ name: 'Until moist', wait_for: { condition, timeout_seconds: 60, ...extra } });

async function progress(runId: string): Promise<Progress> {
  return (await h.engine.get(runId)) as Progress;
}

describe('wait_for', () => {
  it.each([
    ['above', { above: 40 }, 40, 41],
    ['below', { below: 20 }, 20, 19.5],
    ['at_least', { at_least: 40 }, 39.9, 40],
    ['at_most', { at_most: 20 }, 20.1, 20],
    ['equals', { equals: 1 }, 0, 1],
    ['between', { between: [20, 30] }, 31, 25],
  ])('%s: waits while the reading does not satisfy it and goes on with the first that does', async (_, comparison, miss, hit) => {
    const { run_id } = h.engine.start(definition([waitFor({ sensor: moisture, ...comparison }), valveOff]));
    await vi.advanceTimersByTimeAsync(10);
    read(miss);
    await vi.advanceTimersByTimeAsync(1000);
    expect((await progress(run_id)).state).toBe('running.waiting');
    read(hit);
    await vi.advanceTimersByTimeAsync(10);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed' });
    const [waited] = (await progress(run_id)).step_results;
    expect(waited).toMatchObject({ success: true, skipped: false, message: `ESP_1:34 = ${hit} % at 12:00:01` });
  });

  it.each([
    ['all', (a: unknown, b: unknown) => ({ all: [a, b] }), [41, 30], [41, 10]],
    ['any', (a: unknown, b: unknown) => ({ any: [a, b] }), [30, 30], [30, 10]],
    ['not', (a: unknown) => ({ not: a }), [41, 0], [39, 0]],
  ] as const)('%s combines its parts', async (_, combine, miss, hit) => {
    const a = { sensor: moisture, above: 40 };
    const b = { sensor: { esp_id: 'ESP_1', gpio: 35 }, below: 20 };
    const { run_id } = h.engine.start(definition([waitFor(combine(a, b)), valveOff]));
    await vi.advanceTimersByTimeAsync(10);
    read(miss[0]);
    read(miss[1], 35);
    await vi.advanceTimersByTimeAsync(10);
    expect((await progress(run_id)).state).toBe('running.waiting');
    read(hit[0]);
    read(hit[1], 35);
    await vi.advanceTimersByTimeAsync(10);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed' });
  });

  it('a reading already there when the wait begins satisfies it at once', async () => {
    read(45);
    const { run_id } = h.engine.start(definition([waitFor({ sensor: moisture, above: 40 }), valveOff]));
    await vi.advanceTimersByTimeAsync(10);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed' });
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:waiting', '0:completed', '1:starting', '1:completed']);
  });

  it.each([
    ['older than max_age_seconds', { ageMs: 121_000 }],
    ['of quality bad', { quality: 'bad' }],
    ['of quality stale', { quality: 'stale' }],
  ])('an unknown reading (%s) never satisfies it: the wait times out with 5621', async (_, extra) => {
    const { run_id } = h.engine.start(definition([waitFor({ sensor: moisture, above: 40 }), valveOff]));
    await vi.advanceTimersByTimeAsync(10);
    read(90, 34, extra);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'failed', error_code: 5621 });
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:waiting', '0:failed']);
    expect((await progress(run_id)).step_results[0]).toMatchObject({ success: false, error_code: 5621 });
  });

  it('for_seconds: the condition must hold that long; a reading that dips starts it over', async () => {
    const { run_id } = h.engine.start(definition([waitFor({ sensor: moisture, above: 40 }, { for_seconds: 30 }), valveOff]));
    read(41);
    await vi.advanceTimersByTimeAsync(20_000);
    read(39);
    await vi.advanceTimersByTimeAsync(5_000);
    read(42);
    await vi.advanceTimersByTimeAsync(29_000);
    expect((await progress(run_id)).state).toBe('running.waiting');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed' });
    expect((await progress(run_id)).step_results[0]?.message).toBe('ESP_1:34 = 42 % at 12:00:25 (held 30 s)');
  });

  it('for_seconds: readings that age out before it held long enough start it over, on the run\'s own timer', async () => {
    const { run_id } = h.engine.start(definition([waitFor({ sensor: moisture, above: 40, max_age_seconds: 10 }, { for_seconds: 30 }), valveOff]));
    read(41);
    await vi.advanceTimersByTimeAsync(10_000);
    // No reading since: the one it held on is unknown now, so 30 s of holding can only count from a new one.
    read(45);
    await vi.advanceTimersByTimeAsync(25_000);
    expect((await progress(run_id)).state).toBe('running.waiting');
    await vi.advanceTimersByTimeAsync(25_000);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'failed', error_code: 5621 });
  });

  it('timeout with on_timeout continue: the step fails with 5621 and the run goes on to close the valve', async () => {
    const { run_id } = h.engine.start(definition([waitFor({ sensor: moisture, above: 40 }, { on_timeout: 'continue' }), valveOff]));
    await vi.advanceTimersByTimeAsync(60_010);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed', steps_failed: 1 });
    const [waited, closed] = (await progress(run_id)).step_results;
    expect(waited).toMatchObject({ success: false, error_code: 5621, message: 'Wait timed out after 60 s: ESP_1:34 above 40 did not hold' });
    expect(closed).toMatchObject({ success: true, step_name: 'Valve OFF' });
  });

  it('a reading wakes only the runs waiting on its sensor', async () => {
    const a = h.engine.start(definition([waitFor({ sensor: moisture, above: 40 })], { sequence_id: 'a' }));
    const b = h.engine.start(definition([waitFor({ sensor: { esp_id: 'ESP_2', gpio: 34 }, above: 40 })], { sequence_id: 'b' }));
    await vi.advanceTimersByTimeAsync(10);
    const seenB = h.events.of(b.run_id).length;
    read(20);
    read(50);
    read(10, 34, { esp: 'ESP_2' });
    await vi.advanceTimersByTimeAsync(10);
    expect(h.events.completed(a.run_id)).toMatchObject({ status: 'completed' });
    // A reading that changes nothing for a run is neither an event nor a journal record.
    expect(h.events.of(b.run_id)).toHaveLength(seenB);
  });

  it('paused, a reading does not move the run; resumed, the wait goes on with the time it had left and is satisfied at once', async () => {
    const { run_id } = h.engine.start(definition([waitFor({ sensor: moisture, above: 40 }), valveOff]));
    await vi.advanceTimersByTimeAsync(20_000);
    await h.engine.pause(run_id);
    read(50);
    await vi.advanceTimersByTimeAsync(100_000);
    expect((await progress(run_id)).status).toBe('paused');
    await h.engine.resume(run_id);
    await vi.advanceTimersByTimeAsync(10);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed' });
  });

  it('paused, its timeout stops; resumed, it runs out after the time it had left', async () => {
    const { run_id } = h.engine.start(definition([waitFor({ sensor: moisture, above: 40 }), valveOff]));
    await vi.advanceTimersByTimeAsync(20_000);
    await h.engine.pause(run_id);
    await vi.advanceTimersByTimeAsync(100_000);
    await h.engine.resume(run_id);
    await vi.advanceTimersByTimeAsync(39_990);
    expect((await progress(run_id)).state).toBe('running.waiting');
    await vi.advanceTimersByTimeAsync(20);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'failed', error_code: 5621 });
  });

  it('cancelled while waiting: the wait is recorded failed with 5612 and later readings change nothing', async () => {
    const { run_id } = h.engine.start(definition([waitFor({ sensor: moisture, above: 40 }), valveOff]));
    await vi.advanceTimersByTimeAsync(10);
    await h.engine.cancel(run_id, 'operator');
    await vi.advanceTimersByTimeAsync(10);
    read(50);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'cancelled' });
    expect((await progress(run_id)).step_results).toEqual([expect.objectContaining({ success: false, error_code: 5612 })]);
  });

  it('max_duration_seconds runs out during a wait: the run ends timeout and the wait is recorded with 5616', async () => {
    await h.engine.close();
    setUp({ latencyMs: 10_000 });
    const valveOn = actuatorStep({ name: 'Valve ON' });
    const { run_id } = h.engine.start(definition([valveOn, waitFor({ sensor: moisture, above: 40 }, { timeout_seconds: 15 })], { max_duration_seconds: 20 }));
    await vi.advanceTimersByTimeAsync(20_010);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'timeout' });
    expect((await progress(run_id)).step_results[1]).toMatchObject({ success: false, error_code: 5616 });
  });
});

describe('when', () => {
  const when = { sensor: { esp_id: 'ESP_1', gpio: 35 }, below: 30 };
  const valveOn = actuatorStep({ name: 'Valve ON', when });

  it('true: the step runs', async () => {
    read(20, 35);
    const { run_id } = h.engine.start(definition([valveOn]));
    await vi.advanceTimersByTimeAsync(10);
    expect(h.driver.actuator('ESP_1', 5)).toMatchObject({ on: true });
    expect((await progress(run_id)).step_results[0]).toMatchObject({ success: true, skipped: false });
  });

  it.each([
    ['false', () => read(35, 35), 'skipped: ESP_1:35 = 35 % at 12:00:00, not below 30'],
    ['unknown', () => {}, 'skipped: ESP_1:35 has no reading'],
  ])('%s: the step is skipped (a success, recorded and announced as skipped) and nothing is sent', async (_, setReading, message) => {
    setReading();
    const { run_id } = h.engine.start(definition([valveOn, valveOff]));
    await vi.advanceTimersByTimeAsync(10);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed', steps_completed: 2 });
    expect(h.events.steps(run_id)).toEqual(['0:skipped', '1:starting', '1:completed']);
    const skipped = h.events.ofType('sequence_step', run_id)[0]?.data;
    expect(skipped).toMatchObject({ status: 'skipped', success: true, message, progress_percent: 50 });
    const p = await progress(run_id);
    expect(p.step_results[0]).toMatchObject({ success: true, skipped: true, message });
    expect(p.progress_percent).toBe(100);
    expect(h.driver.actuator('ESP_1', 5)).toMatchObject({ on: false });
  });
});

describe('a waiting run after a restart', () => {
  it('is recovered from its journal into its wait, keeps its deadline, and goes on with a reading that arrives', async () => {
    const store = openSqliteStore(':memory:');
    await h.engine.close();
    setUp({ store });
    const { run_id } = h.engine.start(definition([waitFor({ sensor: moisture, above: 40 }, { timeout_seconds: 600 }), valveOff]));
    await vi.advanceTimersByTimeAsync(10);
    read(20);
    await vi.advanceTimersByTimeAsync(100_000);
    await h.engine.close();

    // A new process: a new sensor table, empty until readings arrive.
    setUp({ store });
    expect(await h.engine.recover('resume')).toMatchObject({ resumed: 1 });
    expect((await progress(run_id)).state).toBe('running.waiting');
    expect(await h.engine.snapshot(run_id)).toMatchObject({ context: { deadline: Date.UTC(2026, 11, 3, 12, 0, 0) + 600_000 } });
    await vi.advanceTimersByTimeAsync(1000);
    read(45);
    await vi.advanceTimersByTimeAsync(10);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed' });
    await h.engine.close();
    await store.close();
  });

  it('is recovered from its compact snapshot, with the signals it kept', async () => {
    const store = openSqliteStore(':memory:');
    await h.engine.close();
    setUp({ store });
    const condition = { all: [{ signal: 'tank_full' }, { sensor: moisture, above: 40 }] };
    const { run_id } = h.engine.start(definition([waitFor(condition, { timeout_seconds: 600 }), valveOff]));
    await vi.advanceTimersByTimeAsync(10);
    // One journal record per turn: past 16 of them the journal keeps a compact snapshot instead.
    for (let i = 0; i < 20; i++) {
      await h.engine.signal(run_id, i === 0 ? 'tank_full' : `noise-${i}`);
      await vi.advanceTimersByTimeAsync(10);
    }
    const [stored] = await store.unfinishedRuns();
    expect((stored?.records as object[]).some((record) => 'snapshot' in record)).toBe(true);
    await h.engine.close();

    setUp({ store });
    await h.engine.recover('resume');
    expect(((await h.engine.snapshot(run_id)) as { context: { signals: string[] } }).context.signals).toHaveLength(20);
    read(45);
    await vi.advanceTimersByTimeAsync(10);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed' });
    await h.engine.close();
    await store.close();
  });

  it('whose timeout passed while the server was down times out at once with 5621', async () => {
    const store = openSqliteStore(':memory:');
    await h.engine.close();
    setUp({ store });
    const { run_id } = h.engine.start(definition([waitFor({ sensor: moisture, above: 40 }, { timeout_seconds: 60, on_timeout: 'continue' }), valveOff]));
    await vi.advanceTimersByTimeAsync(10);
    await h.engine.close();
    vi.setSystemTime(Date.now() + 120_000);
    setUp({ store });
    await h.engine.recover('resume');
    await vi.advanceTimersByTimeAsync(10);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed', steps_failed: 1 });
    expect((await progress(run_id)).step_results[0]).toMatchObject({ error_code: 5621 });
    await h.engine.close();
    await store.close();
  });
});
