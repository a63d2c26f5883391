import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Codes } from '../../src/domain/errors.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import { actuator, startHarness, wait, type ConfigOverrides, type SafetyHarness } from './safety-harness.ts';

let dir: string;
let path: string;
const open: SafetyHarness[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sequencer-safety-recovery-'));
  path = join(dir, 'sequencer.db');
});

afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
  rmSync(dir, { recursive: true, force: true });
});

async function server(overrides: ConfigOverrides = {}): Promise<SafetyHarness> {
  const h = await startHarness({ db: path, ...overrides }, { openStore: () => openSqliteStore(path) });
  open.push(h);
  return h;
}

/** Starts a run that switches the pump on and waits, and stops the server while it waits. */
async function pumpRunInterruptedByRestart(): Promise<string> {
  const before = await server();
  const runId = before.start({ steps: [actuator('ESP_R', 5, 'ON'), wait(600)] });
  await before.next('sequence_step', (d) => d.run_id === runId && d.step === 0 && d.status === 'completed');
  await before.close();
  open.splice(open.indexOf(before), 1);
  return runId;
}

describe('leases after a restart', () => {
  it('a resumed run still holds its pump: another run gets 5640, and cancelling it turns the pump OFF', async () => {
    const runId = await pumpRunInterruptedByRestart();
    const after = await server({ recovery: 'resume' });
    expect((await after.services.engine.get(runId))?.status).toBe('running');

    const rival = await after.ended(after.start({ steps: [actuator('ESP_R', 5, 'ON')] }));
    expect(rival.error_code).toBe(Codes.ACTUATOR_LOCKED);
    expect(rival.step_results[0]?.message).toBe(`Actuator ESP_R:5 is held by run ${runId} (priority 100)`);

    await after.services.engine.cancel(runId);
    const ended = await after.ended(runId);
    expect(ended.status).toBe('cancelled');
    expect(ended.cleanup_results.map((r) => r.message)).toEqual(['Turned off ESP_R:5']);
    expect(after.sim.actuator('ESP_R', 5)?.on).toBe(false);
    expect(after.services.safety.leases.size).toBe(0);
  });

  it('with --recovery abort the run ends failed with 5633 after its safe state turned the pump OFF', async () => {
    const runId = await pumpRunInterruptedByRestart();
    const after = await server({ recovery: 'abort' });

    const ended = await after.ended(runId);

    expect([ended.status, ended.error_code]).toEqual(['failed', Codes.STATE_CORRUPTION]);
    expect(ended.cleanup_results.map((r) => [r.step_name, r.success, r.message])).toEqual([['Safe state', true, 'Turned off ESP_R:5']]);
    expect(after.sim.actuator('ESP_R', 5)?.on).toBe(false);
  });
});

describe('a restart while the emergency stop holds', () => {
  it('cancels the recovered runs instead of resuming them, and their safe state turns the pump OFF', async () => {
    const before = await server();
    const runId = before.start({ steps: [actuator('ESP_R', 5, 'ON'), wait(600)] });
    await before.next('sequence_step', (d) => d.run_id === runId && d.step === 0 && d.status === 'completed');
    // The server stops between storing the latch and cancelling the runs (as a crash there would).
    before.services.safety.latch.trip('flood in hall 2', Date.now());
    await before.close();
    open.splice(open.indexOf(before), 1);

    const after = await server({ recovery: 'resume' });
    expect(after.services.recovered).toMatchObject({ resumed: 1, cancelled: 1 });

    const ended = await after.ended(runId);
    expect([ended.status, ended.error_code, ended.error]).toEqual(['cancelled', Codes.CANCELLED, 'Cancelled: Emergency stop: flood in hall 2']);
    expect(ended.cleanup_results.map((r) => r.message)).toEqual(['Turned off ESP_R:5']);
    expect(after.sim.actuator('ESP_R', 5)).toMatchObject({ on: false, last_command: 'OFF' });
    expect(after.services.safety.latch.active).toBe(true);
  });
});

describe('runs that cannot be recovered', () => {
  it('a run beyond a lowered --max-concurrent ends failed with 5633 and what it switched on is turned OFF', async () => {
    const before = await server();
    const first = before.start({ steps: [actuator('ESP_A', 5, 'ON'), wait(600)] });
    const second = before.start({ steps: [actuator('ESP_B', 6, 'ON'), wait(600)] });
    for (const runId of [first, second]) await before.next('sequence_step', (d) => d.run_id === runId && d.step === 0 && d.status === 'completed');
    await before.close();
    open.splice(open.indexOf(before), 1);

    const after = await server({ recovery: 'resume', limits: { max_concurrent: 1 } });
    expect((await after.services.engine.get(first))?.status).toBe('running');
    expect(await after.services.engine.get(second)).toMatchObject({ status: 'failed', error_code: Codes.STATE_CORRUPTION });
    await vi.waitFor(() => expect(after.sim.actuator('ESP_B', 6)).toMatchObject({ on: false, last_command: 'OFF' }));
    expect(after.sim.actuator('ESP_A', 5)).toBeUndefined();
    expect(after.services.safety.leases.holderOf('ESP_B:6')).toBeUndefined();
  });
});

describe('leases of nested sequences after a restart', () => {
  /** A nested sequence that switches the pump on; `rest` follows it inside the child. */
  const nested = (rest: Record<string, unknown>[]) => ({
    name: 'Nested pump',
    action: { type: 'sequence', steps: [actuator('ESP_N', 5, 'ON'), ...rest] },
  });

  async function interrupted(steps: Record<string, unknown>[], whenStored: (h: SafetyHarness, runId: string) => Promise<unknown>): Promise<string> {
    const before = await server();
    const runId = before.start({ steps });
    await whenStored(before, runId);
    await before.close();
    open.splice(open.indexOf(before), 1);
    return runId;
  }

  it('a pump a completed nested step left on is turned OFF by the safe state of --recovery abort', async () => {
    const runId = await interrupted([nested([]), wait(600)], (h, id) =>
      h.next('sequence_step', (d) => d.run_id === id && d.step === 1 && d.status === 'starting'),
    );
    const after = await server({ recovery: 'abort' });

    const ended = await after.ended(runId);

    expect(ended.cleanup_results.map((r) => r.message)).toEqual(['Turned off ESP_N:5']);
    expect(after.sim.actuator('ESP_N', 5)?.last_command).toBe('OFF');
  });

  it('a pump switched on by a nested step in flight is turned OFF when that step fails with 5633', async () => {
    const runId = await interrupted([nested([wait(600)])], async (h) => {
      while (h.sim.actuator('ESP_N', 5)?.on !== true) await new Promise((resolve) => setImmediate(resolve));
    });
    const after = await server({ recovery: 'resume' });

    const ended = await after.ended(runId);

    expect([ended.status, ended.step_results[0]?.error_code]).toEqual(['failed', Codes.STATE_CORRUPTION]);
    expect(ended.cleanup_results.map((r) => r.message)).toEqual(['Turned off ESP_N:5']);
    expect(after.sim.actuator('ESP_N', 5)?.last_command).toBe('OFF');
  });
});
