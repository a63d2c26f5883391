import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Codes, SequencerError } from '../../src/domain/errors.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import { actuator, drive, startHarness, wait, useSafetyHarness } from './safety-harness.ts';

const h = useSafetyHarness();

/** The error `fn` throws. */
function thrown(fn: () => unknown): SequencerError {
  try {
    fn();
  } catch (error) {
    if (error instanceof SequencerError) return error;
    throw error;
  }
  throw new Error('expected a SequencerError');
}

describe('emergency stop', () => {
  it('cancels running, paused and queued runs and turns OFF every actuator runs touched, leave_on ones included', async () => {
    const finished = h.start({ steps: [actuator('ESP_E', 3, 'ON', { leave_on: true })] });
    await drive(h.ended(finished));
    const running = h.start({ sequence_id: 'zone', mode: 'queued', steps: [actuator('ESP_E', 1, 'ON'), wait(600)] });
    const queued = h.start({ sequence_id: 'zone', mode: 'queued', steps: [actuator('ESP_E', 4, 'ON')] });
    const paused = h.start({ steps: [actuator('ESP_E', 2, 'PWM', { value: 0.5 }), wait(600)] });
    await drive(Promise.all([h.stepDone(running, 0), h.stepDone(paused, 0)]));
    h.services.engine.pause(paused);

    const result = await drive(h.services.emergencyStop('flood in hall 2'));

    expect(result).toEqual({ runs_cancelled: 3, actuators_off: 3, actuators_failed: [] });
    const ended = await drive(Promise.all([running, queued, paused].map((id) => h.next('sequence_completed', (d) => d.run_id === id))));
    expect(ended.map((d) => [d.status, d.error_code])).toEqual(Array(3).fill(['cancelled', Codes.CANCELLED]));
    expect(h.events.some((e) => e.type === 'sequence_started' && (e.data as { run_id: string }).run_id === queued)).toBe(false);
    for (const gpio of [1, 2, 3]) expect(h.sim.actuator('ESP_E', gpio)?.on).toBe(false);
    expect(h.sim.actuator('ESP_E', 4)).toBeUndefined();
    expect(await h.next('emergency_stop')).toEqual({ active: true, reason: 'flood in hall 2', runs_cancelled: 3, actuators_off: 3 });
    expect(h.services.engine.runningCount).toBe(0);
  });

  it('turns OFF what a completed run left on, also after the run has left memory', async () => {
    const done = h.start({ steps: [actuator('ESP_L', 7, 'ON'), actuator('ESP_L', 8, 'ON'), actuator('ESP_L', 8, 'OFF')] });
    await drive(h.ended(done));
    // Once its history row is committed (a list waits for that), the run has left memory.
    expect((await drive(h.services.engine.list({ limit: 1, offset: 0 }))).items[0]).toMatchObject({ run_id: done, status: 'completed' });
    expect(h.sim.actuator('ESP_L', 7)?.on).toBe(true);

    const result = await drive(h.services.emergencyStop('smoke in hall 1'));

    expect(result).toEqual({ runs_cancelled: 0, actuators_off: 1, actuators_failed: [] });
    expect(h.sim.actuator('ESP_L', 7)).toMatchObject({ on: false, last_command: 'OFF' });
  });

  it('refuses starts with 5642 (HTTP 403) and actuator ON with 5642 until cleared, while OFF still goes through', async () => {
    const run = h.start({
      steps: [actuator('ESP_E', 1, 'ON'), wait(600)],
      cleanup_steps: [actuator('ESP_E', 9, 'ON', { name: 'Start drain pump' }), actuator('ESP_E', 8, 'OFF', { name: 'Close inlet' })],
    });
    await drive(h.stepDone(run, 0));

    await drive(h.services.emergencyStop('pipe burst'));
    const ended = await drive(h.ended(run));

    expect(ended.status).toBe('cancelled');
    expect(ended.cleanup_results.map((r) => [r.step_name, r.success, r.error_code])).toEqual([
      ['Start drain pump', false, Codes.SAFETY_BLOCKED],
      ['Close inlet', true, null],
      ['Safe state', true, null],
    ]);
    expect(ended.cleanup_results[0]?.message).toBe('ON to ESP_E:9 blocked: emergency stop is active (pipe burst)');
    expect(h.sim.actuator('ESP_E', 9)).toBeUndefined();

    const refused = thrown(() => h.start({ steps: [actuator('ESP_E', 1, 'ON')] }));
    expect([refused.code, refused.httpStatus, refused.message]).toEqual([Codes.SAFETY_BLOCKED, 403, 'Start blocked: emergency stop is active (pipe burst)']);

    h.services.clearEmergencyStop();
    expect(h.events.at(-1)).toMatchObject({ type: 'emergency_stop', data: { active: false, reason: null } });
    const after = await drive(h.ended(h.start({ steps: [actuator('ESP_E', 1, 'ON')] })));
    expect(after.status).toBe('completed');
    expect(h.sim.actuator('ESP_E', 1)?.on).toBe(true);
  });

  it('keeps the first reason when pressed again, and still cancels what started since', async () => {
    await drive(h.services.emergencyStop('first'));
    h.services.clearEmergencyStop();
    const run = h.start({ steps: [actuator('ESP_E', 1, 'ON'), wait(600)] });
    await drive(h.stepDone(run, 0));
    await drive(h.services.emergencyStop('second'));
    const again = await drive(h.services.emergencyStop('third'));

    // Nothing left to cancel; the run's safe state already turned ESP_E:1 OFF (a repeated OFF,
    // while the run is still in memory, is harmless).
    expect(again).toMatchObject({ runs_cancelled: 0, actuators_failed: [] });
    expect(h.sim.actuator('ESP_E', 1)?.on).toBe(false);
    expect(h.services.safety.latch.state()).toMatchObject({ active: true, reason: 'second' });
    expect(h.events.filter((e) => e.type === 'emergency_stop').map((e) => (e.data as { reason: string | null }).reason)).toEqual([
      'first',
      null,
      'second',
      'second',
    ]);
    expect((await drive(h.ended(run))).status).toBe('cancelled');
  });

  it('names the actuators it could not turn OFF', async () => {
    const run = h.start({ steps: [actuator('ESP_E', 1, 'ON'), actuator('ESP_DEAD', 2, 'ON'), wait(600)] });
    await drive(h.stepDone(run, 1));
    h.sim.configure('ESP_DEAD', { fail: true });

    const result = await drive(h.services.emergencyStop('smoke'));

    expect(result).toEqual({ runs_cancelled: 1, actuators_off: 1, actuators_failed: ['ESP_DEAD:2: ESP_DEAD: simulated failure'] });
    expect(h.sim.actuator('ESP_E', 1)?.on).toBe(false);
  });
});

