/**
 * The progress object tells the truth (SPEC 5): the step that failed or was in flight stays
 * `current_step` and is `failed_step`; `progress_percent` counts completed steps only;
 * `estimated_completion` adds what is left of the declared waits and, per action left, the mean
 * of the actions the run finished (1 s before the first), never an action's timeout.
 */
import { describe, expect, it, vi } from 'vitest';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { useEngineHarness } from '../helpers/engine.harness.ts';

const secondsAhead = (iso: string | null | undefined): number => (Date.parse(iso as string) - Date.now()) / 1000;

describe('when a run ends early, current_step stays on the step that failed or was in flight', () => {
  const h = useEngineHarness();

  it('a run whose first of two steps fails shows current_step 0, failed_step 0 and 0 %', async () => {
    h.driver.configure('ESP_BAD', { fail: true });
    const { run_id } = h.engine.start(definition([actuatorStep({}, 'ESP_BAD'), actuatorStep()]));
    await vi.advanceTimersByTimeAsync(1000);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'failed', current_step: 0, failed_step: 0, total_steps: 2, progress_percent: 0 });
  });

  it('a run whose only step fails reports 0 %, not 100', async () => {
    h.driver.configure('ESP_BAD', { fail: true });
    const { run_id } = h.engine.start(definition([actuatorStep({}, 'ESP_BAD')]));
    await vi.advanceTimersByTimeAsync(1000);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'failed', current_step: 0, failed_step: 0, progress_percent: 0 });
    expect(h.events.ofType('sequence_step', run_id).find((e) => e.data.status === 'failed')?.data.progress_percent).toBe(0);
  });

  it('a run cancelled during step 3 of 6 shows current_step 2 and failed_step 2', async () => {
    const steps = [actuatorStep(), actuatorStep(), delayStep(60), delayStep(1), delayStep(1), delayStep(1)];
    const { run_id } = h.engine.start(definition(steps));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'running', current_step: 2, failed_step: null });
    await h.engine.cancel(run_id, 'enough');
    await vi.advanceTimersByTimeAsync(100);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'cancelled', current_step: 2, failed_step: 2, total_steps: 6, progress_percent: 33.3 });
  });

  it('a step that times out stays current_step and failed_step', async () => {
    h.driver.configure('ESP_HANG', { hang: true });
    const { run_id } = h.engine.start(definition([actuatorStep(), actuatorStep({ timeout_seconds: 5 }, 'ESP_HANG'), actuatorStep()]));
    await vi.advanceTimersByTimeAsync(6000);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'failed', error_code: 5615, current_step: 1, failed_step: 1, progress_percent: 33.3 });
  });

  it('a run that times out (max_duration_seconds) during step 2 of 3 shows current_step 1 and failed_step 1', async () => {
    h.driver.configure('ESP_HANG', { hang: true });
    const { run_id } = h.engine.start(definition([delayStep(1), actuatorStep({}, 'ESP_HANG'), delayStep(1)], { max_duration_seconds: 10 }));
    await vi.advanceTimersByTimeAsync(11_000);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'timeout', current_step: 1, failed_step: 1, progress_percent: 33.3 });
    expect((await h.engine.get(run_id))?.step_results[1]).toMatchObject({ success: false, error_code: 5616 });
  });

  it('only a completed run shows current_step == total_steps and 100 %', async () => {
    const { run_id } = h.engine.start(definition([actuatorStep(), delayStep(1)]));
    await vi.advanceTimersByTimeAsync(2000);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'completed', current_step: 2, failed_step: null, progress_percent: 100 });
  });
});

describe('estimated_completion', () => {
  const h = useEngineHarness();

  it('of a 2-second sequence is 4 s away at its start (1 s per action before any finished), never its 30 s timeouts', async () => {
    const { run_id } = h.engine.start(definition([actuatorStep(), delayStep(2), actuatorStep({ action: { type: 'actuator_command', esp_id: 'ESP_1', gpio: 5, command: 'OFF' } })]));
    expect(secondsAhead((await h.engine.get(run_id))?.estimated_completion)).toBe(4);
    // The ON took the sim's 20 ms: the OFF left is expected to take as long.
    await vi.advanceTimersByTimeAsync(20);
    expect(await h.engine.get(run_id)).toMatchObject({ state: 'running.delaying' });
    expect(secondsAhead((await h.engine.get(run_id))?.estimated_completion)).toBe(2.02);
    await vi.advanceTimersByTimeAsync(1000);
    expect(secondsAhead((await h.engine.get(run_id))?.estimated_completion)).toBe(1.02);
  });

  it('counts an action in flight as the mean less what it has run, and none for a paused run', async () => {
    h.driver.configure('ESP_SLOW', { latency_ms: 10_000 });
    const { run_id } = h.engine.start(definition([actuatorStep({}, 'ESP_SLOW'), delayStep(5, { delay_before_seconds: 1, delay_after_seconds: 2 })]));
    await vi.advanceTimersByTimeAsync(400);
    expect(secondsAhead((await h.engine.get(run_id))?.estimated_completion)).toBe(0.6 + 1 + 5 + 2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(secondsAhead((await h.engine.get(run_id))?.estimated_completion)).toBe(8);
    expect((await h.engine.pause(run_id)).estimated_completion).toBeNull();
  });
});
