/**
 * Redrive (SPEC 7 `POST /sequences/{id}/redrive`): a run that ended failed or timeout runs again as
 * a new run of the same definition from the step that failed (or `from_step`); the devices are
 * told only the rest.
 */
import { describe, expect, it } from 'vitest';
import { actuator, drive, recordCommands, useSafetyHarness, wait, withDatabaseFile } from './safety-harness.ts';

/** Pump ON, the dosing valve (which fails at first), pump OFF. */
const DOSING = { sequence_id: 'dosing', steps: [actuator('ESP_PUMP', 1, 'ON'), actuator('ESP_DOSE', 2, 'ON', { timeout_seconds: 5 }), actuator('ESP_PUMP', 1, 'OFF')] };

describe('a redrive', () => {
  const h = useSafetyHarness();

  /** The dosing run fails at step 1: another run holds the dosing valve (5640); that run then ends. */
  async function failedAtStep1(): Promise<string> {
    const blocker = h.start({ sequence_id: 'blocker', steps: [actuator('ESP_DOSE', 2, 'ON'), wait(600)] });
    await drive(h.stepDone(blocker, 0));
    const failed = h.start(DOSING);
    expect(await drive(h.ended(failed))).toMatchObject({ status: 'failed', failed_step: 1, error_code: 5640 });
    await h.services.engine.cancel(blocker);
    await drive(h.ended(blocker));
    return failed;
  }

  it('runs only the rest, from the step that failed, as a new run that names the old one', async () => {
    const failed = await failedAtStep1();
    const told = recordCommands(h.sim);

    const started = await h.services.engine.redrive(failed);
    const ended = await drive(h.ended(started.run_id));

    expect(started).toMatchObject({ success: true, sequence_id: 'dosing', total_steps: 3, status: 'running', redrive_of: failed });
    expect(started.run_id).not.toBe(failed);
    expect(told).toEqual(['ESP_DOSE:2 ON', 'ESP_PUMP:1 OFF']);
    expect(ended).toMatchObject({ status: 'completed', redrive_of: failed, progress_percent: 100, current_step: 3 });
    expect(ended.step_results.map((r) => [r.step_index, r.success])).toEqual([[1, true], [2, true]]);
    const steps = h.events.filter((e) => e.type === 'sequence_step' && (e.data as { run_id: string }).run_id === started.run_id);
    expect(steps.map((e) => [(e.data as { step: number }).step, (e.data as { status: string }).status, (e.data as { progress_percent: number }).progress_percent])).toEqual([
      [1, 'starting', 33.3],
      [1, 'completed', 66.7],
      [2, 'starting', 66.7],
      [2, 'completed', 100],
    ]);
  });

  it('begins at from_step when given, and refuses a step the definition does not have with 422 at from_step', async () => {
    const failed = await failedAtStep1();
    const told = recordCommands(h.sim);

    await expect(h.services.engine.redrive(failed, 3)).rejects.toMatchObject({ code: 5600, status: 422, details: [{ path: 'from_step', code: 5600, message: 'from_step 3 is past the last step (2)' }] });
    const started = await h.services.engine.redrive(failed, 2);
    await drive(h.ended(started.run_id));

    expect(told).toEqual(['ESP_PUMP:1 OFF']);
  });

  it('of a run that timed out begins at the step that was in flight', async () => {
    h.sim.configure('ESP_SLOW', { hang: true });
    const timedOut = h.start({ sequence_id: 'slow', max_duration_seconds: 5, steps: [wait(1), actuator('ESP_SLOW', 1, 'OFF', { timeout_seconds: 30 }), wait(1)] });
    expect(await drive(h.ended(timedOut))).toMatchObject({ status: 'timeout', failed_step: 1 });
    h.sim.configure('ESP_SLOW', { hang: false });

    const started = await h.services.engine.redrive(timedOut);

    expect(await h.services.engine.get(started.run_id)).toMatchObject({ current_step: 1, state: 'running.executing', redrive_of: timedOut });
    expect(await drive(h.ended(started.run_id))).toMatchObject({ status: 'completed', step_results: [{ step_index: 1, success: true }, { step_index: 2, success: true }] });
  });

  it('is refused with 409/5619 for a run that is running or completed, and 404/5611 for an unknown one', async () => {
    const running = h.start({ sequence_id: 'long', steps: [wait(600)] });
    const completed = h.start({ sequence_id: 'short', steps: [actuator('ESP_PUMP', 1, 'OFF')] });
    await drive(h.ended(completed));

    await expect(h.services.engine.redrive(running)).rejects.toMatchObject({ code: 5619, message: `Run ${running} is running; only a run that ended failed or timeout can be redriven` });
    await expect(h.services.engine.redrive(completed)).rejects.toMatchObject({ code: 5619, message: `Run ${completed} is completed; only a run that ended failed or timeout can be redriven` });
    await expect(h.services.engine.redrive('run-ghost')).rejects.toMatchObject({ code: 5611 });
  });
});

describe('a redriven run interrupted by a restart', () => {
  it('resumes where it was, still a redrive, without running the steps before its start', () =>
    withDatabaseFile(async (serve) => {
      const before = await serve();
      const blocker = before.start({ sequence_id: 'blocker', steps: [actuator('ESP_DOSE', 2, 'ON'), wait(600)] });
      await before.stepDone(blocker, 0);
      const failed = before.start({ sequence_id: 'dosing', steps: [actuator('ESP_PUMP', 1, 'ON'), actuator('ESP_DOSE', 2, 'ON'), wait(600)] });
      await before.ended(failed);
      await before.services.engine.cancel(blocker);
      await before.ended(blocker);
      const { run_id } = await before.services.engine.redrive(failed);
      await before.stepDone(run_id, 1);
      await before.close();

      const after = await serve();
      try {
        const told = recordCommands(after.sim);
        expect(await after.services.engine.get(run_id)).toMatchObject({ status: 'running', state: 'running.delaying', current_step: 2, redrive_of: failed, progress_percent: 66.7 });
        await after.services.engine.cancel(run_id);
        await after.ended(run_id);
        // Its safe state turns OFF what the redrive switched on (the dosing valve), not the pump it never touched.
        expect(told).toEqual(['ESP_DOSE:2 OFF']);
      } finally {
        await after.close();
      }
    }));
});