describe('emergency stop across a restart', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sequencer-estop-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('stays in force after a restart until cleared, and the clear survives a restart too', async () => {
    const path = join(dir, 'sequencer.db');
    const openStore = () => openSqliteStore(path);
    const first = await startHarness({ db: path }, { openStore });
    await drive(first.services.emergencyStop('frost warning'));
    await first.close();

    const second = await startHarness({ db: path }, { openStore });
    expect(second.services.safety.latch.state()).toMatchObject({ active: true, reason: 'frost warning' });
    expect(thrown(() => second.start({ steps: [actuator('ESP_E', 1, 'ON')] })).code).toBe(Codes.SAFETY_BLOCKED);
    second.services.clearEmergencyStop();
    await second.close();

    const third = await startHarness({ db: path }, { openStore });
    expect(third.services.safety.latch.active).toBe(false);
    expect((await drive(third.ended(third.start({ steps: [actuator('ESP_E', 1, 'ON')] })))).status).toBe('completed');
    await third.close();
  });

  it('keeps the reason of every stop pressed while latched across a restart, and forgets them once cleared', async () => {
    const path = join(dir, 'sequencer.db');
    const openStore = () => openSqliteStore(path);
    const first = await startHarness({ db: path }, { openStore });
    await drive(first.services.emergencyStop('frost warning'));
    await drive(first.services.emergencyStop('heater 2 still on'));
    await first.close();

    const second = await startHarness({ db: path }, { openStore });
    expect(second.services.safety.latch.state()).toMatchObject({ active: true, reason: 'frost warning' });
    expect(second.services.safety.latch.history().map((press) => press.reason)).toEqual(['frost warning', 'heater 2 still on']);
    second.services.clearEmergencyStop();
    await second.close();

    const third = await startHarness({ db: path }, { openStore });
    expect(third.services.safety.latch.history()).toEqual([]);
    await third.close();
  });

  it('goes on when the stop cannot be stored, and reports the failure', async () => {
    const reported: string[] = [];
    const broken = await startHarness({}, {
      openStore: () => {
        const store = openSqliteStore(':memory:');
        store.setSetting = () => {
          throw new Error('disk full');
        };
        return store;
      },
      onError: (_error, message) => reported.push(message),
    });
    const run = broken.start({ steps: [actuator('ESP_E', 1, 'ON'), wait(600)] });
    await drive(broken.next('sequence_step', (d) => d.run_id === run && d.step === 0 && d.status === 'completed'));

    const result = await drive(broken.services.emergencyStop('disk trouble'));

    expect(result.runs_cancelled).toBe(1);
    expect(broken.services.safety.latch.active).toBe(true);
    expect(reported).toContain('emergency stop state could not be stored');
    expect((await drive(broken.ended(run))).status).toBe('cancelled');
    expect(broken.sim.actuator('ESP_E', 1)?.on).toBe(false);
    await broken.close();
  });
});
