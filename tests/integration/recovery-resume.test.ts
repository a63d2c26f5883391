/**
 * Crash recovery with the default policy (`--recovery resume`, SPEC 11), on the real server
 * process: `kill -9` in the middle of a delay and in the middle of an action, start it again on
 * the same database, and see what the runs do.
 */
import { describe, expect, it } from 'vitest';
import type { Progress } from '../../src/domain/progress.ts';
import { api, progressOf, simActuator, startRun, stepEvent, useServeOnFreshDatabase } from './recovery-process.harness.ts';

const serve = useServeOnFreshDatabase();

/** Starts the server again on the same database and returns it with the run's progress once it ended. */
async function restartUntilEnded(runId: string) {
  const after = await serve('--sim-latency-ms', '0');
  await after.events.ended(runId);
  return { after, ended: await progressOf(after.url, runId) };
}

const valve = (command: string, extra: object = {}) => ({
  name: `Valve ${command}`,
  action: { type: 'actuator_command', esp_id: 'ESP_REC', gpio: 5, command, ...extra },
});

describe('kill -9 in the middle of a delay', { timeout: 90_000 }, () => {
  it('the run completes after the restart with every step result, and its events go on', async () => {
    const before = await serve('--sim-latency-ms', '0');
    const finished = await startRun(before.url, { sequence_id: 'history', steps: [{ name: 'Short', delay_seconds: 0 }] });
    await before.events.ended(finished);
    const runId = await startRun(before.url, { sequence_id: 'water', steps: [valve('ON'), { name: 'Soak', delay_seconds: 4 }, valve('OFF')] });
    // The event goes out after the write: the store has the run in its delay.
    await before.events.next(stepEvent(runId, 1, 'starting'));
    const soakStarted = (await progressOf(before.url, runId)).step_results[0]?.completed_at;
    await before.kill();

    const { after, ended } = await restartUntilEnded(runId);

    expect([ended.status, ended.error_code]).toEqual(['completed', null]);
    expect(ended.step_results.map((r) => [r.step_name, r.success, r.message])).toEqual([
      ['Valve ON', true, 'ESP_REC gpio 5 ON ok'],
      ['Soak', true, 'Waited 4 s'],
      ['Valve OFF', true, 'ESP_REC gpio 5 OFF ok'],
    ]);
    // The delay kept its wall-clock deadline: it began before the crash and lasted its 4 s.
    const soak = ended.step_results[1] as Progress['step_results'][number];
    expect(soak.started_at).toBe(soakStarted);
    expect(Date.parse(soak.completed_at) - Date.parse(soak.started_at)).toBeGreaterThanOrEqual(4000);
    // The new process goes on publishing the run's events: the wake, the last step, the end.
    const types = after.events.of(runId).map((e) => (e.type === 'sequence_state' ? `state:${(e.data as { event: string }).event}` : e.type));
    expect(types).toContain('state:WAKE');
    expect(types.slice(types.lastIndexOf('state:WAKE'))).toEqual(
      expect.arrayContaining(['sequence_step', 'sequence_completed']),
    );
    expect(after.events.of(runId).filter(stepEvent(runId, 2, 'completed'))).toHaveLength(1);
    expect((await simActuator(after.url, 'ESP_REC', 5)).actuator).toMatchObject({ on: false, last_command: 'OFF' });

    // History from before the crash is still there, read from the store.
    const list = await api<{ sequences: Progress[]; total: number }>(after.url, '/sequences?limit=10');
    expect(list.sequences.map((p) => [p.run_id, p.status])).toEqual([
      [runId, 'completed'],
      [finished, 'completed'],
    ]);
    expect((await progressOf(after.url, finished)).step_results).toHaveLength(1);
  });

  it('a queued run survives the restart and starts after the run it waits for', async () => {
    const before = await serve('--sim-latency-ms', '0');
    const first = await startRun(before.url, { sequence_id: 'zone', mode: 'queued', steps: [{ name: 'Soak', delay_seconds: 600 }] });
    const second = await startRun(before.url, { sequence_id: 'zone', mode: 'queued', steps: [valve('ON'), valve('OFF')] });
    await before.events.next(stepEvent(first, 0, 'starting'));
    expect((await progressOf(before.url, second)).status).toBe('pending');
    await before.kill();

    const after = await serve('--sim-latency-ms', '0');
    expect((await progressOf(after.url, first)).state).toBe('running.delaying');
    expect((await progressOf(after.url, second)).status).toBe('pending');
    await after.stderrWith('(--recovery resume): 1 resumed, 0 aborted, 1 queued again, 0 could not be recovered');
    await api(after.url, `/sequences/${first}/cancel`, {}, 200);
    await after.events.ended(second);
    const [a, b] = await Promise.all([progressOf(after.url, first), progressOf(after.url, second)]);

    expect([a.status, b.status]).toEqual(['cancelled', 'completed']);
    expect(b.step_results.map((r) => r.success)).toEqual([true, true]);
    expect(Date.parse(b.started_at as string)).toBeGreaterThanOrEqual(Date.parse(a.completed_at as string));
  });
});

