import { describe, expect, it } from 'vitest';
import { Codes } from '../../src/domain/errors.ts';
import { actuator, drive, wait, useSafetyHarness } from './safety-harness.ts';

const PUMP = ['ESP_PUMP', 5] as const;

const h = useSafetyHarness();

describe('actuator leases', () => {
  it('when two runs command one actuator in the same tick, the second fails with 5640 naming the holder', async () => {
    const first = h.start({ steps: [actuator(...PUMP, 'ON')] });
    const second = h.start({ steps: [actuator(...PUMP, 'ON')] });

    const [a, b] = await drive(Promise.all([h.ended(first), h.ended(second)]));

    expect(a.status).toBe('completed');
    expect(b.status).toBe('failed');
    expect(b.error_code).toBe(Codes.ACTUATOR_LOCKED);
    expect(b.step_results[0]).toMatchObject({ success: false, error_code: Codes.ACTUATOR_LOCKED });
    expect(b.step_results[0]?.message).toBe(`Actuator ESP_PUMP:5 is held by run ${first} (priority 100)`);
    expect(h.sim.actuator(...PUMP)).toMatchObject({ on: true });
    // The refused run sent nothing: the device saw exactly one command.
    expect(h.sim.devices().find((d) => d.esp_id === 'ESP_PUMP')?.commands).toBe(1);
  });

  it('when a more important run commands a held actuator it takes it over and the holder next fails with 5640', async () => {
    const holder = h.start({ priority: 100, steps: [actuator(...PUMP, 'ON'), wait(60), actuator(...PUMP, 'OFF')] });
    await drive(h.stepDone(holder, 0));

    const urgent = h.start({ priority: 10, steps: [actuator(...PUMP, 'PWM', { value: 0.5 })] });
    const taken = await drive(h.ended(urgent));
    expect(taken.status).toBe('completed');
    expect(h.sim.actuator(...PUMP)).toMatchObject({ on: true, value: 0.5 });

    const lost = await drive(h.ended(holder));
    expect(lost.status).toBe('failed');
    expect(lost.step_results[2]).toMatchObject({ success: false, error_code: Codes.ACTUATOR_LOCKED });
    expect(lost.step_results[2]?.message).toBe(`Actuator ESP_PUMP:5 was taken over by run ${urgent} (priority 10)`);
    // The holder's safe state must not switch off what the more important run now drives.
    expect(lost.cleanup_results.map((r) => r.message)).toEqual(['No actuator held']);
    expect(h.sim.actuator(...PUMP)).toMatchObject({ on: true, value: 0.5 });
  });

  it('refuses a run of equal priority with 5640 while the holder keeps the actuator', async () => {
    const holder = h.start({ priority: 50, steps: [actuator(...PUMP, 'ON'), wait(60)] });
    await drive(h.stepDone(holder, 0));

    const rival = h.start({ priority: 50, steps: [actuator(...PUMP, 'OFF')] });
    const refused = await drive(h.ended(rival));

    expect(refused.error_code).toBe(Codes.ACTUATOR_LOCKED);
    expect(refused.step_results[0]?.message).toBe(`Actuator ESP_PUMP:5 is held by run ${holder} (priority 50)`);
    expect(h.sim.actuator(...PUMP)?.on).toBe(true);
    expect((await h.services.engine.get(holder))?.status).toBe('running');
  });

  it('a completed run leaves its actuators as set and releases them, so another run can take them', async () => {
    const done = await drive(h.ended(h.start({ steps: [actuator(...PUMP, 'ON')] })));
    expect(done.status).toBe('completed');
    expect(done.cleanup_results).toEqual([]);
    expect(h.sim.actuator(...PUMP)?.on).toBe(true);
    expect(h.services.safety.leases.holderOf('ESP_PUMP:5')).toBeUndefined();

    const next = await drive(h.ended(h.start({ steps: [actuator(...PUMP, 'ON'), actuator(...PUMP, 'OFF')] })));
    expect(next.status).toBe('completed');
    expect(h.sim.actuator(...PUMP)?.on).toBe(false);
  });
});

