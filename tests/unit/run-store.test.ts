/**
 * The store contract (`src/store/run-store.ts`), the same for every backend: a run's start
 * record, its journal and its history row; lookups, history pages, counts and stats; the journal
 * recovery reads; retention; templates and settings.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RunStatus } from '../../src/domain/progress.ts';
import type { RunStore } from '../../src/store/run-store.ts';
import { STORE_BACKENDS } from '../helpers/run-store.backends.ts';
import { endOf, progressOf, recordOf, seed, startOf, stepResult, type RunFields } from './run-store.fixtures.ts';

const empty = { starts: [], records: [], ends: [] };

describe.each(STORE_BACKENDS)('the $name store', (backend) => {
  afterEach(() => backend.cleanup());
  afterAll(() => backend.dispose());

  describe('when runs are started, journaled and ended', () => {
    it('commits 1000 starts in one batch; an unfinished run has its history row without progress', async () => {
      const store = await backend.open();
      await store.commit({ ...empty, starts: Array.from({ length: 1000 }, (_, i) => startOf({ run_id: `run-${i}`, created_at: i })) });
      expect((await store.listRuns({ limit: 500, offset: 0 })).total).toBe(1000);
      expect(await store.getRun('run-999')).toEqual({
        run_id: 'run-999',
        sequence_id: 'seq-1',
        status: 'running',
        created_at: 999,
        ended_at: null,
        progress: null,
        definition: { steps: [{ delay_seconds: 1 }] },
      });
      expect(await store.countByStatus()).toMatchObject({ running: 1000 });
    });

    it('writes the history row once, at the end, with the progress and the definition as JSON', async () => {
      const store = await backend.open();
      await store.commit({ ...empty, starts: [startOf({ definition: { steps: ['first'] } })] });
      const progress = progressOf({ status: 'completed', progress: { step_results: [stepResult('Open valve', true)] } });
      await store.commit({ ...empty, ends: [{ ...endOf({ status: 'completed', ended_at: 5_000 }), progress: JSON.stringify(progress) }] });
      expect(await store.getRun('run-1')).toEqual({
        run_id: 'run-1',
        sequence_id: 'seq-1',
        status: 'completed',
        created_at: 1_000,
        ended_at: 5_000,
        progress,
        definition: { steps: ['first'] },
      });
    });

    it('changes the stored status of an unfinished run with a journal record that says so', async () => {
      const store = await backend.open();
      await seed(store, [{ run_id: 'a', status: 'pending' }, { run_id: 'b' }]);
      await store.commit({ ...empty, records: [recordOf('a', { events: [{ type: 'START', now: 1 }] }, { status: 'running' }), recordOf('b', { events: [] }, { status: 'paused' })] });
      expect((await store.getRun('a'))?.status).toBe('running');
      expect((await store.getRun('b'))?.status).toBe('paused');
      expect(await store.countByStatus()).toMatchObject({ pending: 0, running: 1, paused: 1 });
    });

    it('gives recovery every unfinished run, oldest first, with its journal from the last snapshot on', async () => {
      const store = await backend.open();
      await seed(store, [
        { run_id: 'late', created_at: 300, status: 'paused', body: { plan: 'late' } },
        { run_id: 'done', created_at: 100, status: 'completed' },
        { run_id: 'early', created_at: 100, body: { plan: 'early' } },
        { run_id: 'queued', created_at: 200, status: 'pending' },
      ]);
      await store.commit({ ...empty, records: [recordOf('early', { events: [1] }), recordOf('late', { events: ['x'] }), recordOf('early', { events: [2] })] });
      await store.commit({ ...empty, records: [recordOf('early', { snapshot: 'at 2' }, { snapshot: true }), recordOf('early', { events: [3] })] });
      await store.commit({ ...empty, records: [recordOf('early', { events: [4] })] });
      const unfinished = await store.unfinishedRuns();
      expect(unfinished.map((run) => run.run_id)).toEqual(['early', 'queued', 'late']);
      expect(unfinished[0]).toEqual({
        run_id: 'early',
        sequence_id: 'seq-1',
        status: 'running',
        created_at: 100,
        definition: { steps: [{ delay_seconds: 1 }] },
        body: { plan: 'early' },
        records: [{ snapshot: 'at 2' }, { events: [3] }, { events: [4] }],
      });
      expect(unfinished[1]?.records).toEqual([]);
      expect(unfinished[2]).toMatchObject({ status: 'paused', records: [{ events: ['x'] }] });
    });

    it('an end takes the run out of recovery with its journal, also when it starts and ends in one batch', async () => {
      const store = await backend.open();
      await seed(store, [{ run_id: 'a' }]);
      await store.commit({ ...empty, records: [recordOf('a', { events: [1] })] });
      await store.commit({ starts: [startOf({ run_id: 'b' })], records: [recordOf('b', { events: [1] })], ends: [endOf({ run_id: 'a' }), endOf({ run_id: 'b', status: 'cancelled' })] });
      expect(await store.unfinishedRuns()).toEqual([]);
      expect((await store.getRun('b'))?.status).toBe('cancelled');
      // A run admitted again after the end of another goes on numbering its own journal.
      await seed(store, [{ run_id: 'c', created_at: 5_000 }]);
      await store.commit({ ...empty, records: [recordOf('c', { events: ['c1'] }), recordOf('c', { events: ['c2'] })] });
      expect((await store.unfinishedRuns()).map((run) => run.records)).toEqual([[{ events: ['c1'] }, { events: ['c2'] }]]);
    });

    it('writes a batch all or nothing: a failing batch leaves nothing, and the same records commit again', async () => {
      const store = await backend.open();
      await seed(store, [{ run_id: 'kept' }]);
      const batch = { starts: [startOf({ run_id: 'new' }), startOf({ run_id: 'kept' })], records: [recordOf('kept', { events: [1] })], ends: [] };
      await expect(store.commit(batch)).rejects.toThrow();
      expect(await store.getRun('new')).toBeUndefined();
      expect((await store.unfinishedRuns()).map((run) => [run.run_id, run.records])).toEqual([['kept', []]]);
      await store.commit({ ...batch, starts: [startOf({ run_id: 'new' })] });
      expect((await store.unfinishedRuns()).map((run) => [run.run_id, run.records])).toEqual([
        ['kept', [{ events: [1] }]],
        ['new', []],
      ]);
    });
  });

  describe('when a run is looked up', () => {
    it('finds it by run_id, or the newest run of a sequence_id', async () => {
      const store = await backend.open();
      await seed(store, [
        { run_id: 'a-1', sequence_id: 'A', created_at: 100, status: 'completed' },
        { run_id: 'a-3', sequence_id: 'A', created_at: 300 },
        { run_id: 'a-2', sequence_id: 'A', created_at: 200 },
      ]);
      expect((await store.getRun('A'))?.run_id).toBe('a-3');
      expect((await store.getRun('a-1'))?.created_at).toBe(100);
      expect(await store.getRun('nobody')).toBeUndefined();
    });

    it('breaks a tie of created_at by the larger run_id and prefers a run_id match to a sequence_id', async () => {
      const store = await backend.open();
      await seed(store, [
        { run_id: 'b', sequence_id: 'S', created_at: 100 },
        { run_id: 'a', sequence_id: 'S', created_at: 100 },
        { run_id: 'S', sequence_id: 'other', created_at: 50 },
        { run_id: 'c', sequence_id: 'T', created_at: 100 },
        { run_id: 'd', sequence_id: 'T', created_at: 100 },
      ]);
      expect((await store.getRun('S'))?.run_id).toBe('S');
      expect((await store.getRun('T'))?.run_id).toBe('d');
    });
  });

  describe('when the history is listed', () => {
    const history: RunFields[] = [
      { run_id: 'r1', status: 'completed', created_at: 10, ended_at: 11 },
      { run_id: 'r2', status: 'running', created_at: 20 },
      { run_id: 'r3', status: 'failed', created_at: 30, ended_at: 31 },
      { run_id: 'r4a', status: 'paused', created_at: 40 },
      { run_id: 'r4b', status: 'pending', created_at: 40 },
    ];

    it('answers newest first (created_at, then run_id) and pages with limit and offset', async () => {
      const store = await backend.open();
      await seed(store, history);
      expect(ids(await store.listRuns({ limit: 2, offset: 0 }))).toEqual(['r4b', 'r4a']);
      expect(ids(await store.listRuns({ limit: 2, offset: 2 }))).toEqual(['r3', 'r2']);
      const last = await store.listRuns({ limit: 2, offset: 4 });
      expect(last.items).toEqual([{ run_id: 'r1', sequence_id: 'seq-1', status: 'completed', created_at: 10, progress: progressOf({ run_id: 'r1', status: 'completed' }) }]);
      expect(last.total).toBe(5);
    });

    it('lists a queued run by when it was queued until a journal record says it started, then by its start', async () => {
      const store = await backend.open();
      await store.commit({ ...empty, starts: [startOf({ run_id: 'queued', created_at: 10, status: 'pending' }), { ...startOf({ run_id: 'later', created_at: 20 }), listed_at: 21 }] });
      expect(ids(await store.listRuns({ limit: 10, offset: 0 }))).toEqual(['later', 'queued']);
      await store.commit({ ...empty, records: [recordOf('queued', { events: [] }, { status: 'running', listed_at: 30 })] });
      expect(ids(await store.listRuns({ limit: 10, offset: 0 }))).toEqual(['queued', 'later']);
      expect((await store.getRun('seq-1'))?.run_id).toBe('queued');
    });

    it('filters by status, by running_only, by sequence_id, and by several', async () => {
      const store = await backend.open();
      await seed(store, [...history, { run_id: 'o1', sequence_id: 'other', status: 'failed', created_at: 50, ended_at: 60 }]);
      expect(await store.listRuns({ status: 'failed', limit: 10, offset: 0 })).toMatchObject({ total: 2 });
      const running = await store.listRuns({ running_only: true, limit: 2, offset: 0 });
      expect(ids(running)).toEqual(['r4b', 'r4a']);
      expect(running.total).toBe(3);
      expect(ids(await store.listRuns({ running_only: true, status: 'paused', limit: 10, offset: 0 }))).toEqual(['r4a']);
      expect(await store.listRuns({ running_only: true, status: 'completed', limit: 10, offset: 0 })).toEqual({ items: [], total: 0 });
      expect(ids(await store.listRuns({ sequence_id: 'seq-1', status: 'failed', limit: 10, offset: 0 }))).toEqual(['r3']);
      expect(await store.listRuns({ sequence_id: 'other', limit: 10, offset: 0 })).toMatchObject({ total: 1 });
      expect(await store.listRuns({ sequence_id: 'seq-1', running_only: true, limit: 10, offset: 0 })).toMatchObject({ total: 3 });
    });

    it('counts every status, with zero for those without runs', async () => {
      const store = await backend.open();
      await seed(store, history);
      expect(await store.countByStatus()).toEqual({ pending: 1, running: 1, paused: 1, stopping: 0, completed: 1, failed: 1, cancelled: 0, timeout: 0 });
    });
  });

  describe('when stats are asked', () => {
    const since = 1_000_000;

    it('aggregates the terminal runs that ended at or after the given time', async () => {
      const store = await backend.open();
      /** A run of `status` that started at `start` and lasted `seconds` (wall clock). */
      const ended = (run_id: string, status: RunStatus, start: number, seconds: number, fields: RunFields = {}): RunFields => ({
        run_id,
        status,
        created_at: start,
        ended_at: start + seconds * 1000,
        ...fields,
      });
      const failedAt = (name: string) => ({ progress: { current_step_name: name } });
      await seed(store, [
        // Reported duration wins over wall clock.
        ended('c1', 'completed', since - 50_000, 50, { progress: { duration_seconds: 10 } }),
        ended('c2', 'completed', since, 30),
        // The step that ended the run counts, not every step that failed on the way.
        ended('f1', 'failed', since, 20, { progress: { step_results: [stepResult('Fan', false, 0), stepResult('Valve', false, 1)] } }),
        ended('f2', 'failed', since, 5, { progress: { step_results: [stepResult('Pump', true, 0), stepResult('Valve', false, 1)] } }),
        ended('f3', 'failed', since, 15, failedAt('Fan')),
        ended('x1', 'cancelled', since, 100, { sequence_id: 'longest' }),
        // Before the window: longer and with a more frequent failure step, yet not counted.
        ended('old1', 'failed', 0, since / 1000 - 1, { sequence_id: 'old', ...failedAt('Old') }),
        ended('old2', 'failed', 0, since / 1000 - 1, { sequence_id: 'old', ...failedAt('Old') }),
        ended('old3', 'failed', 0, since / 1000 - 1, { sequence_id: 'old', ...failedAt('Old') }),
        { run_id: 'live', status: 'running', created_at: 0 },
      ]);
      expect(await store.stats(since)).toEqual({
        total_sequences: 10,
        completed_since: 2,
        failed_since: 3,
        average_duration_seconds: (10 + 30 + 20 + 5 + 15 + 100) / 6,
        longest_sequence_id: 'longest',
        most_common_failure_step: 'Valve',
      });
    });

    it('answers zeros and nulls for an empty window', async () => {
      const store = await backend.open();
      await seed(store, [{ status: 'completed', created_at: 0, ended_at: 10 }]);
      expect(await store.stats(since)).toEqual({
        total_sequences: 1,
        completed_since: 0,
        failed_since: 0,
        average_duration_seconds: null,
        longest_sequence_id: null,
        most_common_failure_step: null,
      });
    });
  });

  it('prunes ended runs that ended before a time, at most as many as asked, never an unfinished one', async () => {
    const store = await backend.open();
    await seed(store, [
      ...Array.from({ length: 5 }, (_, i): RunFields => ({ run_id: `old-${i}`, status: 'completed', created_at: i, ended_at: 100 + i })),
      { run_id: 'new', status: 'failed', created_at: 10, ended_at: 5_000 },
      { run_id: 'live', created_at: 0 },
    ]);
    expect(await store.pruneEndedBefore(1_000, 3)).toBe(3);
    expect(await store.pruneEndedBefore(1_000)).toBe(2);
    expect(ids(await store.listRuns({ limit: 10, offset: 0 }))).toEqual(['new', 'live']);
    expect((await store.unfinishedRuns()).map((run) => run.run_id)).toEqual(['live']);
  });

  it('versions templates from 1 on the first PUT and again after a delete', async () => {
    const store = await backend.open();
    expect(await store.getTemplate('water')).toBeUndefined();
    expect(await store.putTemplate('water', { steps: ['{{zone}}'] }, 10)).toEqual({ name: 'water', version: 1, body: { steps: ['{{zone}}'] }, updated_at: 10 });
    expect(await store.putTemplate('water', { steps: [] }, 20)).toMatchObject({ version: 2, body: { steps: [] }, updated_at: 20 });
    await store.putTemplate('air', { steps: [1] }, 30);
    expect((await store.listTemplates()).map((t) => [t.name, t.version])).toEqual([
      ['air', 1],
      ['water', 2],
    ]);
    expect((await store.getTemplate('water'))?.version).toBe(2);
    expect(await store.deleteTemplate('water')).toBe(true);
    expect(await store.deleteTemplate('water')).toBe(false);
    expect((await store.putTemplate('water', {}, 40)).version).toBe(1);
  });

  it('stores settings as JSON, overwrites them and deletes them with undefined', async () => {
    const store = await backend.open();
    expect(await store.getSetting('emergency_stop')).toBeUndefined();
    await store.setSetting('emergency_stop', { active: true, reason: 'fire' });
    expect(await store.getSetting('emergency_stop')).toEqual({ active: true, reason: 'fire' });
    await store.setSetting('emergency_stop', false);
    expect(await store.getSetting('emergency_stop')).toBe(false);
    await store.setSetting('emergency_stop', undefined);
    expect(await store.getSetting('emergency_stop')).toBeUndefined();
  });

  it('closes idempotently and refuses commits afterwards', async () => {
    const store: RunStore = await backend.open();
    await store.close();
    await expect(store.close()).resolves.toBeUndefined();
    await expect(store.commit({ ...empty, starts: [startOf()] })).rejects.toThrow(/closed/);
  });
});

const ids = (page: { items: { run_id: string }[] }) => page.items.map((item) => item.run_id);
