import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { CommitBatch, RunStore } from '../../src/store/run-store.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { engineHarness } from '../helpers/engine.harness.ts';

/** What a commit wrote, as a log line: `write start:running record end:completed`. */
function describeBatch(batch: CommitBatch): string {
  const parts = [...batch.starts.map((s) => `start:${s.status}`), ...batch.records.map(() => 'record'), ...batch.ends.map((e) => `end:${e.status}`)];
  return `write ${parts.join(' ')}`;
}

/** The SQLite store in memory, logging each commit in order, and able to fail them. */
function loggingStore(log: string[]) {
  const inner = openSqliteStore(':memory:');
  const state = { failing: false };
  const store: RunStore = Object.create(inner) as RunStore;
  store.commit = async (batch) => {
    if (state.failing) throw new Error('disk full');
    const result = await inner.commit(batch);
    log.push(describeBatch(batch));
    return result;
  };
  return { store, inner, state };
}

describe('engine: write-ahead of events to the store', () => {
  let h: ReturnType<typeof engineHarness>;
  let log: string[];
  let memory: ReturnType<typeof loggingStore>;
  beforeEach(() => {
    vi.useFakeTimers();
    log = [];
    memory = loggingStore(log);
    h = engineHarness({ store: memory.store });
    h.engine.events.subscribe((e) => void log.push(`event ${e.type}`));
  });
  afterEach(async () => {
    await h.engine.close();
    await memory.inner.close();
    vi.useRealTimers();
  });

  it("a run's transitions are written before their events are published", async () => {
    const { run_id } = h.engine.start(definition([actuatorStep()]));
    expect(log).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(log[0]).toBe('write start:running record');
    expect(log[1]).toBe('event sequence_started');
    await vi.advanceTimersByTimeAsync(100);
    const completedAt = log.indexOf('event sequence_completed');
    expect(log.map((line) => line.includes('end:completed')).lastIndexOf(true)).toBeLessThan(completedAt);
    expect(await memory.store.getRun(run_id)).toMatchObject({ status: 'completed', progress: { status: 'completed' } });
    expect(await memory.store.unfinishedRuns()).toEqual([]);
  });

  it("an action whose effect leaves the process starts only after its run's start is stored, and the start is durable when whenDurable resolves", async () => {
    h.executors.register({
      type: 'remote',
      schema: z.looseObject({ type: z.literal('remote') }),
      execute: async () => {
        log.push('remote effect');
        return 'done';
      },
    });
    const { run_id } = h.engine.start(definition([{ name: 'Call out', action: { type: 'remote' } }]));
    const durable = h.engine.whenDurable().then(async () => (await memory.store.getRun(run_id))?.status);
    await vi.advanceTimersByTimeAsync(0);
    expect(await durable).toBe('running');
    expect(log.slice(0, 2)).toEqual(['write start:running record', 'event sequence_started']);
    expect(log.indexOf('remote effect')).toBeGreaterThan(log.indexOf('write start:running record'));
  });

  it('a command to a simulated device (gone with the process in a crash) starts without waiting for the commit', async () => {
    const send = h.driver.send.bind(h.driver);
    vi.spyOn(h.driver, 'send').mockImplementation((command, options) => {
      log.push(`command ${command.command}`);
      return send(command, options);
    });
    h.engine.start(definition([actuatorStep()]));
    await Promise.resolve();
    await Promise.resolve();
    expect(log).toEqual(['command ON']);
  });

  it("a running run's journal holds the events it took, each with its time", async () => {
    const { run_id } = h.engine.start(definition([delayStep(30)]));
    const started = Date.now();
    await vi.advanceTimersByTimeAsync(0);
    const [stored] = await memory.store.unfinishedRuns();
    expect(stored).toMatchObject({ run_id, status: 'running', records: [{ events: [{ type: 'START', now: started }] }] });
    expect((stored?.body as { plan: { steps: unknown[] } }).plan.steps).toHaveLength(1);
    expect(await h.engine.snapshot(run_id)).toMatchObject({ value: { running: 'delaying' } });
  });

  it('list, stats and get read the stored history', async () => {
    const { run_id } = h.engine.start(definition([actuatorStep()], { sequence_id: 'stored' }));
    await vi.advanceTimersByTimeAsync(100);
    expect(await h.engine.list({ limit: 10, offset: 0 })).toMatchObject({ total: 1, completed: 1, running: 0, failed: 0 });
    expect(await h.engine.stats()).toMatchObject({ total_sequences: 1, completed_last_hour: 1, longest_sequence_id: 'stored' });
    // The run left memory when its history row was committed: these come from the store.
    expect((await h.engine.get(run_id))?.status).toBe('completed');
    expect(await h.engine.snapshot(run_id)).toBeNull();
  });

  it('when a write fails the error is reported and the runs it held end failed with 5631', async () => {
    memory.state.failing = true;
    const { run_id } = h.engine.start(definition([delayStep(30)]));
    await vi.advanceTimersByTimeAsync(0);
    expect(h.errors.map((e) => e.message)).toContain('store write failed for 1 runs');
    memory.state.failing = false;
    await vi.advanceTimersByTimeAsync(100);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'failed', error_code: 5631, error: 'Run state could not be stored' });
    expect(await memory.store.getRun(run_id)).toMatchObject({ status: 'failed', progress: { error_code: 5631 } });
  });
});
