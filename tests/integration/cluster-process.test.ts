/**
 * Real node processes on one PostgreSQL database (SPEC 14): a run one node drives is read, paused
 * and cancelled through another, whose stream carries its events in order; and a node frozen
 * (SIGSTOP) for 15 s while its run had a command due sends nothing for that run once it wakes
 * (SIGCONT): the other node took the run over and finishes it, and the frozen node's simulated
 * device proves it heard no command after the freeze.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { api, progressOf, simActuator, startRun, stepEvent } from './recovery-process.harness.ts';
import { useClusterNodes } from './cluster-process.harness.ts';

const node = useClusterNodes();

describe('node processes of one cluster', () => {
  it("read, pause and cancel through node B a run node A drives; B's stream has its events in order", async () => {
    const a = await node('proc-a');
    const b = await node('proc-b');
    const runId = await startRun(a.url, { sequence_id: 'proc-soak', steps: [{ name: 'soak', delay_seconds: 600 }] });
    await b.events.next(stepEvent(runId, 0, 'starting'));
    expect(await progressOf(b.url, runId)).toMatchObject({ status: 'running', node: 'proc-a', current_step_name: 'soak' });
    expect(await api(b.url, `/sequences/${runId}/pause`, {}, 200)).toMatchObject({ status: 'paused' });
    expect(await progressOf(a.url, runId)).toMatchObject({ status: 'paused' });
    expect(await api(b.url, `/sequences/${runId}/cancel`, { reason: 'via b' }, 200)).toMatchObject({ success: true });
    await b.events.ended(runId);
    const types = b.events.of(runId).map((e) => e.type);
    expect(types[0]).toBe('sequence_started');
    expect(types.at(-1)).toBe('sequence_completed');
    expect(types).toEqual(expect.arrayContaining(['sequence_paused', 'sequence_cancelled']));
    const seqs = b.events.events.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] as number) + i));
  });

  it('a node frozen for 15 s sends no command for the run it lost once it wakes; the other node finishes it', { timeout: 60_000 }, async () => {
    const a = await node('frozen-a');
    const b = await node('thawed-b');
    const runId = await startRun(a.url, {
      steps: [
        { name: 'on', action: { type: 'actuator_command', esp_id: 'ESP_Z', gpio: 5, command: 'ON' } },
        { name: 'wait', delay_seconds: 3 },
        { name: 'off', action: { type: 'actuator_command', esp_id: 'ESP_Z', gpio: 5, command: 'OFF' } },
      ],
    });
    await a.events.next(stepEvent(runId, 1, 'starting'));
    const before = await simActuator(a.url, 'ESP_Z', 5);
    expect(before).toMatchObject({ commands: 1, actuator: { on: true } });

    a.signal('SIGSTOP');
    // The OFF falls due while A is frozen; B claims the run once A's lease has expired.
    await sleep(15_000);
    a.signal('SIGCONT');

    expect((await b.events.ended(runId)).data).toMatchObject({ status: 'completed' });
    // A answers again once awake; by then it has found the run is not its own any more.
    const seen = await progressOf(a.url, runId);
    expect(seen).toMatchObject({ status: 'completed', node: 'thawed-b' });
    expect(await simActuator(a.url, 'ESP_Z', 5)).toEqual(before);
    expect(await simActuator(b.url, 'ESP_Z', 5)).toMatchObject({ commands: 1, actuator: { on: false, last_command: 'OFF' } });
  });
});
