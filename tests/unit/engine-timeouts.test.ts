import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ActuatorResponse } from '../../src/drivers/actuator-driver.ts';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { engineHarness, recordSends } from '../helpers/engine.harness.ts';

describe('engine: step timeout and max duration', () => {
  let h: ReturnType<typeof engineHarness>;
  let sent: Promise<ActuatorResponse>[];
  beforeEach(() => {
    vi.useFakeTimers();
    h = engineHarness();
    h.driver.configure('ESP_HANG', { hang: true });
    ({ sent } = recordSends(h.driver));
  });
  afterEach(async () => {
    await h.engine.close();
    vi.useRealTimers();
  });

  it('when a step times out it aborts the device call, fails the step with 5615 and aborts the run', async () => {
    const { run_id } = h.engine.start(definition([actuatorStep({ timeout_seconds: 2 }, 'ESP_HANG'), actuatorStep()]));
    await vi.advanceTimersByTimeAsync(1999);
    expect((await h.engine.get(run_id))?.status).toBe('running');
    await vi.advanceTimersByTimeAsync(1);
    await expect(sent[0]).rejects.toMatchObject({ code: 5612 });
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'failed', error_code: 5615 });
    expect((await h.engine.get(run_id))?.step_results[0]).toMatchObject({ error_code: 5615, duration_ms: 2000, success: false });
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:failed']);
  });

  it('a step without timeout_seconds gets 30 s per attempt', async () => {
    const { run_id } = h.engine.start(definition([actuatorStep({}, 'ESP_HANG')]));
    await vi.advanceTimersByTimeAsync(29_999);
    expect((await h.engine.get(run_id))?.status).toBe('running');
    await vi.advanceTimersByTimeAsync(1);
    expect((await h.engine.get(run_id))?.error_code).toBe(5615);
  });

  it('when max_duration_seconds runs out the step in flight fails with 5616 and the run ends timeout with 5613', async () => {
    const { run_id } = h.engine.start(
      definition([delayStep(2), actuatorStep({ timeout_seconds: 60 }, 'ESP_HANG'), actuatorStep()], { max_duration_seconds: 3 }),
    );
    await vi.advanceTimersByTimeAsync(2999);
    expect((await h.engine.get(run_id))?.status).toBe('running');
    await vi.advanceTimersByTimeAsync(1);
    await expect(sent[0]).rejects.toMatchObject({ code: 5612 });
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'timeout', error_code: 5613 });
    expect((await h.engine.get(run_id))?.step_results.map((r) => [r.success, r.error_code])).toEqual([
      [true, null],
      [false, 5616],
    ]);
    expect(h.events.ofType('sequence_error', run_id).map((e) => e.data.error_code)).toEqual([5613]);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'timeout', success: false, error_code: 5613, duration_seconds: 3 });
    expect(h.events.steps(run_id, 'cleanup')).toEqual(['0:starting', '0:completed']);
  });

  it('max duration counts pauses: a run paused past its limit ends timeout', async () => {
    const { run_id } = h.engine.start(definition([delayStep(2), delayStep(2)], { max_duration_seconds: 5 }));
    await vi.advanceTimersByTimeAsync(1000);
    await h.engine.pause(run_id);
    await vi.advanceTimersByTimeAsync(3999);
    expect((await h.engine.get(run_id))?.status).toBe('paused');
    await vi.advanceTimersByTimeAsync(1);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'timeout', error_code: 5613 });
    expect((await h.engine.get(run_id))?.step_results[0]).toMatchObject({ error_code: 5616 });
  });

  it('the server maximum caps a definition max_duration_seconds', async () => {
    await h.engine.close();
    h = engineHarness({ limits: { maxDurationSeconds: 2 } });
    const { run_id } = h.engine.start(definition([delayStep(1), actuatorStep({ timeout_seconds: 60 }, 'ESP_SLOW')], { max_duration_seconds: 600 }));
    h.driver.configure('ESP_SLOW', { hang: true });
    await vi.advanceTimersByTimeAsync(2000);
    expect((await h.engine.get(run_id))?.status).toBe('timeout');
  });
});
