/**
 * The write-ahead of events: with a store, an event goes out only after the runs changed in its
 * turn of the event loop are committed, in one batch holding each run's latest state; without a
 * store events go out at once. A failed write is reported and its events still go out.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Run } from '../../src/engine/run.ts';
import { BATCH_RUNS, WriteAhead } from '../../src/engine/write-ahead.ts';
import { EventBus } from '../../src/events/event-bus.ts';
import type { EventEnvelope } from '../../src/events/event-types.ts';
import type { RunStore, StoredRun } from '../../src/store/run-store.ts';

/** A store that records what each flush committed, and can be told to fail. */
class RecordingStore {
  readonly commits: { runId: string; status: string }[][] = [];
  queued: StoredRun[] = [];
  failFlush = false;
  unserialisable = new Set<string>();

  queueRun(run: StoredRun): void {
    if (this.unserialisable.has(run.run_id)) throw new TypeError('cyclic object value');
    this.queued.push(run);
  }

  flush(): void {
    if (this.failFlush) throw new Error('SQLITE_FULL: database or disk is full');
    this.commits.push(this.queued.map((run) => ({ runId: run.run_id, status: run.status })));
    this.queued = [];
  }

  committed(runId: string): string | undefined {
    return this.commits.flat().filter((c) => c.runId === runId).at(-1)?.status;
  }
}

const run = (runId: string, status = 'running'): Run => ({ runId, status }) as Run;
const rowOf = (r: Run): StoredRun => ({ run_id: r.runId, status: r.status }) as StoredRun;
const stateEvent = (r: Run) => ({ sequence_id: 's', run_id: r.runId, state: r.status, previous_state: 'idle', event: 'START', current_step: 0, status: r.status });

let bus: EventBus;
let published: EventEnvelope[];
let store: RecordingStore;
let failures: { error: unknown; runs: string[] }[];

beforeEach(() => {
  vi.useFakeTimers();
  bus = new EventBus();
  published = [];
  bus.subscribe((e) => {
    published.push(e);
  });
  store = new RecordingStore();
  failures = [];
});

afterEach(() => {
  vi.useRealTimers();
});

function writeAhead(withStore = true): WriteAhead {
  return new WriteAhead(bus, withStore ? (store as unknown as RunStore) : null, rowOf, (error, runs) => {
    failures.push({ error, runs: runs.map((r) => r.runId) });
  });
}

