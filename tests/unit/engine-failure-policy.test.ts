import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { SequencerError } from '../../src/domain/errors.ts';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { engineHarness, type HarnessOptions } from '../helpers/engine.harness.ts';

const customAction = (type: string) => z.object({ type: z.literal(type) }).loose();

describe('engine: failure policy', () => {
  let h: ReturnType<typeof engineHarness>;
  const setup = (options: HarnessOptions = {}) => {
    h = engineHarness(options);
    h.driver.configure('ESP_BAD', { fail: true });
    return h;
  };
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(async () => {
    await h.engine.close();
    vi.useRealTimers();
  });

  it('a failing step with abort ends the run failed and skips the rest', async () => {
    setup();
    const { run_id } = h.engine.start(definition([actuatorStep({ on_failure: 'abort' }, 'ESP_BAD'), actuatorStep()]));
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:failed']);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'failed', success: false, steps_completed: 0, steps_failed: 1, error_code: 5614 });
    expect((await h.engine.get(run_id))?.error).toContain('simulated failure');
    expect(h.driver.actuator('ESP_1', 5)).toBeUndefined();
  });

  it('a failing step with continue records the failure and runs the next step', async () => {
    setup();
    const { run_id } = h.engine.start(definition([actuatorStep({ on_failure: 'continue' }, 'ESP_BAD'), actuatorStep()]));
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:failed', '1:starting', '1:completed']);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed', success: true, steps_completed: 1, steps_failed: 1 });
    expect(h.driver.actuator('ESP_1', 5)?.on).toBe(true);
  });

  it("the step's own continue wins over abort_on_failure true", async () => {
    setup();
    const { run_id } = h.engine.start(
      definition([actuatorStep({ on_failure: 'continue' }, 'ESP_BAD'), actuatorStep()], { abort_on_failure: true }),
    );
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.events.completed(run_id)?.status).toBe('completed');
  });

  it("the step's own abort wins over abort_on_failure false", async () => {
    setup();
    const { run_id } = h.engine.start(definition([actuatorStep({ on_failure: 'abort' }, 'ESP_BAD'), actuatorStep()], { abort_on_failure: false }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.events.completed(run_id)?.status).toBe('failed');
  });

  it('a step without on_failure follows abort_on_failure', async () => {
    setup();
    const goesOn = h.engine.start(definition([actuatorStep({}, 'ESP_BAD'), actuatorStep()], { abort_on_failure: false }));
    const stops = h.engine.start(definition([actuatorStep({}, 'ESP_BAD'), actuatorStep()]));
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.events.completed(goesOn.run_id)?.status).toBe('completed');
    expect(h.events.completed(stops.run_id)?.status).toBe('failed');
  });

  it('on_failure retry retries 3 times by default with pauses of 1, 2 and 4 s, then follows abort_on_failure', async () => {
    setup();
    const start = Date.now();
    const sentAt: number[] = [];
    const send = h.driver.send.bind(h.driver);
    vi.spyOn(h.driver, 'send').mockImplementation((command, options) => {
      sentAt.push(Date.now() - start);
      return send(command, options);
    });
    const { run_id } = h.engine.start(definition([actuatorStep({ on_failure: 'retry', retry_backoff: true }, 'ESP_BAD'), actuatorStep()]));
    await vi.advanceTimersByTimeAsync(20_000);
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:retrying', '0:retrying', '0:retrying', '0:failed']);
    // Each attempt is answered after the sim's 20 ms.
    expect(sentAt).toEqual([0, 1020, 3040, 7060]);
    expect((await h.engine.get(run_id))?.step_results[0]).toMatchObject({ retries: 3, success: false, error_code: 5614 });
    expect(h.events.completed(run_id)?.status).toBe('failed');
  });

  it('on_failure retry with abort_on_failure false goes on after its retries', async () => {
    setup();
    const { run_id } = h.engine.start(
      definition([actuatorStep({ on_failure: 'retry', retry_count: 1, retry_delay_seconds: 0 }, 'ESP_BAD'), actuatorStep()], { abort_on_failure: false }),
    );
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:retrying', '0:failed', '1:starting', '1:completed']);
    expect(h.events.completed(run_id)?.status).toBe('completed');
  });

  it('a retry_count above 0 retries whatever on_failure says', async () => {
    setup();
    const { run_id } = h.engine.start(definition([actuatorStep({ on_failure: 'continue', retry_count: 2, retry_delay_seconds: 0.5 }, 'ESP_BAD')]));
    await vi.advanceTimersByTimeAsync(1019);
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:retrying', '0:retrying']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:retrying', '0:retrying', '0:failed']);
    expect(h.events.completed(run_id)?.status).toBe('completed');
  });

  it('a retry that succeeds completes the step', async () => {
    setup();
    const { run_id } = h.engine.start(definition([actuatorStep({ retry_count: 2, retry_delay_seconds: 1 }, 'ESP_FLAKY')]));
    h.driver.configure('ESP_FLAKY', { fail: true });
    await vi.advanceTimersByTimeAsync(500);
    h.driver.configure('ESP_FLAKY', { fail: false });
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:retrying', '0:completed']);
    expect((await h.engine.get(run_id))?.step_results[0]).toMatchObject({ success: true, retries: 1 });
  });

  it('an executor that throws fails its step with 5614 and the engine keeps working', async () => {
    setup({
      executors: (registry) =>
        registry.register({
          type: 'explode',
          schema: customAction('explode'),
          execute: () => {
            throw new Error('kaboom');
          },
        }),
    });
    const bad = h.engine.start(definition([{ action: { type: 'explode' } }]));
    await vi.advanceTimersByTimeAsync(10);
    expect(await h.engine.get(bad.run_id)).toMatchObject({ status: 'failed', error_code: 5614 });
    expect((await h.engine.get(bad.run_id))?.step_results[0]).toMatchObject({ message: 'kaboom', error_code: 5614 });
    const good = h.engine.start(definition([actuatorStep()]));
    await vi.advanceTimersByTimeAsync(100);
    expect((await h.engine.get(good.run_id))?.status).toBe('completed');
  });

  it('an executor that rejects with something that is not an Error fails its step with 5614', async () => {
    setup({
      executors: (registry) =>
        registry.register({ type: 'reject', schema: customAction('reject'), execute: () => Promise.reject('plain string') }),
    });
    const { run_id } = h.engine.start(definition([{ action: { type: 'reject' } }]));
    await vi.advanceTimersByTimeAsync(10);
    expect((await h.engine.get(run_id))?.step_results[0]).toMatchObject({ message: 'plain string', error_code: 5614 });
    expect(h.engine.runningCount).toBe(0);
  });

  it('an executor that rejects with a SequencerError fails its step with that code', async () => {
    setup({
      executors: (registry) =>
        registry.register({
          type: 'locked',
          schema: customAction('locked'),
          execute: async () => {
            throw new SequencerError(5640, 'held by another run');
          },
        }),
    });
    const { run_id } = h.engine.start(definition([{ action: { type: 'locked' } }]));
    await vi.advanceTimersByTimeAsync(10);
    expect(await h.engine.get(run_id)).toMatchObject({ error_code: 5640, step_results: [expect.objectContaining({ error_code: 5640 })] });
  });

  it('an action type with no executor at run time fails its step with 5617', async () => {
    setup({ executors: (registry) => registry.register({ type: 'schema_only', schema: customAction('schema_only') }) });
    const { run_id } = h.engine.start(definition([{ action: { type: 'schema_only' } }]));
    await vi.advanceTimersByTimeAsync(10);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'failed', error_code: 5617 });
  });

  it('a failed run runs its cleanup steps and reports them apart from the steps', async () => {
    setup();
    const { run_id } = h.engine.start(
      definition([actuatorStep({}, 'ESP_BAD'), delayStep(1)], { cleanup_steps: [actuatorStep({ name: 'Valve off', action: { type: 'actuator', esp_id: 'ESP_1', gpio: 5, command: 'OFF' } })] }),
    );
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.events.steps(run_id, 'cleanup')).toEqual(['0:starting', '0:completed', '1:starting', '1:completed']);
    expect((await h.engine.get(run_id))?.cleanup_results.map((r) => r.step_name)).toEqual(['Valve off', 'Safe state']);
    expect(h.driver.actuator('ESP_1', 5)).toMatchObject({ on: false, last_command: 'OFF' });
    const types = h.events.types(run_id);
    expect(types.indexOf('sequence_error')).toBeLessThan(types.indexOf('sequence_completed'));
    expect(types[types.length - 1]).toBe('sequence_completed');
  });
});
