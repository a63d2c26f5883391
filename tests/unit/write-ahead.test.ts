/**
 * The write-ahead of a run's journal: a turn's starts, journal records (the events each run took)
 * and ends are one commit; a durable engine publishes the turn's events only once it resolved,
 * and commits stay in order on a store that answers late. A failed commit is reported, its events
 * still go out, and its records are written again with the next one.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SequenceEvent } from '../../machines/sequence.types.ts';
import { SNAPSHOT_EVERY } from '../../src/engine/journal-records.ts';
import type { Run } from '../../src/engine/run.ts';
import { BATCH_RUNS, HISTORY_DELAY_MS, HISTORY_ROWS_PER_TURN, WriteAhead } from '../../src/engine/write-ahead.ts';
import { EventBus } from '../../src/events/event-bus.ts';
import type { EventEnvelope } from '../../src/events/event-types.ts';
import type { CommitBatch, RunStore } from '../../src/store/run-store.ts';

/** A store that records each commit, can be told to fail, or to answer only when released. */
class RecordingStore {
  readonly commits: CommitBatch[] = [];
  fail = false;
  /** When set, commits wait for `release()`. */
  held: (() => void)[] | null = null;

  async commit(batch: CommitBatch): Promise<void> {
    if (this.held) await new Promise<void>((resolve) => this.held?.push(resolve));
    if (this.fail) throw new Error('SQLITE_FULL: database or disk is full');
    this.commits.push(structuredClone(batch));
  }

  release(): void {
    for (const resolve of this.held?.splice(0) ?? []) resolve();
  }

  /** The events journaled for a run so far, in order. */
  events(runId: string): string[] {
    return this.commits
      .flatMap((batch) => batch.records)
      .filter((record) => record.run_id === runId && !record.snapshot)
      .flatMap((record) => (JSON.parse(record.body) as { events: SequenceEvent[] }).events.map((event) => event.type));
  }

  /** What the store knows of a run: started, ended, or nothing. */
  stage(runId: string): string | undefined {
    const batches = this.commits;
    if (batches.some((batch) => batch.ends.some((end) => end.run_id === runId))) return 'ended';
    if (batches.some((batch) => batch.starts.some((start) => start.run_id === runId))) return 'started';
    return undefined;
  }
}

/** A top-level run as the engine holds it, with what its records read. */
function run(runId: string, context: Record<string, unknown> = {}): Run {
  return {
    runId,
    sequenceId: 's',
    definition: { steps: [] },
    description: null,
    mode: 'single',
    priority: 100,
    plan: { steps: [], cleanup: [], maxDurationMs: 1000 },
    context: { rule_id: null, rule_name: null, triggered_by: null, trigger_data: null, ...context },
    template: null,
    createdAt: 0,
    queuedAt: null,
    parent: null,
    depth: 1,
    actor: null,
    endError: null,
    cancelReason: null,
    lastEvent: 'xstate.init',
    state: 'running.delaying',
    status: 'running',
    snapshot: null,
    timer: null,
    armedAt: null,
    inFlight: null,
    endedAt: null,
    onEnd: null,
    turn: [],
    records: 0,
    storedStatus: null,
  } as unknown as Run;
}

/** The run took `type` (as RunHost records every event it delivers). */
function took(r: Run, type: SequenceEvent['type']): void {
  r.turn?.push({ type, now: 1 } as SequenceEvent);
}

function end(r: Run): void {
  r.status = 'completed';
  r.state = 'completed';
  r.endedAt = 5;
}

const stateEvent = (r: Run) => ({ sequence_id: 's', run_id: r.runId, state: r.state, previous_state: 'idle', event: 'START', current_step: 0, status: r.status });

let bus: EventBus;
let published: EventEnvelope[];
let store: RecordingStore;
let failures: { error: unknown; runs: string[] }[];
let committedEnds: string[];

beforeEach(() => {
  vi.useFakeTimers();
  bus = new EventBus();
  published = [];
  bus.subscribe((e) => {
    published.push(e);
  });
  store = new RecordingStore();
  failures = [];
  committedEnds = [];
});

afterEach(() => {
  vi.useRealTimers();
});

function writeAhead(durable = true): WriteAhead {
  return new WriteAhead({
    bus,
    store: store as unknown as RunStore,
    durable,
    snapshotOf: (r) => ({ snapshot: r.runId }),
    onWriteError: (error, runs) => failures.push({ error, runs: runs.map((r) => r.runId) }),
    onEndsCommitted: (runs) => committedEnds.push(...runs.map((r) => r.runId)),
  });
}

