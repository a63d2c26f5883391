/**
 * Failover between real node processes on one PostgreSQL database (SPEC 14): a run started on node
 * A is in a long delay when A is killed with `kill -9`; node B claims it once A's lease has expired
 * (10 s, renewed every 2 s: the SPEC defaults), recovers it from A's journal exactly as after a
 * restart and completes it, within the 15 s SPEC 14 promises. What A did before it died (its first
 * step) is kept; B sends the last step's command; the run shows B as its node.
 */
import { describe, expect, it } from 'vitest';
import { useClusterNodes } from './cluster-process.harness.ts';
import { progressOf, simActuator, startRun, stepEvent } from './recovery-process.harness.ts';

/** SPEC 14: a dead node's runs go on elsewhere within 15 s. */
const TAKEOVER_BOUND_MS = 15_000;

const node = useClusterNodes();

/** Rejects after `ms`: the bound a promise must settle within. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('two nodes on one PostgreSQL database', () => {
  it('complete on the other node a run whose node was killed mid-run, with what the dead node had done', { timeout: 60_000 }, async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    const runId = await startRun(a.url, {
      steps: [
        { name: 'Open valve', action: { type: 'actuator_command', esp_id: 'ESP_1', gpio: 5, command: 'ON' } },
        { name: 'Water', delay_seconds: 5 },
        { name: 'Close valve', action: { type: 'actuator_command', esp_id: 'ESP_1', gpio: 5, command: 'OFF' } },
      ],
    });
    await a.events.next(stepEvent(runId, 1, 'starting'));
    expect(await progressOf(a.url, runId)).toMatchObject({ node: 'node-a', current_step: 1 });

    await a.kill();
    const ended = await within(TAKEOVER_BOUND_MS, 'the takeover', b.events.ended(runId));

    expect(ended.data).toMatchObject({ status: 'completed', steps_completed: 3 });
    const progress = await progressOf(b.url, runId);
    expect(progress).toMatchObject({ status: 'completed', node: 'node-b' });
    expect(progress.step_results.map((result) => [result.step_name, result.success])).toEqual([
      ['Open valve', true],
      ['Water', true],
      ['Close valve', true],
    ]);
    // B's simulated valve heard the OFF only: the ON was A's, before it died.
    expect(await simActuator(b.url, 'ESP_1', 5)).toMatchObject({ commands: 1, actuator: { on: false, last_command: 'OFF' } });
  });
});