describe('WriteAhead without a store', () => {
  it('publishes each event at once and writes nothing', () => {
    const out = writeAhead(false);
    const a = run('a');
    out.touch(a);
    out.event('sequence_state', stateEvent(a), 1);
    expect(published.map((e) => e.type)).toEqual(['sequence_state']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('WriteAhead with a store', () => {
  it("holds the events of a turn until that turn's runs are committed, then publishes them in order", async () => {
    const out = writeAhead();
    const a = run('a');
    const seenAtPublish: (string | undefined)[] = [];
    bus.subscribe(() => {
      seenAtPublish.push(store.committed('a'));
    });
    out.touch(a);
    out.event('sequence_started', { sequence_id: 's', run_id: 'a', total_steps: 1, description: null, rule_id: null, rule_name: null, mode: 'single' }, 1);
    a.status = 'completed';
    out.touch(a);
    out.event('sequence_state', stateEvent(a), 2);
    expect(published).toEqual([]);

    await vi.advanceTimersByTimeAsync(0);

    expect(published.map((e) => e.type)).toEqual(['sequence_started', 'sequence_state']);
    // Every event found its run's latest state already committed.
    expect(seenAtPublish).toEqual(['completed', 'completed']);
  });

  it('writes every run changed in one turn in one batch, each once with its latest state', async () => {
    const out = writeAhead();
    const runs = Array.from({ length: 100 }, (_, i) => run(`r${i}`));
    for (const r of runs) out.touch(r);
    for (const r of runs) {
      r.status = 'paused';
      out.touch(r);
    }
    await vi.advanceTimersByTimeAsync(0);

    expect(store.commits).toHaveLength(1);
    expect(store.commits[0]).toHaveLength(100);
    expect(new Set(store.commits[0]?.map((c) => c.status))).toEqual(new Set(['paused']));
    expect(out.lastBatchSize).toBe(100);
    expect(out.lastFlushMs).toBeGreaterThanOrEqual(0);
  });

  it('a turn that changes BATCH_RUNS runs writes them after the current callback, without waiting for the turn to end', async () => {
    const out = writeAhead();
    const runs = Array.from({ length: BATCH_RUNS + 10 }, (_, i) => run(`r${i}`));
    for (const r of runs.slice(0, BATCH_RUNS)) out.touch(r);
    out.event('sequence_state', stateEvent(runs[0] as Run), 1);
    await Promise.resolve();
    expect(store.commits.map((batch) => batch.length)).toEqual([BATCH_RUNS]);
    expect(published).toHaveLength(1);

    for (const r of runs.slice(BATCH_RUNS)) out.touch(r);
    await vi.advanceTimersByTimeAsync(0);
    expect(store.commits.map((batch) => batch.length)).toEqual([BATCH_RUNS, 10]);
  });

  it('a later turn is a new batch', async () => {
    const out = writeAhead();
    out.touch(run('a'));
    await vi.advanceTimersByTimeAsync(0);
    out.touch(run('b'));
    await vi.advanceTimersByTimeAsync(0);
    expect(store.commits.map((batch) => batch.map((c) => c.runId))).toEqual([['a'], ['b']]);
  });

  it('a turn with events and no changed run publishes without a write', async () => {
    const out = writeAhead();
    out.event('sequence_state', stateEvent(run('a')), 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(published).toHaveLength(1);
    expect(store.commits).toEqual([]);
  });

  it("a failed commit is reported with every run of the batch, and the batch's events still go out", async () => {
    const out = writeAhead();
    const a = run('a');
    const b = run('b');
    out.touch(a);
    out.touch(b);
    out.event('sequence_state', stateEvent(a), 1);
    out.event('sequence_state', stateEvent(b), 2);
    store.failFlush = true;

    await vi.advanceTimersByTimeAsync(0);

    expect(failures.map((f) => [(f.error as Error).message, f.runs])).toEqual([['SQLITE_FULL: database or disk is full', ['a', 'b']]]);
    expect(published.map((e) => (e.data as { run_id: string }).run_id)).toEqual(['a', 'b']);
    expect(out.lastBatchSize).toBe(0);
  });

  it('a run that cannot be serialised is reported alone; the rest of its batch is committed', async () => {
    const out = writeAhead();
    store.unserialisable.add('bad');
    for (const id of ['a', 'bad', 'c']) out.touch(run(id));

    await vi.advanceTimersByTimeAsync(0);

    expect(failures.map((f) => f.runs)).toEqual([['bad']]);
    expect(store.commits.map((batch) => batch.map((c) => c.runId))).toEqual([['a', 'c']]);
    expect(out.lastBatchSize).toBe(2);
  });

  it('flush() called directly writes and publishes at once (queries and shutdown need it)', () => {
    const out = writeAhead();
    out.touch(run('a'));
    out.event('sequence_state', stateEvent(run('a')), 1);
    out.flush();
    expect(store.commits).toHaveLength(1);
    expect(published).toHaveLength(1);
  });
});

describe('WriteAhead: durable before acknowledged, effects after their commit', () => {
  it('whenDurable resolves once the runs changed before it are committed, and requests of one turn share the commit', async () => {
    const out = writeAhead();
    out.touch(run('a'));
    const first = out.whenDurable().then(() => store.committed('a'));
    out.touch(run('b'));
    const second = out.whenDurable().then(() => store.committed('b'));
    await Promise.resolve();
    expect(store.commits).toEqual([]);

    await vi.advanceTimersByTimeAsync(0);

    expect(await first).toBe('running');
    expect(await second).toBe('running');
    expect(store.commits).toHaveLength(1);
  });

  it('whenDurable resolves at once when nothing is pending, or without a store', async () => {
    await expect(writeAhead().whenDurable()).resolves.toBeUndefined();
    const out = writeAhead(false);
    out.touch(run('a'));
    await expect(out.whenDurable()).resolves.toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('whenDurable rejects with the store error when the commit fails', async () => {
    const out = writeAhead();
    out.touch(run('a'));
    store.failFlush = true;
    const durable = out.whenDurable();
    durable.catch(() => {});
    await vi.advanceTimersByTimeAsync(0);
    await expect(durable).rejects.toThrow('SQLITE_FULL');
  });

  it('an effect starts only after the commit of the turn that asked for it, also when that commit failed', async () => {
    const out = writeAhead();
    const seen: (string | undefined)[] = [];
    out.touch(run('a'));
    out.afterCommit(() => seen.push(store.committed('a')));
    await Promise.resolve();
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual(['running']);

    store.failFlush = true;
    out.touch(run('b'));
    out.afterCommit(() => seen.push('after the failed commit'));
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual(['running', 'after the failed commit']);
  });

  it('without a store an effect starts after the current code, as a microtask', async () => {
    const out = writeAhead(false);
    const seen: string[] = [];
    out.afterCommit(() => seen.push('effect'));
    seen.push('transition');
    await Promise.resolve();
    expect(seen).toEqual(['transition', 'effect']);
  });
});