describe('kill -9 in the middle of an action', { timeout: 90_000 }, () => {
  /** Starts a run whose first action is in flight (devices answer after 5 s) and kills the server. */
  async function killDuringAction(steps: object[]): Promise<string> {
    const before = await serve('--sim-latency-ms', '5000');
    const runId = await startRun(before.url, { sequence_id: 'inflight', steps });
    await before.events.next(stepEvent(runId, 0, 'starting'));
    await before.kill();
    return runId;
  }

  it('fails the step with 5633 and the run follows its failure policy (abort: safe state, failed)', async () => {
    const runId = await killDuringAction([valve('ON'), { name: 'Soak', delay_seconds: 1 }]);

    const { after, ended } = await restartUntilEnded(runId);

    expect([ended.status, ended.error_code]).toEqual(['failed', 5633]);
    expect(ended.step_results.map((r) => [r.step_name, r.success, r.error_code])).toEqual([['Valve ON', false, 5633]]);
    expect(ended.step_results[0]?.message).toBe('Action was in flight when the server stopped');
    // The ON may have reached the device before the crash: the safe state turns it OFF.
    expect(ended.cleanup_results.map((r) => [r.step_name, r.success, r.message])).toEqual([['Safe state', true, 'Turned off ESP_REC:5']]);
    expect((await simActuator(after.url, 'ESP_REC', 5)).actuator).toMatchObject({ on: false, last_command: 'OFF' });
  });

  it('with on_failure continue the run goes on past the lost step and completes', async () => {
    const runId = await killDuringAction([{ ...valve('ON'), on_failure: 'continue', retry_count: 2 }, { name: 'Soak', delay_seconds: 0 }]);

    const { ended } = await restartUntilEnded(runId);

    expect(ended.status).toBe('completed');
    // Not retried: a lost action is not known to have failed, so a retry could repeat it.
    expect(ended.step_results.map((r) => [r.step_name, r.success, r.error_code, r.retries])).toEqual([
      ['Valve ON', false, 5633, 0],
      ['Soak', true, null, 0],
    ]);
  });

  it('an idempotent action is sent again and the run completes', async () => {
    const runId = await killDuringAction([valve('ON', { idempotent: true }), valve('OFF')]);

    const { after, ended } = await restartUntilEnded(runId);

    expect([ended.status, ended.error_code]).toEqual(['completed', null]);
    expect(ended.step_results.map((r) => [r.step_name, r.success, r.message])).toEqual([
      ['Valve ON', true, 'ESP_REC gpio 5 ON ok'],
      ['Valve OFF', true, 'ESP_REC gpio 5 OFF ok'],
    ]);
    // The new process sent the ON again, then the OFF.
    expect(await simActuator(after.url, 'ESP_REC', 5)).toMatchObject({ commands: 2, actuator: { on: false, last_command: 'OFF' } });
    const states = after.events.of(runId).filter((e) => e.type === 'sequence_state').map((e) => e.data as { event: string; state: string });
    expect(states[0]).toMatchObject({ event: 'RECOVER', state: 'running.executing' });
    expect(after.events.of(runId).filter(stepEvent(runId, 0, 'completed'))).toHaveLength(1);
  });
});
