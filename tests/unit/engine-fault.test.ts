import { describe, expect, it, vi } from 'vitest';
import { Codes } from '../../src/domain/errors.ts';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { useEngineHarness } from '../helpers/engine.harness.ts';

describe('engine: a device fault', () => {
  const h = useEngineHarness({ latencyMs: 1 });

  it('fails the step in flight with the code and message given, and ends the run failed after its cleanup', async () => {
    const { run_id } = h.engine.start(definition([actuatorStep(), delayStep(600), actuatorStep({ on_failure: 'continue' })], { cleanup_steps: [delayStep(1)] }));
    await vi.advanceTimersByTimeAsync(100);

    expect(h.engine.fault(run_id, Codes.STEP_FAILED, 'Device alert: ESP_1 gpio 5: fault: relay welded')).toBe(true);
    await vi.advanceTimersByTimeAsync(2000);

    const progress = (await h.engine.get(run_id));
    expect(progress).toMatchObject({ status: 'failed', error_code: Codes.STEP_FAILED, error: 'Device alert: ESP_1 gpio 5: fault: relay welded' });
    expect(progress?.step_results.map((r) => [r.step_name, r.success, r.error_code, r.message])).toEqual([
      ['Switch ESP_1', true, null, 'ESP_1 gpio 5 ON ok'],
      ['Wait 600 s', false, Codes.STEP_FAILED, 'Device alert: ESP_1 gpio 5: fault: relay welded'],
    ]);
    expect(progress?.cleanup_results.map((r) => r.step_name)).toEqual(['Wait 1 s', 'Safe state']);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'failed', error_code: Codes.STEP_FAILED });
  });

  it('fails a paused run too', async () => {
    const { run_id } = h.engine.start(definition([delayStep(600)]));
    await vi.advanceTimersByTimeAsync(10);
    await h.engine.pause(run_id);
    expect(h.engine.fault(run_id, Codes.STEP_FAILED, 'Device alert: ESP_1 entered safe mode')).toBe(true);
    await vi.advanceTimersByTimeAsync(10);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'failed', error: 'Device alert: ESP_1 entered safe mode' });
  });

  it('changes nothing for an unknown run, a run already ending or ended, or a queued run', async () => {
    expect(h.engine.fault('run-nothing', Codes.STEP_FAILED, 'x')).toBe(false);
    const { run_id } = h.engine.start(definition([delayStep(600)], { sequence_id: 'q', mode: 'queued', cleanup_steps: [delayStep(5)] }));
    const queued = h.engine.start(definition([delayStep(1)], { sequence_id: 'q', mode: 'queued' }));
    await vi.advanceTimersByTimeAsync(10);
    expect(h.engine.fault(queued.run_id, Codes.STEP_FAILED, 'x')).toBe(false);
    await h.engine.cancel(run_id);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.engine.fault(run_id, Codes.STEP_FAILED, 'x')).toBe(false);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'cancelled', error_code: Codes.CANCELLED });
    expect(h.engine.fault(run_id, Codes.STEP_FAILED, 'x')).toBe(false);
  });
});
