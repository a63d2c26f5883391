/**
 * Pausing a run that holds actuators (SPEC 7): `outputs: "off"` (the default) turns them OFF with
 * their leases kept and back on resume before the remaining time goes on, through the safety
 * system; `"hold"` leaves them. Checked on what the simulated devices were told.
 */
import { describe, expect, it, vi } from 'vitest';
import { actuator, drive, recordCommands, useSafetyHarness, wait, withDatabaseFile } from './safety-harness.ts';

const VALVE_AND_FAN = [actuator('ESP_V', 5, 'ON'), actuator('ESP_V', 6, 'PWM', { value: 0.4 }), wait(60), actuator('ESP_V', 5, 'OFF'), actuator('ESP_V', 6, 'OFF')];

describe('a paused run', () => {
  const h = useSafetyHarness();

  it('with outputs off (the default) turns OFF what it holds, keeps the leases, and restores them before its wait goes on', async () => {
    const runId = h.start({ steps: VALVE_AND_FAN });
    await drive(h.stepDone(runId, 1));
    const told = recordCommands(h.sim);

    expect(await h.services.engine.pause(runId)).toMatchObject({ status: 'paused', state: 'paused.off' });
    await vi.advanceTimersByTimeAsync(600_000);
    expect(told).toEqual(['ESP_V:5 OFF', 'ESP_V:6 OFF']);
    expect([h.sim.actuator('ESP_V', 5)?.on, h.sim.actuator('ESP_V', 6)?.on]).toEqual([false, false]);
    expect([h.services.safety.leases.holderOf('ESP_V:5')?.runId, h.services.safety.leases.holderOf('ESP_V:6')?.runId]).toEqual([runId, runId]);

    const onAtResume: (boolean | undefined)[] = [];
    h.services.engine.events.subscribe((event) => {
      if (event.type === 'sequence_resumed') onAtResume.push(h.sim.actuator('ESP_V', 5)?.on, h.sim.actuator('ESP_V', 6)?.on);
    });
    await h.services.engine.resume(runId);
    const ended = await drive(h.ended(runId));

    expect(told).toEqual(['ESP_V:5 OFF', 'ESP_V:6 OFF', 'ESP_V:5 ON', 'ESP_V:6 PWM 0.4', 'ESP_V:5 OFF', 'ESP_V:6 OFF']);
    expect(onAtResume).toEqual([true, true]);
    expect(ended).toMatchObject({ status: 'completed' });
    const resumedAt = h.events.find((e) => e.type === 'sequence_resumed')?.timestamp as number;
    const waitEnded = Date.parse(ended.step_results[2]?.completed_at as string) / 1000;
    const pausedAt = h.events.find((e) => e.type === 'sequence_paused')?.timestamp as number;
    const waitStarted = Date.parse(ended.step_results[2]?.started_at as string) / 1000;
    // The wait goes on for what it had left, counted from the moment the outputs were back.
    expect(Math.round((waitEnded - resumedAt) * 1000)).toBe(60_000 - Math.round((pausedAt - waitStarted) * 1000));
  });

  it('with outputs hold tells the devices nothing while paused', async () => {
    const runId = h.start({ steps: VALVE_AND_FAN });
    await drive(h.stepDone(runId, 1));
    const told = recordCommands(h.sim);

    const paused = await h.services.engine.pause(runId, 'hold');
    await vi.advanceTimersByTimeAsync(600_000);
    await h.services.engine.resume(runId);
    await drive(h.ended(runId));

    expect(paused).toMatchObject({ status: 'paused', state: 'paused.held' });
    expect(told).toEqual(['ESP_V:5 OFF', 'ESP_V:6 OFF']);
  });

  it('is refused its restore by the emergency latch: it ends failed with 5642 and its outputs stay OFF', async () => {
    const runId = h.start({ steps: VALVE_AND_FAN });
    await drive(h.stepDone(runId, 1));
    await h.services.engine.pause(runId);
    await vi.advanceTimersByTimeAsync(100);
    h.services.safety.latch.trip('Leak in hall 2', Date.now());

    await h.services.engine.resume(runId);
    const ended = await drive(h.ended(runId));

    expect(ended).toMatchObject({ status: 'failed', error_code: 5642, safe_state: 'reached' });
    expect(ended.error).toMatch(/^Outputs could not be restored on resume: ON to ESP_V:5 blocked: emergency stop is active \(Leak in hall 2\)/);
    expect([h.sim.actuator('ESP_V', 5)?.on, h.sim.actuator('ESP_V', 6)?.on]).toEqual([false, false]);
  });
});

describe('a run paused with its outputs off when the server restarts', () => {
  it('restores nothing until it is resumed, then turns them back and completes', () =>
    withDatabaseFile(async (serve) => {
      const before = await serve();
      const runId = before.start({ steps: VALVE_AND_FAN });
      await before.stepDone(runId, 1);
      await before.services.engine.pause(runId);
      await expect.poll(() => before.sim.actuator('ESP_V', 5)?.on).toBe(false);
      await before.close();

      const after = await serve();
      try {
        const told = recordCommands(after.sim);
        expect(await after.services.engine.get(runId)).toMatchObject({ status: 'paused', state: 'paused.off' });
        // Only OFFs are sent again (the pause's, in case they were lost with the server); nothing is switched on.
        await expect.poll(() => told.length).toBe(2);
        expect(told.sort()).toEqual(['ESP_V:5 OFF', 'ESP_V:6 OFF']);

        await after.services.engine.resume(runId);
        await expect.poll(() => after.sim.actuator('ESP_V', 5)?.on).toBe(true);
        expect(after.sim.actuator('ESP_V', 6)).toMatchObject({ on: true, value: 0.4 });
        await after.services.engine.cancel(runId);
        expect(await after.ended(runId)).toMatchObject({ status: 'cancelled', safe_state: 'reached' });
      } finally {
        await after.close();
      }
    }));
});
