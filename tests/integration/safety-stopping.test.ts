/**
 * A run that ends badly is `stopping` (ISA-88's "aborting") while its cleanup steps and safe state
 * run, and reaches its terminal status only once the safe state is done (SPEC 5, 10).
 */
import { describe, expect, it, vi } from 'vitest';
import { actuator, drive, useSafetyHarness, wait } from './safety-harness.ts';

const h = useSafetyHarness();

describe('a run that ends badly', () => {
  it('is stopping, ending_as cancelled, while its safe state runs, and cancelled only once the valve is OFF', async () => {
    const runId = h.start({ steps: [actuator('ESP_SLOW', 5, 'ON'), wait(60)] });
    await drive(h.stepDone(runId, 0));
    h.sim.configure('ESP_SLOW', { latency_ms: 500 });

    await h.services.engine.cancel(runId, 'rain expected');
    await vi.advanceTimersByTimeAsync(100);
    expect(await h.services.engine.get(runId)).toMatchObject({ status: 'stopping', ending_as: 'cancelled', state: 'cleanup.executing', completed_at: null });
    expect(h.sim.actuator('ESP_SLOW', 5)?.on).toBe(true);
    await expect(h.services.engine.cancel(runId)).rejects.toThrow(expect.objectContaining({ code: 5619, message: `Run ${runId} is stopping; only a pending, running or paused run can be cancelled` }));

    const ended = await drive(h.ended(runId));
    expect(ended).toMatchObject({ status: 'cancelled', ending_as: null, current_step: 1, failed_step: 1 });
    expect(h.sim.actuator('ESP_SLOW', 5)?.on).toBe(false);
    const types = h.events.filter((e) => (e.data as { run_id?: string }).run_id === runId && e.type !== 'sequence_state' && e.type !== 'sequence_step').map((e) => e.type);
    expect(types).toEqual(['sequence_started', 'sequence_cancelled', 'sequence_stopping', 'sequence_completed']);
    expect(h.events.find((e) => e.type === 'sequence_stopping')?.data).toEqual({ sequence_id: expect.any(String), run_id: runId, ending_as: 'cancelled', reason: 'rain expected' });
    const states = h.events.filter((e) => e.type === 'sequence_state' && (e.data as { run_id?: string }).run_id === runId).map((e) => (e.data as { status: string }).status);
    expect(states.slice(-2)).toEqual(['stopping', 'cancelled']);
  });

  it('that failed is stopping, ending_as failed, and counts as running in the list', async () => {
    h.sim.configure('ESP_BAD', { fail: true });
    h.sim.configure('ESP_SLOW', { latency_ms: 500 });
    const runId = h.start({ steps: [actuator('ESP_SLOW', 5, 'ON'), actuator('ESP_BAD', 1, 'ON')] });
    await drive(h.next('sequence_stopping', (d) => d.run_id === runId));
    expect(await h.services.engine.get(runId)).toMatchObject({ status: 'stopping', ending_as: 'failed', failed_step: 1, error_code: 5614 });
    expect(await h.services.engine.list({ limit: 10, offset: 0, running_only: true })).toMatchObject({ running: 1, total: 1 });
    expect(await drive(h.ended(runId))).toMatchObject({ status: 'failed', ending_as: null });
  });

  it('on a device that hangs ends within step timeout + safe-state timeout, safe_state failed, with one safety_alert', async () => {
    h.sim.configure('ESP_HANG', { hang: true });
    const runId = h.start({ steps: [actuator('ESP_HANG', 5, 'ON', { timeout_seconds: 5 }), wait(60)] });
    const started = Date.now();

    await vi.advanceTimersByTimeAsync(5000);
    expect(await h.services.engine.get(runId)).toMatchObject({ status: 'stopping', ending_as: 'failed', error_code: 5615, safe_state: null });
    await vi.advanceTimersByTimeAsync(2000);

    const ended = await h.ended(runId);
    expect(ended).toMatchObject({ status: 'failed', safe_state: 'failed', safe_state_at: new Date(started + 7000).toISOString(), completed_at: new Date(started + 7000).toISOString() });
    expect(ended.cleanup_results).toMatchObject([{ step_name: 'Safe state', success: false, error_code: 5643, message: 'Could not confirm OFF: ESP_HANG:5: no answer within 2 s' }]);
    const types = h.events.filter((e) => (e.data as { run_id?: string }).run_id === runId && e.type !== 'sequence_state' && e.type !== 'sequence_step').map((e) => e.type);
    expect(types).toEqual(['sequence_started', 'sequence_error', 'sequence_stopping', 'safety_alert', 'sequence_completed']);
    expect(h.events.find((e) => e.type === 'safety_alert')?.data).toEqual({
      sequence_id: expect.any(String),
      run_id: runId,
      esp_id: 'ESP_HANG',
      gpio: 5,
      error_code: 5643,
      message: 'ESP_HANG:5 could not be confirmed OFF: no answer within 2 s',
    });
    expect(h.services.safety.leases.holderOf('ESP_HANG:5')?.runId).toBe(runId);
  });

  it('reports safe_state reached once what it held is OFF, and not_needed when it held nothing or completed', async () => {
    const holding = h.start({ steps: [actuator('ESP_1', 5, 'ON'), wait(60)] });
    await drive(h.stepDone(holding, 0));
    await h.services.engine.cancel(holding);
    const empty = h.start({ steps: [wait(60)] });
    await h.services.engine.cancel(empty);
    const done = h.start({ steps: [actuator('ESP_2', 5, 'ON')] });

    const ends = await drive(Promise.all([h.ended(holding), h.ended(empty), h.ended(done)]));
    expect(ends.map((p) => [p.status, p.safe_state, p.safe_state_at === null])).toEqual([
      ['cancelled', 'reached', false],
      ['cancelled', 'not_needed', false],
      ['completed', 'not_needed', true],
    ]);
  });
});
