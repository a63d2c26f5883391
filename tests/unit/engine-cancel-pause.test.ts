import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ActuatorResponse } from '../../src/drivers/actuator-driver.ts';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { engineHarness, recordSends, useEngineHarness } from '../helpers/engine.harness.ts';

describe('engine: cancel', () => {
  let h: ReturnType<typeof engineHarness>;
  let sent: Promise<ActuatorResponse>[];
  let signals: AbortSignal[];
  beforeEach(() => {
    vi.useFakeTimers();
    h = engineHarness();
    h.driver.configure('ESP_HANG', { hang: true });
    ({ sent, signals } = recordSends(h.driver));
  });
  afterEach(async () => {
    await h.engine.close();
    vi.useRealTimers();
  });

  it('cancel reaches the action in flight: the device call is aborted, the step fails with 5612, the run is cancelled', async () => {
    const { run_id } = h.engine.start(definition([actuatorStep({}, 'ESP_HANG'), actuatorStep()]));
    await vi.advanceTimersByTimeAsync(500);
    expect(signals[0]?.aborted).toBe(false);
    expect(await h.engine.cancel(run_id, 'operator stop')).toEqual({ success: true, message: `Run ${run_id} cancelled`, reason: 'operator stop' });
    expect(signals[0]?.aborted).toBe(true);
    await expect(sent[0]).rejects.toMatchObject({ code: 5612 });
    await vi.advanceTimersByTimeAsync(100);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'cancelled', error_code: 5612, error: 'Cancelled: operator stop' });
    expect((await h.engine.get(run_id))?.step_results[0]).toMatchObject({ success: false, error_code: 5612, duration_ms: 500 });
    expect(h.events.ofType('sequence_cancelled', run_id).map((e) => e.data.reason)).toEqual(['operator stop']);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'cancelled', success: false, error_code: 5612 });
    expect(h.driver.actuator('ESP_1', 5)).toBeUndefined();
  });

  it('cancel by sequence_id cancels its newest run, and a delay in progress ends at once', async () => {
    const { run_id } = h.engine.start(definition([delayStep(60)], { sequence_id: 'mist' }));
    await h.engine.cancel('mist');
    await vi.advanceTimersByTimeAsync(0);
    expect((await h.engine.get(run_id))?.status).toBe('cancelled');
    expect((await h.engine.get('mist'))?.run_id).toBe(run_id);
  });

  it('cancel without a reason says it was the operator', async () => {
    const { run_id } = h.engine.start(definition([delayStep(60)]));
    expect((await h.engine.cancel(run_id)).reason).toBe('Cancelled by operator');
  });

  it('cancel of an unknown id fails with 5611 and 404', async () => {
    await expect(h.engine.cancel('nothing')).rejects.toThrow(expect.objectContaining({ code: 5611, httpStatus: 404 }));
    expect(await h.engine.get('nothing')).toBeUndefined();
  });

  it('cancel of a run that has ended fails with 5619 and 409', async () => {
    const { run_id } = h.engine.start(definition([actuatorStep()]));
    await vi.advanceTimersByTimeAsync(100);
    await expect(h.engine.cancel(run_id)).rejects.toThrow(expect.objectContaining({ code: 5619, httpStatus: 409 }));
  });

  it('cancel while the run makes its actuators safe fails with 409 and the cleanup goes on', async () => {
    const { run_id } = h.engine.start(
      definition([actuatorStep({}, 'ESP_HANG')], { cleanup_steps: [actuatorStep({ name: 'Slow off' }, 'ESP_SLOW')] }),
    );
    h.driver.configure('ESP_SLOW', { latency_ms: 1000 });
    await h.engine.cancel(run_id);
    await vi.advanceTimersByTimeAsync(10);
    expect((await h.engine.get(run_id))?.state).toBe('cleanup.executing');
    await expect(h.engine.cancel(run_id)).rejects.toThrow(expect.objectContaining({ httpStatus: 409 }));
    await vi.advanceTimersByTimeAsync(1000);
    expect((await h.engine.get(run_id))?.status).toBe('cancelled');
    expect((await h.engine.get(run_id))?.cleanup_results.map((r) => r.success)).toEqual([true, true]);
  });
});

describe('engine: pause and resume', () => {
  const h = useEngineHarness();

  it('a paused delay keeps its remaining time: 10 s paused at 4 s ends 6 s after resume', async () => {
    const { run_id } = h.engine.start(definition([delayStep(10), actuatorStep()]));
    await vi.advanceTimersByTimeAsync(4000);
    expect(await h.engine.pause(run_id)).toMatchObject({ status: 'paused', estimated_completion: null });
    await vi.advanceTimersByTimeAsync(60_000);
    expect((await h.engine.get(run_id))?.status).toBe('paused');
    expect(h.events.steps(run_id)).toEqual(['0:starting']);
    expect((await h.engine.resume(run_id)).status).toBe('running');
    await vi.advanceTimersByTimeAsync(5999);
    expect(h.events.steps(run_id)).toEqual(['0:starting']);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:completed', '1:starting']);
    expect((await h.engine.get(run_id))?.step_results[0]?.duration_ms).toBe(70_000);
    const types = h.events.types(run_id);
    expect(types.indexOf('sequence_paused')).toBeLessThan(types.indexOf('sequence_resumed'));
  });

  it('an answer that arrives while paused is applied on resume', async () => {
    const { run_id } = h.engine.start(definition([actuatorStep(), actuatorStep({}, 'ESP_2')]));
    await h.engine.pause(run_id);
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.driver.actuator('ESP_1', 5)?.on).toBe(true);
    expect(h.events.steps(run_id)).toEqual(['0:starting']);
    await h.engine.resume(run_id);
    await vi.advanceTimersByTimeAsync(100);
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:completed', '1:starting', '1:completed']);
    expect((await h.engine.get(run_id))?.status).toBe('completed');
  });

  it('pause of a run that is not running and resume of a run that is not paused fail with 409', async () => {
    const { run_id } = h.engine.start(definition([delayStep(10)]));
    await expect(h.engine.resume(run_id)).rejects.toThrow(expect.objectContaining({ httpStatus: 409 }));
    await h.engine.pause(run_id);
    await expect(h.engine.pause(run_id)).rejects.toThrow(expect.objectContaining({ httpStatus: 409 }));
    await expect(h.engine.pause('unknown')).rejects.toThrow(expect.objectContaining({ code: 5611, httpStatus: 404 }));
  });

  it('a paused run can be cancelled', async () => {
    const { run_id } = h.engine.start(definition([delayStep(10)]));
    await h.engine.pause(run_id);
    await h.engine.cancel(run_id, 'no longer needed');
    await vi.advanceTimersByTimeAsync(0);
    expect((await h.engine.get(run_id))?.status).toBe('cancelled');
  });
});