describe('WriteAhead of an engine with its own in-memory store (not durable)', () => {
  it('publishes each event at once, starts effects after the current code, and still commits the turn', async () => {
    const out = writeAhead(false);
    const a = run('a');
    out.started(a);
    out.event('sequence_state', stateEvent(a), 1);
    const seen: string[] = [];
    out.afterCommit(() => seen.push('effect'));
    seen.push('transition');
    expect(published.map((e) => e.type)).toEqual(['sequence_state']);
    await Promise.resolve();
    expect(seen).toEqual(['transition', 'effect']);
    await expect(out.whenDurable()).resolves.toBeUndefined();
    await vi.advanceTimersByTimeAsync(0);
    expect(store.stage('a')).toBe('started');
  });

  it('writes a wave of ends over several turns, HISTORY_ROWS_PER_TURN history rows each; flush() writes all that are pending', async () => {
    const out = writeAhead(false);
    const wave = Array.from({ length: 2.5 * HISTORY_ROWS_PER_TURN }, (_, i) => run(`w${i}`));
    for (const r of wave) {
      out.started(r);
      end(r);
      out.ended(r);
    }
    await vi.advanceTimersByTimeAsync(0);
    expect(store.commits.map((batch) => batch.ends.length)).toEqual([HISTORY_ROWS_PER_TURN]);
    // A turn each for the rest.
    await vi.runOnlyPendingTimersAsync();
    await vi.runOnlyPendingTimersAsync();
    expect(store.commits.map((batch) => batch.ends.length)).toEqual([HISTORY_ROWS_PER_TURN, HISTORY_ROWS_PER_TURN, HISTORY_ROWS_PER_TURN / 2]);
    expect(committedEnds).toEqual(wave.map((r) => r.runId));

    const more = Array.from({ length: 2 * HISTORY_ROWS_PER_TURN }, (_, i) => run(`m${i}`));
    for (const r of more) {
      out.started(r);
      end(r);
      out.ended(r);
    }
    await out.flush();
    expect(store.commits.at(-1)?.ends).toHaveLength(2 * HISTORY_ROWS_PER_TURN);
  });

  it(`writes the history rows of runs that end a few a turn together, ${HISTORY_DELAY_MS} ms after the first`, async () => {
    const out = writeAhead(false);
    // Not journaled, as the engine's runs on such a store: no turn of events.
    const runs = Array.from({ length: 6 }, (_, i) => Object.assign(run(`e${i}`), { turn: null }));
    for (const r of runs) out.started(r);
    await vi.advanceTimersByTimeAsync(0);
    expect(store.commits.map((batch) => [batch.starts.length, batch.ends.length])).toEqual([[6, 0]]);
    // Two ends a turn, as a wave of wake-ups ends runs (each its last transition, then its end):
    // none is written before the delay is over.
    for (let turn = 0; turn < 3; turn++) {
      for (const r of runs.slice(2 * turn, 2 * turn + 2)) {
        end(r);
        out.touch(r);
        out.ended(r);
      }
      await vi.advanceTimersByTimeAsync(5);
    }
    expect(store.commits).toHaveLength(1);
    expect(committedEnds).toEqual([]);
    await vi.advanceTimersByTimeAsync(HISTORY_DELAY_MS);
    expect(store.commits.map((batch) => batch.ends.length)).toEqual([0, 6]);
    expect(committedEnds).toEqual(runs.map((r) => r.runId));
  });
});

