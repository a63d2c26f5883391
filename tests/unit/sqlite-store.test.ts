import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite.store.ts';
import type { SqliteStore } from '../../src/store/sqlite.store.ts';
import type { RunStatus } from '../../src/domain/progress.ts';
import { makeRun, stepResult, tempDirs } from './sqlite-store.fixtures.ts';
import type { RunFields } from './sqlite-store.fixtures.ts';

const dirs = tempDirs();
const opened: SqliteStore[] = [];
afterEach(() => {
  for (const store of opened.splice(0)) store.close();
  dirs.cleanup();
});

function fileStore(): { store: SqliteStore; path: string } {
  const path = join(dirs.make(), 'sequencer.db');
  const store = openSqliteStore(path, { busyTimeoutMs: 20 });
  opened.push(store);
  return { store, path };
}

const backends = {
  file: () => fileStore().store,
  memory: () => {
    const store = openSqliteStore(':memory:');
    opened.push(store);
    return store;
  },
};

describe.each(Object.entries(backends))('the SQLite store on %s', (_name, open) => {
  describe('when runs are queued and flushed', () => {
    it('writes 1000 queued runs in one flush and reads every one back', () => {
      const store = open();
      for (let i = 0; i < 1000; i += 1) store.queueRun(makeRun({ run_id: `run-${i}`, created_at: i }));
      expect(store.pendingWrites).toBe(1000);
      store.flush();
      expect(store.pendingWrites).toBe(0);
      expect(store.listRuns({ limit: 500, offset: 0 }).total).toBe(1000);
      expect(store.getRun('run-0')?.created_at).toBe(0);
      expect(store.getRun('run-999')?.progress.run_id).toBe('run-999');
    });

    it('keeps only the last queued version of a run, in the queue and on disk', () => {
      const store = open();
      store.queueRun(makeRun({ status: 'pending' }));
      store.queueRun(makeRun({ status: 'running' }));
      store.queueRun(makeRun({ status: 'paused', snapshot: { value: 'paused' } }));
      expect(store.pendingWrites).toBe(1);
      store.flush();
      store.queueRun(makeRun({ status: 'completed', ended_at: 5_000, snapshot: null }));
      store.flush();
      const run = store.getRun('run-1');
      expect(run).toMatchObject({ status: 'completed', ended_at: 5_000, snapshot: null });
      expect(store.listRuns({ limit: 10, offset: 0 }).total).toBe(1);
    });

    it('round-trips the definition, plan, progress and snapshot as JSON', () => {
      const store = open();
      const run = { ...makeRun({ progress: { step_results: [stepResult('Open valve', true)] } }), plan: { steps: [{ name: 'Open valve' }] } };
      const bare = makeRun({ run_id: 'bare', definition: null, snapshot: null });
      store.queueRun(run);
      store.queueRun(bare);
      store.flush();
      expect(store.getRun('run-1')).toEqual(run);
      expect(store.getRun('bare')).toEqual(bare);
      expect(store.getRun('bare')).not.toHaveProperty('plan');
    });

    it('keeps the definition, plan, sequence_id and created_at of the first write of a run', () => {
      const store = open();
      store.queueRun({ ...makeRun({ definition: { steps: ['first'] }, created_at: 100 }), plan: { steps: ['first'] } });
      store.flush();
      store.queueRun({
        ...makeRun({ definition: { steps: ['second'] }, sequence_id: 'moved', created_at: 999, status: 'paused' }),
        plan: { steps: ['second'] },
      });
      store.flush();
      expect(store.getRun('run-1')).toMatchObject({
        definition: { steps: ['first'] },
        plan: { steps: ['first'] },
        sequence_id: 'seq-1',
        created_at: 100,
        status: 'paused',
      });
    });

    it('drops the plan at the first write without one (the run ended), keeps the definition', () => {
      const store = open();
      store.queueRun({ ...makeRun({ definition: { steps: ['first'] } }), plan: { steps: ['first'] } });
      store.flush();
      store.queueRun(makeRun({ definition: { steps: ['first'] }, status: 'completed', ended_at: 2_000, snapshot: null }));
      store.flush();
      expect(store.getRun('run-1')).not.toHaveProperty('plan');
      expect(store.getRun('run-1')).toMatchObject({ definition: { steps: ['first'] }, status: 'completed' });
    });

    it('rejects a run that cannot be serialised at queueRun and keeps flushing the others', () => {
      const store = open();
      store.queueRun(makeRun({ run_id: 'good' }));
      expect(() => store.queueRun(makeRun({ run_id: 'bad', snapshot: { big: 1n } }))).toThrow(TypeError);
      const noStart = { ...makeRun({ run_id: 'no-start' }), created_at: undefined as unknown as number };
      expect(() => store.queueRun(noStart)).toThrow(/cannot be stored/);
      store.flush();
      expect(store.getRun('good')).toBeDefined();
      expect(store.getRun('bad')).toBeUndefined();
    });
  });

  describe('when a run is looked up', () => {
    it('finds it by run_id, or the newest run of a sequence_id, queued runs included', () => {
      const store = open();
      store.queueRun(makeRun({ run_id: 'a-1', sequence_id: 'A', created_at: 100 }));
      store.queueRun(makeRun({ run_id: 'a-3', sequence_id: 'A', created_at: 300 }));
      store.queueRun(makeRun({ run_id: 'a-2', sequence_id: 'A', created_at: 200 }));
      expect(store.getRun('A')?.run_id).toBe('a-3');
      store.flush();
      expect(store.getRun('A')?.run_id).toBe('a-3');
      expect(store.getRun('a-1')?.created_at).toBe(100);
      store.queueRun(makeRun({ run_id: 'a-4', sequence_id: 'A', created_at: 400 }));
      expect(store.getRun('A')?.run_id).toBe('a-4');
      expect(store.getRun('nobody')).toBeUndefined();
    });

    it('prefers a queued version of the newest stored run over its stored version', () => {
      const store = open();
      store.queueRun(makeRun({ run_id: 'a-1', sequence_id: 'A', status: 'running' }));
      store.flush();
      store.queueRun(makeRun({ run_id: 'a-1', sequence_id: 'A', status: 'paused' }));
      expect(store.getRun('A')?.status).toBe('paused');
      expect(store.getRun('a-1')?.status).toBe('paused');
    });

    it('breaks a tie of created_at by the larger run_id and prefers a run_id match to a sequence_id', () => {
      const store = open();
      store.queueRun(makeRun({ run_id: 'b', sequence_id: 'S', created_at: 100 }));
      store.flush();
      store.queueRun(makeRun({ run_id: 'a', sequence_id: 'S', created_at: 100 }));
      store.queueRun(makeRun({ run_id: 'S', sequence_id: 'other', created_at: 50 }));
      expect(store.getRun('S')?.run_id).toBe('S');
      store.queueRun(makeRun({ run_id: 'c', sequence_id: 'T', created_at: 100 }));
      store.queueRun(makeRun({ run_id: 'd', sequence_id: 'T', created_at: 100 }));
      expect(store.getRun('T')?.run_id).toBe('d');
      store.flush();
      expect(store.getRun('T')?.run_id).toBe('d');
    });
  });

  describe('when the history is listed', () => {
    function seed(store: SqliteStore): void {
      const runs = [
        makeRun({ run_id: 'r1', status: 'completed', created_at: 10, ended_at: 11 }),
        makeRun({ run_id: 'r2', status: 'running', created_at: 20 }),
        makeRun({ run_id: 'r3', status: 'failed', created_at: 30, ended_at: 31 }),
        makeRun({ run_id: 'r4a', status: 'paused', created_at: 40 }),
        makeRun({ run_id: 'r4b', status: 'pending', created_at: 40 }),
      ];
      for (const run of runs) store.queueRun(run);
    }
    const ids = (page: { items: { run_id: string }[] }) => page.items.map((item) => item.run_id);

    it('answers newest first (created_at, then run_id) and pages with limit and offset', () => {
      const store = open();
      seed(store);
      expect(ids(store.listRuns({ limit: 2, offset: 0 }))).toEqual(['r4b', 'r4a']);
      expect(ids(store.listRuns({ limit: 2, offset: 2 }))).toEqual(['r3', 'r2']);
      const last = store.listRuns({ limit: 2, offset: 4 });
      expect(ids(last)).toEqual(['r1']);
      expect(last.total).toBe(5);
    });

    it('filters by status, by running_only, and by both', () => {
      const store = open();
      seed(store);
      expect(store.listRuns({ status: 'failed', limit: 10, offset: 0 })).toMatchObject({ total: 1 });
      const running = store.listRuns({ running_only: true, limit: 2, offset: 0 });
      expect(ids(running)).toEqual(['r4b', 'r4a']);
      expect(running.total).toBe(3);
      expect(ids(store.listRuns({ running_only: true, status: 'paused', limit: 10, offset: 0 }))).toEqual(['r4a']);
      const runningAndCompleted = store.listRuns({ running_only: true, status: 'completed', limit: 10, offset: 0 });
      expect(runningAndCompleted).toEqual({ items: [], total: 0 });
    });

    it('counts every status, with zero for those without runs', () => {
      const store = open();
      seed(store);
      expect(store.countByStatus()).toEqual({
        pending: 1,
        running: 1,
        paused: 1,
        completed: 1,
        failed: 1,
        cancelled: 0,
        timeout: 0,
      });
    });
  });

  describe('when stats are asked', () => {
    const since = 1_000_000;

    it('aggregates the terminal runs that ended at or after the given time', () => {
      const store = open();
      /** A run of `status` that started at `start` and lasted `seconds` (wall clock). */
      const ended = (run_id: string, status: RunStatus, start: number, seconds: number, fields: RunFields = {}) =>
        makeRun({ run_id, status, created_at: start, ended_at: start + seconds * 1000, ...fields });
      const failedAt = (name: string) => ({ progress: { current_step_name: name } });
      const runs = [
        // Reported duration wins over wall clock.
        ended('c1', 'completed', since - 50_000, 50, { progress: { duration_seconds: 10 } }),
        ended('c2', 'completed', since, 30),
        // The step that ended the run counts, not every step that failed on the way.
        ended('f1', 'failed', since, 20, {
          progress: { step_results: [stepResult('Fan', false, 0), stepResult('Valve', false, 1)] },
        }),
        ended('f2', 'failed', since, 5, {
          progress: { step_results: [stepResult('Pump', true, 0), stepResult('Valve', false, 1)] },
        }),
        ended('f3', 'failed', since, 15, failedAt('Fan')),
        ended('x1', 'cancelled', since, 100, { sequence_id: 'longest' }),
        // Before the window: longer and with a more frequent failure step, yet not counted.
        ended('old1', 'failed', 0, since / 1000 - 1, { sequence_id: 'old', ...failedAt('Old') }),
        ended('old2', 'failed', 0, since / 1000 - 1, { sequence_id: 'old', ...failedAt('Old') }),
        ended('old3', 'failed', 0, since / 1000 - 1, { sequence_id: 'old', ...failedAt('Old') }),
        makeRun({ run_id: 'live', status: 'running', created_at: 0 }),
      ];
      for (const run of runs) store.queueRun(run);
      expect(store.stats(since)).toEqual({
        total_sequences: 10,
        completed_since: 2,
        failed_since: 3,
        average_duration_seconds: (10 + 30 + 20 + 5 + 15 + 100) / 6,
        longest_sequence_id: 'longest',
        most_common_failure_step: 'Valve',
      });
    });

    it('answers zeros and nulls for an empty window', () => {
      const store = open();
      store.queueRun(makeRun({ status: 'completed', created_at: 0, ended_at: 10 }));
      expect(store.stats(since)).toEqual({
        total_sequences: 1,
        completed_since: 0,
        failed_since: 0,
        average_duration_seconds: null,
        longest_sequence_id: null,
        most_common_failure_step: null,
      });
    });
  });

  it('lists every non-terminal run oldest first for recovery, queued ones included', () => {
    const store = open();
    store.queueRun(makeRun({ run_id: 'late', status: 'paused', created_at: 300 }));
    store.queueRun(makeRun({ run_id: 'done', status: 'completed', created_at: 100, ended_at: 150 }));
    store.flush();
    store.queueRun(makeRun({ run_id: 'early', status: 'running', created_at: 100 }));
    store.queueRun(makeRun({ run_id: 'mid', status: 'pending', created_at: 200 }));
    expect(store.activeRuns().map((run) => run.run_id)).toEqual(['early', 'mid', 'late']);
  });

  it('versions templates from 1 on the first PUT and again after a delete', () => {
    const store = open();
    expect(store.getTemplate('water')).toBeUndefined();
    expect(store.putTemplate('water', { steps: ['{{zone}}'] }, 10)).toEqual({
      name: 'water',
      version: 1,
      body: { steps: ['{{zone}}'] },
      updated_at: 10,
    });
    expect(store.putTemplate('water', { steps: [] }, 20)).toMatchObject({
      version: 2,
      body: { steps: [] },
      updated_at: 20,
    });
    store.putTemplate('air', { steps: [1] }, 30);
    expect(store.listTemplates().map((t) => [t.name, t.version])).toEqual([
      ['air', 1],
      ['water', 2],
    ]);
    expect(store.getTemplate('water')?.version).toBe(2);
    expect(store.deleteTemplate('water')).toBe(true);
    expect(store.deleteTemplate('water')).toBe(false);
    expect(store.putTemplate('water', {}, 40).version).toBe(1);
  });

  it('stores settings as JSON, overwrites them and deletes them with undefined', () => {
    const store = open();
    expect(store.getSetting('emergency_stop')).toBeUndefined();
    store.setSetting('emergency_stop', { active: true, reason: 'fire' });
    expect(store.getSetting('emergency_stop')).toEqual({ active: true, reason: 'fire' });
    store.setSetting('emergency_stop', false);
    expect(store.getSetting('emergency_stop')).toBe(false);
    store.setSetting('emergency_stop', undefined);
    expect(store.getSetting('emergency_stop')).toBeUndefined();
  });

  it('closes idempotently and refuses runs afterwards', () => {
    const store = open();
    store.close();
    expect(() => store.close()).not.toThrow();
    expect(() => store.queueRun(makeRun())).toThrow(/closed/);
  });
});

