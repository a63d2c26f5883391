/**
 * The `repeat` action (SPEC 2.1) through the engine on fake timers: count, until, the
 * max_iterations limit (5622), and its steps following every rule of SPEC 2 (retries, timeouts,
 * failure policy, nesting limits, cancel).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Progress } from '../../src/domain/progress.ts';
import { SensorTable } from '../../src/sensors/sensor-table.ts';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { engineHarness, recordSends, type EngineHarness } from '../helpers/engine.harness.ts';

let sensors: SensorTable;
let h: EngineHarness;

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(Date.UTC(2026, 11, 3, 12, 0, 0));
  sensors = new SensorTable();
  h = engineHarness({ latencyMs: 0, sensors });
});

afterEach(async () => {
  await h.engine.close();
  vi.useRealTimers();
});

const fan = (command: 'ON' | 'OFF', extra: Record<string, unknown> = {}) =>
  actuatorStep({ name: `Fan ${command}`, action: { type: 'actuator_command', esp_id: 'ESP_1', gpio: 6, command }, ...extra });
const hot = { sensor: { esp_id: 'ESP_1', gpio: 36 }, below: 28 };
const temperature = (value: number) => sensors.update({ esp_id: 'ESP_1', gpio: 36, value, unit: '°C', quality: 'good', at: Date.now() });
const repeat = (fields: Record<string, unknown>, steps: unknown[] = [fan('ON'), delayStep(10), fan('OFF')]) => ({ name: 'Vent', action: { type: 'repeat', steps, ...fields } });

async function progress(runId: string): Promise<Progress> {
  return (await h.engine.get(runId)) as Progress;
}

describe('repeat', () => {
  it('with count runs its steps that many times, then the run goes on', async () => {
    const { sent } = recordSends(h.driver);
    const { run_id } = h.engine.start(definition([repeat({ count: 3 }), fan('OFF', { name: 'After' })]));
    await vi.advanceTimersByTimeAsync(30_100);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed', steps_completed: 2 });
    expect(sent).toHaveLength(7);
    expect((await progress(run_id)).step_results[0]).toMatchObject({ step_name: 'Vent', success: true, message: '3 iterations' });
  });

  it('with until stops after the first iteration after which the condition holds, naming the value', async () => {
    temperature(31);
    const { run_id } = h.engine.start(definition([repeat({ until: hot })]));
    await vi.advanceTimersByTimeAsync(15_000);
    temperature(26);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed' });
    expect((await progress(run_id)).step_results[0]?.message).toBe('Until held after 2 iterations: ESP_1:36 = 26 °C at 12:00:15');
  });

  it('reaching max_iterations before until held fails the step with 5622, and the run follows its policy', async () => {
    temperature(31);
    const { run_id } = h.engine.start(definition([repeat({ until: { ...hot, max_age_seconds: 3600 }, max_iterations: 2 })]));
    await vi.advanceTimersByTimeAsync(20_100);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'failed', error_code: 5622 });
    expect((await progress(run_id)).step_results[0]).toMatchObject({
      success: false,
      error_code: 5622,
      message: 'Reached max_iterations (2) before until held: ESP_1:36 = 31 °C at 12:00:00, not below 28',
    });
  });

  it('an unknown condition never ends it (no reading at all): 5622 too', async () => {
    const { run_id } = h.engine.start(definition([repeat({ until: hot, max_iterations: 1 })]));
    await vi.advanceTimersByTimeAsync(10_100);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'failed', error_code: 5622 });
  });

  it('its steps retry as their step says, and a step that fails for good fails the iteration with its code', async () => {
    h.driver.configure('ESP_1', { fail: true });
    const { sent } = recordSends(h.driver);
    const { run_id } = h.engine.start(definition([repeat({ count: 2 }, [fan('ON', { retry_count: 1, retry_delay_seconds: 1 })])]));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(sent).toHaveLength(2);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'failed', error_code: 5614 });
    expect((await progress(run_id)).step_results[0]?.message).toMatch(/^Iteration 1 failed: Nested sequence failed: Step 'Fan ON' failed: /);
  });

  it("its steps without on_failure follow the enclosing sequence's abort_on_failure", async () => {
    h.driver.configure('ESP_1', { fail: true });
    const { run_id } = h.engine.start(definition([repeat({ count: 2 }, [fan('ON'), delayStep(1)])], { abort_on_failure: false }));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed' });
    expect((await progress(run_id)).step_results[0]).toMatchObject({ success: true, message: '2 iterations' });
  });

  it('a step of it that hangs times out with 5615 after its own timeout', async () => {
    h.driver.configure('ESP_1', { hang: true });
    const { run_id } = h.engine.start(definition([repeat({ count: 2 }, [fan('ON', { timeout_seconds: 5 })])]));
    await vi.advanceTimersByTimeAsync(5_100);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'failed', error_code: 5615 });
  });

  it('cancelled during an iteration: the iteration is cancelled, no other begins, the step records 5612', async () => {
    const { sent } = recordSends(h.driver);
    const { run_id } = h.engine.start(definition([repeat({ count: 5 })]));
    await vi.advanceTimersByTimeAsync(15_000);
    await h.engine.cancel(run_id, 'too windy');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'cancelled' });
    expect(sent).toHaveLength(3);
    expect((await progress(run_id)).step_results[0]).toMatchObject({ success: false, error_code: 5612 });
  });

  it('paused, its iteration in flight pauses with it and goes on after the resume', async () => {
    const { run_id } = h.engine.start(definition([repeat({ count: 1 })]));
    await vi.advanceTimersByTimeAsync(5_000);
    await h.engine.pause(run_id);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.driver.actuator('ESP_1', 6)).toMatchObject({ on: true });
    await h.engine.resume(run_id);
    await vi.advanceTimersByTimeAsync(5_100);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed' });
    expect(h.driver.actuator('ESP_1', 6)).toMatchObject({ on: false });
  });

  it('a when and a wait_for inside it work as anywhere, with the run\'s signals', async () => {
    const steps = [{ name: 'Only when hot', when: { not: hot }, ...fan('ON') }, { name: 'Until told', wait_for: { condition: { signal: 'cooled' }, timeout_seconds: 60 } }, fan('OFF')];
    temperature(31);
    const { run_id } = h.engine.start(definition([repeat({ until: hot, max_iterations: 3 }, steps)]));
    await vi.advanceTimersByTimeAsync(1000);
    temperature(25);
    await h.engine.signal(run_id, 'cooled');
    await vi.advanceTimersByTimeAsync(100);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed' });
    expect((await progress(run_id)).step_results[0]?.message).toMatch(/^Until held after 1 iteration: /);
  });

  it("declares its steps' waiting once per counted iteration toward max_duration_seconds (5607)", () => {
    const body = [fan('ON'), delayStep(50), fan('OFF')];
    expect(h.engine.validate(definition([repeat({ count: 3 }, body)], { max_duration_seconds: 120 }))).toMatchObject({
      ok: false,
      errors: [{ path: 'max_duration_seconds', code: 5607, message: 'Declared waiting of 150 s exceeds max_duration_seconds (120 s)' }],
    });
    expect(h.engine.validate(definition([repeat({ until: hot }, body)], { max_duration_seconds: 120 }))).toMatchObject({ ok: true });
    expect(h.engine.validate(definition([repeat({ count: 2 }, body)], { max_duration_seconds: 120 }))).toMatchObject({ ok: true });
  });

  it('is refused nested deeper than 3 levels (5618) and its steps are validated at their paths', () => {
    const inner = repeat({ count: 1 }, [repeat({ count: 1 }, [repeat({ count: 1 })])]);
    expect(h.engine.validate(definition([inner]))).toMatchObject({ ok: false, errors: [expect.objectContaining({ code: 5618 })] });
    const bad = h.engine.validate(definition([repeat({ count: 1 }, [{ name: 'x', delay_seconds: 5000 }])]));
    expect(bad).toMatchObject({ ok: false, errors: [expect.objectContaining({ code: 5605, path: 'steps[0].action.steps[0].delay_seconds' })] });
  });
});