describe('WriteAhead of a durable engine', () => {
  it("holds the events of a turn until its start and the events its runs took are committed, then publishes them in order", async () => {
    const out = writeAhead();
    const a = run('a');
    const seenAtPublish: string[][] = [];
    bus.subscribe(() => {
      seenAtPublish.push(store.events('a'));
    });
    out.started(a);
    took(a, 'START');
    out.touch(a);
    out.event('sequence_started', { sequence_id: 's', run_id: 'a', total_steps: 1, description: null, rule_id: null, rule_name: null, mode: 'single' }, 1);
    took(a, 'STEP_DONE');
    out.touch(a);
    out.event('sequence_state', stateEvent(a), 2);
    expect(published).toEqual([]);

    await vi.advanceTimersByTimeAsync(0);

    expect(published.map((e) => e.type)).toEqual(['sequence_started', 'sequence_state']);
    // Every event found what caused it already journaled.
    expect(seenAtPublish).toEqual([
      ['START', 'STEP_DONE'],
      ['START', 'STEP_DONE'],
    ]);
    expect(store.commits.map((batch) => [batch.starts.length, batch.records.length, batch.ends.length])).toEqual([[1, 1, 0]]);
  });

  it('writes one record per run changed in one turn, with the events it took in order', async () => {
    const out = writeAhead();
    const runs = Array.from({ length: 100 }, (_, i) => run(`r${i}`));
    for (const r of runs) {
      r.storedStatus = 'running';
      took(r, 'WAKE');
      out.touch(r);
    }
    for (const r of runs) {
      took(r, 'PAUSE');
      r.status = 'paused';
      out.touch(r);
    }
    await vi.advanceTimersByTimeAsync(0);

    expect(store.commits).toHaveLength(1);
    expect(store.commits[0]?.records).toHaveLength(100);
    expect(store.events('r7')).toEqual(['WAKE', 'PAUSE']);
    // The status changed: the record says so, and the next one does not repeat it.
    expect(new Set(store.commits[0]?.records.map((record) => record.status))).toEqual(new Set(['paused']));
    expect(out.lastBatchSize).toBe(100);
    took(runs[0] as Run, 'RESUME');
    (runs[0] as Run).status = 'running';
    out.touch(runs[0] as Run);
    took(runs[1] as Run, 'STEP_DONE');
    out.touch(runs[1] as Run);
    await vi.advanceTimersByTimeAsync(0);
    expect(store.commits[1]?.records.map((record) => [record.run_id, record.status])).toEqual([
      ['r0', 'running'],
      ['r1', undefined],
    ]);
  });

  it(`writes a compact snapshot instead of the events every ${SNAPSHOT_EVERY}th record`, async () => {
    const out = writeAhead();
    const a = run('a');
    a.storedStatus = 'running';
    for (let i = 0; i < SNAPSHOT_EVERY + 1; i++) {
      took(a, 'WAKE');
      out.touch(a);
      await vi.advanceTimersByTimeAsync(0);
    }
    const records = store.commits.flatMap((batch) => batch.records);
    expect(records.map((record) => record.snapshot)).toEqual([...Array<boolean>(SNAPSHOT_EVERY - 1).fill(false), true, false]);
    expect(JSON.parse(records[SNAPSHOT_EVERY - 1]?.body ?? '')).toEqual({ snapshot: { snapshot: 'a' } });
  });

  it('a run that ends in a turn writes its history row and no journal record; the end is reported once committed', async () => {
    const out = writeAhead();
    const a = run('a');
    out.started(a);
    took(a, 'START');
    out.touch(a);
    end(a);
    out.ended(a);
    expect(committedEnds).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    const [batch] = store.commits;
    expect(batch?.records).toEqual([]);
    expect(batch?.ends.map((e) => [e.run_id, e.status, e.ended_at, JSON.parse(e.progress).status])).toEqual([['a', 'completed', 5, 'completed']]);
    expect(committedEnds).toEqual(['a']);
  });

  it('a turn that changes BATCH_RUNS runs writes them after the current callback, without waiting for the turn to end', async () => {
    const out = writeAhead();
    const runs = Array.from({ length: BATCH_RUNS + 10 }, (_, i) => run(`r${i}`));
    for (const r of runs) took(r, 'WAKE');
    for (const r of runs.slice(0, BATCH_RUNS)) out.touch(r);
    out.event('sequence_state', stateEvent(runs[0] as Run), 1);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(store.commits.map((batch) => batch.records.length)).toEqual([BATCH_RUNS]);
    expect(published).toHaveLength(1);

    for (const r of runs.slice(BATCH_RUNS)) out.touch(r);
    await vi.advanceTimersByTimeAsync(0);
    expect(store.commits.map((batch) => batch.records.length)).toEqual([BATCH_RUNS, 10]);
  });

  it('a turn with events and nothing to write publishes without a commit', async () => {
    const out = writeAhead();
    out.event('sequence_state', stateEvent(run('a')), 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(published).toHaveLength(1);
    expect(store.commits).toEqual([]);
  });

  it('commits turns one after the other: a later turn waits for a slow commit, and its events for its own', async () => {
    const out = writeAhead();
    store.held = [];
    const a = run('a');
    const b = run('b');
    out.started(a);
    out.event('sequence_state', stateEvent(a), 1);
    await vi.advanceTimersByTimeAsync(0);
    out.started(b);
    out.event('sequence_state', stateEvent(b), 2);
    await vi.advanceTimersByTimeAsync(0);
    expect(published).toEqual([]);
    store.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(published.map((e) => (e.data as { run_id: string }).run_id)).toEqual(['a']);
    store.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(store.commits.map((batch) => batch.starts.map((s) => s.run_id))).toEqual([['a'], ['b']]);
    expect(published.map((e) => (e.data as { run_id: string }).run_id)).toEqual(['a', 'b']);
  });

  it("a failed commit is reported with every run of the batch, its events still go out, and its records are written again first", async () => {
    const out = writeAhead();
    const a = run('a');
    const b = run('b');
    out.started(a);
    out.started(b);
    took(a, 'START');
    out.touch(a);
    out.event('sequence_state', stateEvent(a), 1);
    out.event('sequence_state', stateEvent(b), 2);
    store.fail = true;

    await vi.advanceTimersByTimeAsync(0);

    expect(failures.map((f) => [(f.error as Error).message, f.runs])).toEqual([['SQLITE_FULL: database or disk is full', ['a', 'b']]]);
    expect(published.map((e) => (e.data as { run_id: string }).run_id)).toEqual(['a', 'b']);
    expect(store.commits).toEqual([]);

    store.fail = false;
    took(a, 'ABORT');
    out.touch(a);
    await vi.advanceTimersByTimeAsync(0);
    expect(store.commits.map((batch) => batch.starts.map((s) => s.run_id))).toEqual([['a', 'b']]);
    expect(store.events('a')).toEqual(['START', 'ABORT']);
  });

  it('a run whose start cannot be serialised is reported alone and never written; the rest of its batch is committed', async () => {
    const out = writeAhead();
    const bad = run('bad', { trigger_data: 1n });
    out.started(run('a'));
    out.started(bad);
    out.started(run('c'));

    await vi.advanceTimersByTimeAsync(0);

    expect(failures.map((f) => f.runs)).toEqual([['bad']]);
    expect(store.commits.map((batch) => batch.starts.map((s) => s.run_id))).toEqual([['a', 'c']]);
    expect(out.lastBatchSize).toBe(2);
    took(bad, 'ABORT');
    out.touch(bad);
    end(bad);
    out.ended(bad);
    await vi.advanceTimersByTimeAsync(0);
    expect(store.commits).toHaveLength(1);
    expect(failures).toHaveLength(1);
  });

  it('flush() called directly commits and publishes before it resolves (queries and shutdown need it)', async () => {
    const out = writeAhead();
    out.started(run('a'));
    out.event('sequence_state', stateEvent(run('a')), 1);
    await out.flush();
    expect(store.commits).toHaveLength(1);
    expect(published).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('WriteAhead: durable before acknowledged, effects after their commit', () => {
  it('whenDurable resolves once the runs changed before it are committed, and requests of one turn share the commit', async () => {
    const out = writeAhead();
    out.started(run('a'));
    const first = out.whenDurable().then(() => store.stage('a'));
    out.started(run('b'));
    const second = out.whenDurable().then(() => store.stage('b'));
    await Promise.resolve();
    expect(store.commits).toEqual([]);

    await vi.advanceTimersByTimeAsync(0);

    expect(await first).toBe('started');
    expect(await second).toBe('started');
    expect(store.commits).toHaveLength(1);
  });

  it('whenDurable waits for a commit still in flight, and resolves at once when nothing is pending', async () => {
    const out = writeAhead();
    await expect(out.whenDurable()).resolves.toBeUndefined();
    store.held = [];
    out.started(run('a'));
    await vi.advanceTimersByTimeAsync(0);
    const durable = out.whenDurable().then(() => store.stage('a'));
    store.release();
    expect(await durable).toBe('started');
    await expect(out.whenDurable()).resolves.toBeUndefined();
  });

  it('whenDurable rejects with the store error when the commit fails', async () => {
    const out = writeAhead();
    out.started(run('a'));
    store.fail = true;
    const durable = out.whenDurable();
    durable.catch(() => {});
    await vi.advanceTimersByTimeAsync(0);
    await expect(durable).rejects.toThrow('SQLITE_FULL');
  });

  it('an effect starts only after the commit of the turn that asked for it, also when that commit failed', async () => {
    const out = writeAhead();
    const seen: (string | undefined)[] = [];
    out.started(run('a'));
    out.afterCommit(() => seen.push(store.stage('a')));
    await Promise.resolve();
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual(['started']);

    store.fail = true;
    out.started(run('b'));
    out.afterCommit(() => seen.push('after the failed commit'));
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual(['started', 'after the failed commit']);
  });
});
