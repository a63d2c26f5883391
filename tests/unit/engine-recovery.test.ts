/**
 * Engine-level recovery (SPEC 11) on a real SQLite store: one engine writes its runs and stops
 * the way a crash leaves them (actors stopped, nothing ended), a second engine on the same store
 * recovers them. Also: a store write that fails fails the affected runs with 5631.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { Progress } from '../../src/domain/progress.ts';
import type { Executor } from '../../src/executors/executor.ts';
import type { RunStore } from '../../src/store/run-store.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { engineHarness, type HarnessOptions } from '../helpers/engine.harness.ts';
import { writeV4Database } from '../helpers/v4-database.ts';
import { endOf, startOf } from './run-store.fixtures.ts';

type Harness = ReturnType<typeof engineHarness>;

let store: SqliteStore;
const engines: Harness[] = [];

beforeEach(() => {
  vi.useFakeTimers();
  store = openSqliteStore(':memory:');
});

afterEach(async () => {
  for (const h of engines.splice(0)) await h.engine.close();
  await store.close();
  vi.useRealTimers();
});

function harness(options: HarnessOptions = {}): Harness {
  const h = engineHarness({ store, latencyMs: 0, ...options });
  engines.push(h);
  return h;
}

/** Stops an engine as a crash would leave its runs: the store keeps their last written state. */
async function crash(h: Harness): Promise<void> {
  await h.engine.close();
  engines.splice(engines.indexOf(h), 1);
}

const valve = (command: string, extra: Record<string, unknown> = {}) =>
  actuatorStep({ name: `Valve ${command}`, action: { type: 'actuator_command', esp_id: 'ESP_1', gpio: 5, command, ...extra } });

