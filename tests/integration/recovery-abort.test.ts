/**
 * Crash recovery with `--recovery abort` (SPEC 11) on the real server process: every run found
 * unfinished ends failed with 5633 after its safe state turned OFF what it held.
 */
import { describe, expect, it } from 'vitest';
import { api, progressOf, simActuator, startRun, stepEvent, useServeOnFreshDatabase } from './recovery-process.harness.ts';

const serve = useServeOnFreshDatabase(['--sim-latency-ms', '0']);

describe('--recovery abort after kill -9', { timeout: 90_000 }, () => {
  it('ends every unfinished run failed with 5633 and turns the actuators they held OFF', async () => {
    const before = await serve();
    const pump = await startRun(before.url, {
      sequence_id: 'pump',
      steps: [{ name: 'Pump ON', action: { type: 'actuator_command', esp_id: 'ESP_AB', gpio: 7, command: 'ON' } }, { name: 'Run', delay_seconds: 600 }],
    });
    const fan = await startRun(before.url, {
      sequence_id: 'fan',
      steps: [{ name: 'Fan ON', action: { type: 'actuator_command', esp_id: 'ESP_AB', gpio: 8, command: 'ON' } }, { name: 'Run', delay_seconds: 600 }],
    });
    await before.events.next(stepEvent(pump, 1, 'starting'));
    await before.events.next(stepEvent(fan, 1, 'starting'));
    expect((await simActuator(before.url, 'ESP_AB', 7)).actuator?.on).toBe(true);
    await before.kill();

    const after = await serve('--recovery', 'abort');
    await Promise.all([after.events.ended(pump), after.events.ended(fan)]);

    for (const [runId, gpio] of [[pump, 7], [fan, 8]] as const) {
      const ended = await progressOf(after.url, runId);
      expect([ended.status, ended.error_code, ended.error]).toEqual(['failed', 5633, 'Run interrupted by a restart']);
      // The step that was running when the server died is recorded as interrupted; the one before stands.
      expect(ended.step_results.map((r) => [r.success, r.error_code])).toEqual([[true, null], [false, 5633]]);
      expect(ended.cleanup_results.map((r) => [r.step_name, r.success, r.message])).toEqual([['Safe state', true, `Turned off ESP_AB:${gpio}`]]);
      // This process never switched them ON: the OFF it sent came from the recovered leases.
      expect((await simActuator(after.url, 'ESP_AB', gpio)).actuator).toMatchObject({ on: false, last_command: 'OFF' });
    }
    // A log line: the message ends where its JSON string does.
    await after.stderrWith('"msg":"recovered unfinished runs (--recovery abort): 0 resumed, 2 aborted, 0 queued again, 0 could not be recovered"');
    const completed = after.events.of(pump).find((e) => e.type === 'sequence_completed')?.data;
    expect(completed).toMatchObject({ status: 'failed', success: false, error_code: 5633 });
    const list = await api<{ running: number; failed: number }>(after.url, '/sequences?running_only=true');
    expect([list.running, list.failed]).toEqual([0, 2]);
  });

  it('a run already in its cleanup finishes it: the lost safe state is sent again', async () => {
    const before = await serve('--sim-latency-ms', '5000');
    const runId = await startRun(before.url, {
      sequence_id: 'slow-off',
      steps: [{ name: 'Valve ON', action: { type: 'actuator_command', esp_id: 'ESP_CL', gpio: 2, command: 'ON', idempotent: true } }, { name: 'Run', delay_seconds: 600 }],
    });
    // Devices answer after 5 s: wait for the ON to land, then cancel into the (slow) safe state.
    await before.events.next(stepEvent(runId, 1, 'starting'));
    await api(before.url, `/sequences/${runId}/cancel`, {}, 200);
    await before.events.next(stepEvent(runId, 0, 'starting', 'cleanup'));
    await before.kill();

    const after = await serve('--recovery', 'abort');
    await after.events.ended(runId);
    const ended = await progressOf(after.url, runId);

    expect(ended.status).toBe('cancelled');
    expect(ended.cleanup_results.map((r) => [r.step_name, r.success, r.message])).toEqual([['Safe state', true, 'Turned off ESP_CL:2']]);
    expect((await simActuator(after.url, 'ESP_CL', 2)).actuator).toMatchObject({ on: false, last_command: 'OFF' });
  });
});
