import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { RunStatus } from '../../src/domain/progress.ts';
import type { RunStore, StoredRun } from '../../src/store/run-store.ts';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { engineHarness } from '../helpers/engine.harness.ts';

/** A store in memory that logs what happens in order, and can be told to fail its writes. */
function memoryStore(log: string[]) {
  const rows = new Map<string, StoredRun>();
  let queued: StoredRun[] = [];
  const state = { failing: false };
  const counts = (): Record<RunStatus, number> => {
    const c = { pending: 0, running: 0, paused: 0, completed: 0, failed: 0, cancelled: 0, timeout: 0 };
    for (const r of rows.values()) c[r.status]++;
    return c;
  };
  const store: Partial<RunStore> = {
    queueRun: (run) => void queued.push(run),
    flush: () => {
      if (state.failing) throw new Error('disk full');
      for (const run of queued) rows.set(run.run_id, run);
      log.push(`write ${queued.map((r) => r.status).join(',')}`);
      queued = [];
    },
    getRun: (id) => rows.get(id) ?? [...rows.values()].reverse().find((r) => r.sequence_id === id),
    listRuns: (query) => ({ items: [...rows.values()].slice(query.offset, query.offset + query.limit).map((r) => r.progress), total: rows.size }),
    countByStatus: counts,
    stats: () => ({
      total_sequences: rows.size,
      completed_since: counts().completed,
      failed_since: counts().failed,
      average_duration_seconds: 1.5,
      longest_sequence_id: 'from-store',
      most_common_failure_step: null,
    }),
  };
  return { store: store as RunStore, rows, state };
}

describe('engine: write-ahead of events to the store', () => {
  let h: ReturnType<typeof engineHarness>;
  let log: string[];
  let memory: ReturnType<typeof memoryStore>;
  beforeEach(() => {
    vi.useFakeTimers();
    log = [];
    memory = memoryStore(log);
    h = engineHarness({ store: memory.store });
    h.engine.events.subscribe((e) => void log.push(`event ${e.type}`));
  });
  afterEach(async () => {
    await h.engine.close();
    vi.useRealTimers();
  });

  it("a run's transitions are written before their events are published", async () => {
    const { run_id } = h.engine.start(definition([actuatorStep()]));
    expect(log).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(log[0]).toBe('write running');
    expect(log[1]).toBe('event sequence_started');
    await vi.advanceTimersByTimeAsync(100);
    const completedAt = log.indexOf('event sequence_completed');
    expect(log.lastIndexOf('write completed')).toBeLessThan(completedAt);
    expect(memory.rows.get(run_id)).toMatchObject({ status: 'completed', snapshot: null, progress: { status: 'completed' } });
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
    const durable = h.engine.whenDurable().then(() => memory.rows.get(run_id)?.status);
    await vi.advanceTimersByTimeAsync(0);
    expect(await durable).toBe('running');
    expect(log.slice(0, 2)).toEqual(['write running', 'event sequence_started']);
    expect(log.indexOf('remote effect')).toBeGreaterThan(log.indexOf('write running'));
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

  it('a running run is stored with its persisted XState snapshot', async () => {
    const { run_id } = h.engine.start(definition([delayStep(30)]));
    await vi.advanceTimersByTimeAsync(0);
    expect(memory.rows.get(run_id)?.snapshot).toMatchObject({ status: 'active', value: { running: 'delaying' } });
    expect(h.engine.snapshot(run_id)).toMatchObject({ value: { running: 'delaying' } });
  });

  it('list, stats and get read the stored history', async () => {
    const { run_id } = h.engine.start(definition([actuatorStep()], { sequence_id: 'stored' }));
    await vi.advanceTimersByTimeAsync(100);
    expect(h.engine.list({ limit: 10, offset: 0 })).toMatchObject({ total: 1, completed: 1, running: 0, failed: 0 });
    expect(h.engine.stats()).toMatchObject({ total_sequences: 1, completed_last_hour: 1, longest_sequence_id: 'from-store' });
    h.engine.sweep(Date.now() + 10 * 3_600_000);
    expect(h.engine.get(run_id)?.status).toBe('completed');
    expect(h.engine.snapshot(run_id)).toBeNull();
  });

  it('when a write fails the error is reported and the runs it held end failed with 5631', async () => {
    memory.state.failing = true;
    const { run_id } = h.engine.start(definition([delayStep(30)]));
    await vi.advanceTimersByTimeAsync(0);
    expect(h.errors.map((e) => e.message)).toContain('store write failed for 1 runs');
    memory.state.failing = false;
    await vi.advanceTimersByTimeAsync(100);
    expect(h.engine.get(run_id)).toMatchObject({ status: 'failed', error_code: 5631, error: 'Run state could not be stored' });
  });
});
