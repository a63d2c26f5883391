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
});