describe('safe state', () => {
  it('turns the pump of a cancelled run OFF and shows the result in cleanup_results', async () => {
    const run = h.start({ steps: [actuator(...PUMP, 'ON'), wait(600)] });
    await drive(h.stepDone(run, 0));
    expect(h.sim.actuator(...PUMP)?.on).toBe(true);

    await h.services.engine.cancel(run, 'operator');
    const ended = await drive(h.ended(run));

    expect(ended.status).toBe('cancelled');
    expect(ended.error_code).toBe(Codes.CANCELLED);
    expect(ended.step_results.map((r) => r.success)).toEqual([true, false]);
    expect(ended.cleanup_results).toHaveLength(1);
    expect(ended.cleanup_results[0]).toMatchObject({ step_name: 'Safe state', success: true, message: 'Turned off ESP_PUMP:5' });
    expect(h.sim.actuator(...PUMP)).toMatchObject({ on: false, last_command: 'OFF' });
    expect(h.services.safety.leases.size).toBe(0);
  });

  it('turns OFF what a failed run and a timed-out run still hold', async () => {
    h.sim.configure('ESP_BROKEN', { fail: true });
    h.sim.configure('ESP_SILENT', { hang: true });
    const failing = h.start({ steps: [actuator(...PUMP, 'ON'), actuator('ESP_BROKEN', 1, 'ON')] });
    const slow = h.start({ max_duration_seconds: 2, steps: [actuator('ESP_FAN', 2, 'ON'), actuator('ESP_SILENT', 1, 'ON')] });

    const [failed, timedOut] = await drive(Promise.all([h.ended(failing), h.ended(slow)]));

    expect(failed.status).toBe('failed');
    expect(failed.error_code).toBe(Codes.STEP_FAILED);
    expect(timedOut.status).toBe('timeout');
    expect(timedOut.error_code).toBe(Codes.TIMEOUT);
    expect(timedOut.step_results[1]?.error_code).toBe(Codes.MAX_DURATION_EXCEEDED);
    expect(h.sim.actuator(...PUMP)?.on).toBe(false);
    expect(h.sim.actuator('ESP_FAN', 2)?.on).toBe(false);
  });

  it('keeps an actuator on when the step that switched it said leave_on', async () => {
    const run = h.start({ steps: [actuator(...PUMP, 'ON', { leave_on: true }), actuator('ESP_PUMP', 6, 'ON'), wait(600)] });
    await drive(h.stepDone(run, 1));

    await h.services.engine.cancel(run);
    const ended = await drive(h.ended(run));

    expect(ended.cleanup_results[0]?.message).toBe('Turned off ESP_PUMP:6');
    expect(h.sim.actuator(...PUMP)?.on).toBe(true);
    expect(h.sim.actuator('ESP_PUMP', 6)?.on).toBe(false);
    // Left on, but no longer held: another run may use it.
    expect(h.services.safety.leases.holderOf('ESP_PUMP:5')).toBeUndefined();
  });

  it('records failing cleanup steps, runs the rest once, and keeps the status that ended the run', async () => {
    // The failed OFF left ESP_BROKEN:1 in an unknown state, so the run still holds it and its safe state tries again.
    h.sim.configure('ESP_BROKEN', { fail: true });
    const run = h.start({
      steps: [actuator(...PUMP, 'ON'), wait(600)],
      cleanup_steps: [actuator('ESP_BROKEN', 1, 'OFF', { name: 'Close broken valve' }), actuator('ESP_DRAIN', 3, 'OFF', { name: 'Close drain' })],
    });
    await drive(h.stepDone(run, 0));

    await h.services.engine.cancel(run);
    const ended = await drive(h.ended(run));

    expect(ended.status).toBe('cancelled');
    expect(ended.cleanup_results.map((r) => [r.step_name, r.success, r.error_code])).toEqual([
      ['Close broken valve', false, Codes.STEP_FAILED],
      ['Close drain', true, null],
      ['Safe state', false, Codes.SAFE_STATE_FAILED],
    ]);
    expect(ended.cleanup_results[2]?.message).toBe('Turned off ESP_PUMP:5; could not confirm OFF: ESP_BROKEN:1: ESP_BROKEN: simulated failure');
    expect(h.sim.actuator(...PUMP)?.on).toBe(false);
    expect(h.events.filter((e) => e.type === 'sequence_completed' && (e.data as { run_id: string }).run_id === run)).toHaveLength(1);
  });

  it('records a safe state whose OFF the device refuses, and still ends the run', async () => {
    const run = h.start({ steps: [actuator(...PUMP, 'ON'), wait(600)] });
    await drive(h.stepDone(run, 0));
    h.sim.configure('ESP_PUMP', { fail: true });

    await h.services.engine.cancel(run);
    const ended = await drive(h.ended(run));

    expect(ended.status).toBe('cancelled');
    expect(ended).toMatchObject({ safe_state: 'failed' });
    expect(ended.cleanup_results[0]).toMatchObject({ step_name: 'Safe state', success: false, error_code: Codes.SAFE_STATE_FAILED });
    expect(ended.cleanup_results[0]?.message).toBe('Could not confirm OFF: ESP_PUMP:5: ESP_PUMP: simulated failure');
    expect(h.sim.actuator(...PUMP)?.on).toBe(true);
  });
});