describe('the SQLite store on a file', () => {
  it('keeps runs, templates and settings across close and reopen, flushing on close', () => {
    const { store, path } = fileStore();
    store.queueRun(makeRun({ run_id: 'kept', status: 'paused' }));
    store.putTemplate('t', { a: 1 }, 5);
    store.setSetting('latch', true);
    store.close();
    const again = openSqliteStore(path);
    opened.push(again);
    expect(again.getRun('kept')?.status).toBe('paused');
    expect(again.getTemplate('t')?.body).toEqual({ a: 1 });
    expect(again.getSetting('latch')).toBe(true);
  });

  it('shows other connections nothing before the flush and everything after', () => {
    const { store, path } = fileStore();
    const reader = new Database(path, { readonly: true });
    try {
      for (let i = 0; i < 10; i += 1) store.queueRun(makeRun({ run_id: `run-${i}` }));
      expect(reader.prepare('SELECT count(*) FROM runs').pluck().get()).toBe(0);
      store.flush();
      expect(reader.prepare('SELECT count(*) FROM runs').pluck().get()).toBe(10);
    } finally {
      reader.close();
    }
  });

  it('writes a batch all or nothing: a failed flush writes no run, keeps the queue and the next flush retries', () => {
    const { store, path } = fileStore();
    const other = new Database(path);
    try {
      other.exec(`CREATE TRIGGER refuse BEFORE INSERT ON runs WHEN NEW.run_id = 'run-999'
                  BEGIN SELECT RAISE(ABORT, 'refused'); END`);
      for (let i = 0; i < 1000; i += 1) store.queueRun(makeRun({ run_id: `run-${i}` }));
      expect(() => store.flush()).toThrow(/refused/);
      expect(store.pendingWrites).toBe(1000);
      expect(other.prepare('SELECT count(*) FROM runs').pluck().get()).toBe(0);
      other.exec('DROP TRIGGER refuse');
      store.flush();
      expect(store.pendingWrites).toBe(0);
      expect(other.prepare('SELECT count(*) FROM runs').pluck().get()).toBe(1000);
    } finally {
      other.close();
    }
  });

  it('stamps updated_at of every written run with the clock at flush time', () => {
    const path = join(dirs.make(), 'clock.db');
    let clock = 1_000;
    const store = openSqliteStore(path, { now: () => clock });
    opened.push(store);
    store.queueRun(makeRun({ run_id: 'a' }));
    store.queueRun(makeRun({ run_id: 'b' }));
    clock = 2_000;
    store.flush();
    const reader = new Database(path, { readonly: true });
    try {
      expect(reader.prepare('SELECT DISTINCT updated_at FROM runs').pluck().all()).toEqual([2_000]);
    } finally {
      reader.close();
    }
  });

  it('survives a flush that meets a lock held by another process and writes once it is released', () => {
    const { store, path } = fileStore();
    const other = new Database(path);
    try {
      other.exec('BEGIN EXCLUSIVE');
      store.queueRun(makeRun());
      expect(() => store.flush()).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
      expect(store.getRun('run-1')?.status).toBe('running');
      other.exec('COMMIT');
      store.flush();
      expect(other.prepare('SELECT status FROM runs').pluck().get()).toBe('running');
    } finally {
      other.close();
    }
  });

  it('closes the database even when the final flush fails, and rethrows that failure', () => {
    const { store, path } = fileStore();
    const other = new Database(path);
    try {
      other.exec('BEGIN EXCLUSIVE');
      store.queueRun(makeRun());
      expect(() => store.close()).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
      expect(() => store.close()).not.toThrow();
      expect(() => store.getTemplate('any')).toThrow(/not open/);
    } finally {
      other.exec('COMMIT');
      other.close();
    }
  });
});