describe('recover("resume")', () => {
  it('journals the plan once and each turn as the events it took; a restart replays them and resumes', async () => {
    const before = harness();
    const { run_id } = before.engine.start(definition([valve('ON'), delayStep(10), valve('OFF')]));
    await vi.advanceTimersByTimeAsync(3000);
    const [stored] = await store.unfinishedRuns();
    expect((stored?.body as { plan: unknown }).plan).toMatchObject({ steps: [{ name: 'Valve ON' }, { name: 'Wait 10 s', waitMs: 10_000 }, { name: 'Valve OFF' }] });
    const events = (stored?.records as { events: { type: string }[] }[]).flatMap((record) => record.events.map((event) => event.type));
    expect(events).toEqual(['START', 'STEP_DONE']);
    await crash(before);

    const after = harness();
    expect(await after.engine.recover('resume')).toMatchObject({ resumed: 1 });
    // Replay told the device nothing: the valve was switched on once, before the crash.
    expect(after.driver.actuator('ESP_1', 5)).toBeUndefined();
    await vi.advanceTimersByTimeAsync(7010);
    expect(after.events.completed(run_id)).toMatchObject({ status: 'completed', steps_completed: 3 });
    // Only recovery needs the plan and the journal: the ended run keeps its definition and history.
    expect(await store.getRun(run_id)).toMatchObject({ status: 'completed', progress: { status: 'completed' } });
    expect(await store.unfinishedRuns()).toEqual([]);
  });

  it('keeps a definition as sent, without the defaults validation filled in, and recovers it with the start mode and priority validation gave it', async () => {
    const before = harness();
    const sent = definition([delayStep(10)], { description: 'Mist the seedlings' });
    const { run_id, sequence_id } = before.engine.start(sent);
    await vi.advanceTimersByTimeAsync(10);
    // As sent, under the sequence_id the engine gave it; no step name, mode or timeout added.
    expect((await store.getRun(run_id))?.definition).toEqual({ ...sent, sequence_id });
    await crash(before);

    const after = harness();
    expect(await after.engine.recover('resume')).toMatchObject({ resumed: 1 });
    expect(await after.engine.get(run_id)).toMatchObject({ mode: 'single', description: 'Mist the seedlings' });
    expect(after.engine.activeRuns().map((run) => [run.mode, run.priority])).toEqual([['single', 100]]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(after.events.completed(run_id)).toMatchObject({ status: 'completed' });
  });

  it('recovers a run whose definition is missing from its start record, under its stored sequence_id', async () => {
    const before = harness();
    before.engine.start(definition([delayStep(10)], { sequence_id: 'model' }));
    await vi.advanceTimersByTimeAsync(10);
    const [model] = await store.unfinishedRuns();
    await crash(before);
    // Its definition row lost (the history LEFT JOINs it, so it reads null); the plan is in its start body.
    await store.commit({ starts: [startOf({ run_id: 'run-bare', sequence_id: 'bare', status: 'pending', created_at: Date.now(), definition: null, body: model?.body })], records: [], ends: [] });

    const after = harness();
    expect(await after.engine.recover('resume')).toMatchObject({ queued: 1, failed: 0 });
    await vi.advanceTimersByTimeAsync(10_010);
    expect(await after.engine.get('run-bare')).toMatchObject({ sequence_id: 'bare', status: 'completed' });
  });

  it('a run stored before the journal (schema v4, its plan inside its snapshot, none beside it) resumes too', async () => {
    const before = harness();
    const { run_id } = before.engine.start(definition([valve('ON'), delayStep(10), valve('OFF')]));
    await vi.advanceTimersByTimeAsync(3000);
    const snapshot = await before.engine.snapshot(run_id);
    const progress = (await before.engine.get(run_id)) as Progress;
    await crash(before);
    // As the v3 store kept it: the plan in the snapshot and no plan column. The definition calls a
    // template that is gone, so only the snapshot's plan can resume the run.
    const dir = mkdtempSync(join(tmpdir(), 'sequencer-v4-'));
    try {
      const gone = { ...definition([]), steps: [{ name: 'Call', action: { type: 'sequence', template: 'gone' } }] };
      writeV4Database(join(dir, 'v4.db'), [{ run_id, sequence_id: progress.sequence_id, status: 'running', definition: gone, progress, snapshot, created_at: Date.now() - 3000, ended_at: null }]);
      const old = openSqliteStore(join(dir, 'v4.db'));
      const after = harness({ store: old });
      expect(await after.engine.recover('resume')).toMatchObject({ resumed: 1 });
      await vi.advanceTimersByTimeAsync(7010);
      expect(after.events.completed(run_id)).toMatchObject({ status: 'completed', steps_completed: 3 });
      await crash(after);
      await old.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a run stopped in its delay waits out the rest of it and completes with every step result', async () => {
    const before = harness();
    const { run_id } = before.engine.start(definition([valve('ON'), delayStep(10), valve('OFF')]));
    await vi.advanceTimersByTimeAsync(3000);
    await crash(before);

    const after = harness();
    expect(await after.engine.recover('resume')).toEqual({ resumed: 1, aborted: 0, queued: 0, failed: 0 });
    expect(await after.engine.get(run_id)).toMatchObject({ status: 'running', state: 'running.delaying', current_step: 1 });
    await vi.advanceTimersByTimeAsync(6990);
    expect(after.events.completed(run_id)).toBeUndefined();
    await vi.advanceTimersByTimeAsync(20);

    expect(after.events.completed(run_id)).toMatchObject({ status: 'completed', steps_completed: 3, steps_failed: 0 });
    expect((await after.engine.get(run_id))?.step_results.map((r) => r.step_name)).toEqual(['Valve ON', 'Wait 10 s', 'Valve OFF']);
    expect(after.events.steps(run_id)).toEqual(['1:completed', '2:starting', '2:completed']);
    expect(after.driver.actuator('ESP_1', 5)).toMatchObject({ on: false, last_command: 'OFF' });
    expect(await store.getRun(run_id)).toMatchObject({ status: 'completed', progress: { status: 'completed' } });
    expect(await store.unfinishedRuns()).toEqual([]);
  });

  it('a delay that ended while the server was down ends at once', async () => {
    const before = harness();
    const { run_id } = before.engine.start(definition([delayStep(10), delayStep(5)]));
    await vi.advanceTimersByTimeAsync(1000);
    await crash(before);
    vi.setSystemTime(Date.now() + 60_000);

    const after = harness();
    await after.engine.recover('resume');
    await vi.advanceTimersByTimeAsync(0);

    expect(await after.engine.get(run_id)).toMatchObject({ state: 'running.delaying', current_step: 1 });
    await vi.advanceTimersByTimeAsync(5001);
    expect(after.events.completed(run_id)?.status).toBe('completed');
  });

  it('an action in flight fails with 5633 without a retry, and the run follows on_failure', async () => {
    const before = harness({ latencyMs: 5000 });
    const aborting = before.engine.start(definition([valve('ON', {}), delayStep(1)], { sequence_id: 'a' }));
    const going = before.engine.start(definition([{ ...valve('ON'), on_failure: 'continue', retry_count: 3 }, delayStep(1)], { sequence_id: 'b' }));
    await vi.advanceTimersByTimeAsync(1000);
    await crash(before);

    const after = harness();
    await after.engine.recover('resume');
    await vi.advanceTimersByTimeAsync(2000);

    expect(after.events.completed(aborting.run_id)).toMatchObject({ status: 'failed', error_code: 5633 });
    expect((await after.engine.get(aborting.run_id))?.step_results.map((r) => [r.success, r.error_code, r.retries])).toEqual([[false, 5633, 0]]);
    expect(after.events.completed(going.run_id)).toMatchObject({ status: 'completed', steps_completed: 1, steps_failed: 1 });
    expect(after.driver.devices()).toEqual([]);
  });

  it('an idempotent action in flight is sent again', async () => {
    const before = harness({ latencyMs: 5000 });
    const { run_id } = before.engine.start(definition([valve('ON', { idempotent: true })]));
    await vi.advanceTimersByTimeAsync(1000);
    await crash(before);

    const after = harness();
    await after.engine.recover('resume');
    await vi.advanceTimersByTimeAsync(10);

    expect(after.events.completed(run_id)).toMatchObject({ status: 'completed', steps_completed: 1 });
    expect(after.driver.devices()[0]).toMatchObject({ esp_id: 'ESP_1', commands: 1 });
    expect(after.driver.actuator('ESP_1', 5)?.on).toBe(true);
  });

  it('queued runs queue again, in their order, behind the recovered run', async () => {
    const before = harness();
    const queued = (name: string, steps = [delayStep(0, { name })]) => before.engine.start(definition(steps, { sequence_id: 'z', mode: 'queued' }));
    const first = queued('first', [delayStep(10)]);
    const second = queued('second');
    const third = queued('third');
    await vi.advanceTimersByTimeAsync(10);
    await crash(before);

    const after = harness();
    expect(await after.engine.recover('resume')).toMatchObject({ resumed: 1, queued: 2 });
    expect((await after.engine.get(second.run_id))?.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(10_001);

    const ends = after.events.ofType('sequence_completed').map((e) => [e.data.run_id, e.data.status]);
    expect(ends).toEqual([
      [first.run_id, 'completed'],
      [second.run_id, 'completed'],
      [third.run_id, 'completed'],
    ]);
  });

  it('a queued run whose sequence has nothing left to wait for starts at once', async () => {
    const before = harness();
    before.engine.start(definition([delayStep(10)], { sequence_id: 'z', mode: 'queued' }));
    const waiting = before.engine.start(definition([delayStep(1)], { sequence_id: 'z', mode: 'queued' }));
    await vi.advanceTimersByTimeAsync(10);
    await crash(before);
    // The run it waited for ended (here: its row says so) before the restart.
    const [head] = await store.unfinishedRuns();
    await store.commit({ starts: [], records: [], ends: [endOf({ run_id: head?.run_id, sequence_id: 'z', status: 'completed', ended_at: Date.now() })] });

    const after = harness();
    expect(await after.engine.recover('resume')).toMatchObject({ resumed: 0, queued: 1 });
    expect((await after.engine.get(waiting.run_id))?.status).toBe('running');
    await vi.advanceTimersByTimeAsync(1001);
    expect(after.events.completed(waiting.run_id)?.status).toBe('completed');
  });

  it('a nested run is not stored apart: only its parent comes back, its lost step fails with 5633', async () => {
    const before = harness();
    const nested = { name: 'Inner', action: { type: 'sequence', steps: [{ delay_seconds: 100 }] } };
    const { run_id } = before.engine.start(definition([nested], { sequence_id: 'outer' }));
    await vi.advanceTimersByTimeAsync(10);
    expect((await store.unfinishedRuns()).map((r) => r.sequence_id)).toEqual(['outer']);
    await crash(before);

    const after = harness();
    expect(await after.engine.recover('resume')).toMatchObject({ resumed: 1 });
    await vi.advanceTimersByTimeAsync(10);
    expect(after.events.completed(run_id)).toMatchObject({ status: 'failed', error_code: 5633 });
    expect((await after.engine.list({ limit: 10, offset: 0 })).items.map((p) => p.sequence_id)).toEqual(['outer']);
  });

  it('a run that cannot be restored is stored as failed with 5633; the others are recovered', async () => {
    const before = harness();
    const fine = before.engine.start(definition([delayStep(10)], { sequence_id: 'fine' }));
    await vi.advanceTimersByTimeAsync(10);
    await crash(before);
    // A queued run stored before schema v4 (no plan of its own) whose nested template was deleted
    // while the server was down: no plan can be built. Such a row kept the validated definition.
    const validated = before.engine.validate(definition([delayStep(10)]));
    if (!validated.ok) throw new Error('the fixture does not validate');
    const orphanDefinition = { ...validated.definition, sequence_id: 'orphan', steps: [{ name: 'Call', action: { type: 'sequence', template: 'gone' } }] };
    await store.commit({
      starts: [startOf({ run_id: 'run-orphan', sequence_id: 'orphan', status: 'pending', created_at: Date.now(), definition: orphanDefinition, body: { plan: null, context: null, template: null } })],
      records: [],
      ends: [],
    });

    const after = harness();
    expect(await after.engine.recover('resume')).toMatchObject({ resumed: 1, failed: 1 });
    expect(after.errors.map((e) => e.message)).toEqual(['run run-orphan could not be recovered']);
    expect(await store.getRun('run-orphan')).toMatchObject({ status: 'failed', progress: { status: 'failed', error_code: 5633 } });
    expect((await store.getRun('run-orphan'))?.progress?.error).toMatch(/^Run could not be recovered after a restart: .*'gone'/);
    expect((await store.unfinishedRuns()).map((run) => run.run_id)).toEqual([fine.run_id]);
    expect(after.engine.activeRuns().map((r) => r.runId)).toEqual([fine.run_id]);
    await vi.advanceTimersByTimeAsync(10_001);
    expect(after.events.completed(fine.run_id)?.status).toBe('completed');
  });
});

describe('recover("abort")', () => {
  it('ends every unfinished run failed with 5633 after its cleanup', async () => {
    const before = harness({ latencyMs: 5000 });
    const waiting = before.engine.start(definition([delayStep(10)], { sequence_id: 'w', cleanup_steps: [valve('OFF')] }));
    const acting = before.engine.start(definition([valve('ON')], { sequence_id: 'a' }));
    await vi.advanceTimersByTimeAsync(1000);
    await crash(before);

    const after = harness();
    expect(await after.engine.recover('abort')).toMatchObject({ aborted: 2, resumed: 0 });
    await vi.advanceTimersByTimeAsync(10);

    for (const { run_id } of [waiting, acting]) {
      expect(after.events.completed(run_id)).toMatchObject({ status: 'failed', error_code: 5633, error: 'Run interrupted by a restart' });
      expect((await after.engine.get(run_id))?.step_results.map((r) => [r.success, r.error_code])).toEqual([[false, 5633]]);
    }
    expect((await after.engine.get(waiting.run_id))?.cleanup_results.map((r) => r.step_name)).toEqual(['Valve OFF', 'Safe state']);
    expect(after.driver.actuator('ESP_1', 5)?.last_command).toBe('OFF');
  });

  it('a run whose safe state was in flight has it sent again and keeps its outcome', async () => {
    let safeStates = 0;
    const slowSafeState = (ms: number): Executor => ({
      type: 'safe_state',
      internal: true,
      schema: undefined as never,
      execute: () => {
        safeStates++;
        return new Promise((resolve) => setTimeout(() => resolve('Made safe'), ms));
      },
    });
    const before = harness({ executors: (r) => r.register(slowSafeState(5000)) });
    const { run_id } = before.engine.start(definition([delayStep(60)]));
    await vi.advanceTimersByTimeAsync(10);
    await before.engine.cancel(run_id, 'operator');
    await vi.advanceTimersByTimeAsync(1000);
    await crash(before);

    const after = harness({ executors: (r) => r.register(slowSafeState(0)) });
    await after.engine.recover('abort');
    await vi.advanceTimersByTimeAsync(10);

    expect(safeStates).toBe(2);
    expect(after.events.completed(run_id)).toMatchObject({ status: 'cancelled' });
    expect((await after.engine.get(run_id))?.cleanup_results.map((r) => [r.step_name, r.success, r.message])).toEqual([['Safe state', true, 'Made safe']]);
  });

  it('a run still waiting in its queue ends failed with 5633 and never starts', async () => {
    const before = harness();
    const head = before.engine.start(definition([delayStep(10)], { sequence_id: 'z', mode: 'queued' }));
    const waiting = before.engine.start(definition([valve('ON')], { sequence_id: 'z', mode: 'queued' }));
    await vi.advanceTimersByTimeAsync(10);
    await crash(before);

    const after = harness();
    expect(await after.engine.recover('abort')).toEqual({ resumed: 0, aborted: 2, queued: 0, failed: 0 });
    await vi.advanceTimersByTimeAsync(10);

    expect(after.events.completed(head.run_id)).toMatchObject({ status: 'failed', error_code: 5633 });
    expect(after.events.completed(waiting.run_id)).toMatchObject({ status: 'failed', error_code: 5633, error: 'Run interrupted by a restart' });
    expect(await after.engine.get(waiting.run_id)).toMatchObject({ status: 'failed', error_code: 5633 });
    expect(await store.getRun(waiting.run_id)).toMatchObject({ status: 'failed' });
    expect(after.driver.actuator('ESP_1', 5)).toBeUndefined();
  });
});

describe('a store write that fails', () => {
  /** The SQLite store, with commits that can be made to fail. */
  function faultyStore(inner: RunStore) {
    const faults = { commit: 0 };
    const wrapped: RunStore = Object.create(inner) as RunStore;
    wrapped.commit = async (batch) => {
      if (faults.commit > 0) {
        faults.commit--;
        throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
      }
      return inner.commit(batch);
    };
    return { wrapped, faults };
  }

  it('fails the runs of the failed batch with 5631, reports it, and the engine keeps working', async () => {
    const { wrapped, faults } = faultyStore(store);
    const h = harness({ store: wrapped });
    const a = h.engine.start(definition([delayStep(10)]));
    const b = h.engine.start(definition([delayStep(10)]));
    await vi.advanceTimersByTimeAsync(10);
    faults.commit = 1;
    await h.engine.pause(a.run_id);
    await h.engine.pause(b.run_id);
    await vi.advanceTimersByTimeAsync(10);

    for (const { run_id } of [a, b]) {
      expect(h.events.completed(run_id)).toMatchObject({ status: 'failed', error_code: 5631, error: 'Run state could not be stored' });
      expect(await store.getRun(run_id)).toMatchObject({ status: 'failed', progress: { error_code: 5631 } });
    }
    expect(await store.unfinishedRuns()).toEqual([]);
    expect(h.errors.map((e) => e.message)).toEqual(['store write failed for 2 runs']);
    // The events of the failed batch still went out, before the failure they caused.
    const types = h.events.of(a.run_id).map((e) => e.type);
    expect(types.indexOf('sequence_paused')).toBeLessThan(types.indexOf('sequence_error'));

    const later = h.engine.start(definition([delayStep(1)]));
    await vi.advanceTimersByTimeAsync(1001);
    expect(h.events.completed(later.run_id)?.status).toBe('completed');
  });

  it('a run that cannot be serialised fails alone; the rest of its batch is written', async () => {
    const h = harness();
    // What triggered it cannot be written as JSON.
    const bad = h.engine.start(definition([delayStep(10)]), { context: { trigger_data: { reading: 10n } } });
    const good = h.engine.start(definition([delayStep(10)]));
    await vi.advanceTimersByTimeAsync(10_001);

    expect(h.events.completed(bad.run_id)).toMatchObject({ status: 'failed', error_code: 5631 });
    expect(h.events.completed(good.run_id)?.status).toBe('completed');
    expect((await store.getRun(good.run_id))?.status).toBe('completed');
    expect(await store.getRun(bad.run_id)).toBeUndefined();
    expect(new Set(h.errors.map((e) => e.message))).toEqual(new Set(['store write failed for 1 runs']));
  });
});

/** An executor whose lookup throws inside the run's transition, as a defect in an action would. */
const defect: Executor = {
  type: 'defect',
  schema: z.object({ type: z.literal('defect') }).loose() as never,
  get execute(): never {
    throw new Error('defect in an action');
  },
};

describe('a run whose actor crashes (a defect)', () => {
  it('ends failed with 5631 and is stored as ended, so a restart does not bring it back', async () => {
    const h = harness({ executors: (r) => r.register(defect) });
    const { run_id } = h.engine.start(definition([delayStep(1), { name: 'Crash', action: { type: 'defect' } }]));
    await vi.advanceTimersByTimeAsync(1010);

    expect(h.events.completed(run_id)).toMatchObject({ status: 'failed', error_code: 5631 });
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'failed', error_code: 5631 });
    expect(h.engine.runningCount).toBe(0);
    await crash(h);
    expect(await store.getRun(run_id)).toMatchObject({ status: 'failed', progress: { error_code: 5631 } });
    expect(await store.unfinishedRuns()).toEqual([]);

    const after = harness({ executors: (r) => r.register(defect) });
    expect(await after.engine.recover('resume')).toMatchObject({ resumed: 0 });
  });
});

describe('a nested run whose actor crashes (a defect)', () => {
  it('takes its parent run down with it: failed with 5631 at once, not left waiting for its step timeout', async () => {
    const h = harness({ executors: (r) => r.register(defect) });
    const nested = { name: 'Inner', action: { type: 'sequence', steps: [{ name: 'Crash', action: { type: 'defect' } }] } };
    const { run_id } = h.engine.start(definition([nested]));
    await vi.advanceTimersByTimeAsync(100);

    expect(h.events.completed(run_id)).toMatchObject({ status: 'failed', error_code: 5631 });
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'failed', error: 'Run crashed: defect in an action' });
    expect(h.engine.runningCount).toBe(0);
  });
});

describe('a nested run that crashes in a later step', () => {
  it('leaves no timer behind that fires again and again', async () => {
    const h = harness({ executors: (r) => r.register(defect) });
    const nested = { name: 'Inner', action: { type: 'sequence', steps: [{ delay_seconds: 1 }, { name: 'Crash', action: { type: 'defect' } }] } };
    const { run_id } = h.engine.start(definition([nested]));
    await vi.advanceTimersByTimeAsync(1100);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'failed', error_code: 5631 });

    const timers = vi.spyOn(globalThis, 'setTimeout');
    await vi.advanceTimersByTimeAsync(5000);

    expect(timers).not.toHaveBeenCalled();
    timers.mockRestore();
  });
});
