import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import type { SqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import { endOf, recordOf, seed, startOf, tempDirs } from './run-store.fixtures.ts';

const dirs = tempDirs();
const opened: SqliteStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  dirs.cleanup();
});

function fileStore(options: Parameters<typeof openSqliteStore>[1] = { busyTimeoutMs: 20 }): { store: SqliteStore; path: string } {
  const path = join(dirs.make(), 'sequencer.db');
  const store = openSqliteStore(path, options);
  opened.push(store);
  return { store, path };
}

function reopen(path: string): SqliteStore {
  const store = openSqliteStore(path);
  opened.push(store);
  return store;
}

describe('the SQLite store on a file', () => {
  it('keeps runs with their journals, templates and settings across close and reopen', async () => {
    const { store, path } = fileStore();
    await seed(store, [{ run_id: 'kept', status: 'paused' }, { run_id: 'ended', status: 'failed' }]);
    await store.commit({ starts: [], records: [recordOf('kept', { events: ['PAUSE'] })], ends: [] });
    await store.putTemplate('t', { a: 1 }, 5);
    await store.setSetting('latch', true);
    await store.close();
    const again = reopen(path);
    expect((await again.getRun('kept'))?.status).toBe('paused');
    expect((await again.getRun('ended'))?.status).toBe('failed');
    expect((await again.unfinishedRuns()).map((run) => [run.run_id, run.records])).toEqual([['kept', [{ events: ['PAUSE'] }]]]);
    // The journal goes on after the records read back: a new record is not taken for an old one.
    await again.commit({ starts: [], records: [recordOf('kept', { events: ['RESUME'] })], ends: [] });
    expect((await reopen(path).unfinishedRuns())[0]?.records).toEqual([{ events: ['PAUSE'] }, { events: ['RESUME'] }]);
    expect((await again.getTemplate('t'))?.body).toEqual({ a: 1 });
    expect(await again.getSetting('latch')).toBe(true);
  });

  it('appends a journal record as one small row and keeps no journal for an ended run', async () => {
    const { store, path } = fileStore();
    await seed(store, [{ run_id: 'a' }]);
    await store.commit({ starts: [], records: [recordOf('a', { events: [{ type: 'WAKE', now: 1 }] }), recordOf('a', { snapshot: {} }, { snapshot: true })], ends: [] });
    const reader = new Database(path, { readonly: true });
    try {
      // The records before a snapshot are never replayed again: they are dropped with it.
      expect(reader.prepare('SELECT n, snapshot, body FROM run_journal').all()).toEqual([{ n: 1, snapshot: 1, body: '{"snapshot":{}}' }]);
      await store.commit({ starts: [], records: [], ends: [endOf({ run_id: 'a' })] });
      expect(reader.prepare('SELECT count(*) FROM run_journal').pluck().get()).toBe(0);
      expect(reader.prepare('SELECT count(*) FROM run_starts').pluck().get()).toBe(0);
      expect(reader.prepare("SELECT status FROM runs WHERE run_id = 'a'").pluck().get()).toBe('completed');
    } finally {
      reader.close();
    }
  });

  it('stamps updated_at of every row a commit writes with the clock at commit time', async () => {
    let clock = 1_000;
    const { store, path } = fileStore({ now: () => clock });
    clock = 2_000;
    await seed(store, [{ run_id: 'a' }, { run_id: 'b' }]);
    const reader = new Database(path, { readonly: true });
    try {
      expect(reader.prepare('SELECT DISTINCT updated_at FROM runs').pluck().all()).toEqual([2_000]);
    } finally {
      reader.close();
    }
  });

  it('rejects a commit that meets a lock held by another process and writes it once the lock is released', async () => {
    const { store, path } = fileStore();
    const other = new Database(path);
    try {
      other.exec('BEGIN EXCLUSIVE');
      await expect(store.commit({ starts: [startOf()], records: [], ends: [] })).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
      other.exec('COMMIT');
      await store.commit({ starts: [startOf()], records: [], ends: [] });
      expect(other.prepare('SELECT status FROM runs').pluck().get()).toBe('running');
    } finally {
      other.close();
    }
  });
});

describe('the SQLite store in memory', () => {
  it('leaves the history row of an ended run as it ended when a late record of it comes', async () => {
    const store = openSqliteStore(':memory:');
    opened.push(store);
    await seed(store, [{ run_id: 'done', status: 'completed' }]);
    await store.commit({ starts: [], records: [recordOf('done', { events: ['WAKE'] }, { status: 'running' })], ends: [] });
    expect((await store.getRun('done'))?.status).toBe('completed');
  });
});

describe('the SQLite store without a journal (an engine without a store of its own)', () => {
  it('keeps the history, the definitions and status changes, and nothing to recover', async () => {
    const store = openSqliteStore(':memory:', { journal: false });
    opened.push(store);
    await seed(store, [{ run_id: 'a', definition: { steps: [{ delay_seconds: 5 }] } }, { run_id: 'b' }]);
    await store.commit({ starts: [], records: [recordOf('a', { events: ['PAUSE'] }, { status: 'paused' })], ends: [endOf({ run_id: 'b', status: 'failed' })] });
    expect(await store.unfinishedRuns()).toEqual([]);
    const paused = await store.getRun('a');
    expect([paused?.status, paused?.definition]).toEqual(['paused', { steps: [{ delay_seconds: 5 }] }]);
    expect((await store.getRun('b'))?.status).toBe('failed');
    expect((await store.listRuns({ status: 'paused', limit: 10, offset: 0 })).items.map((run) => run.run_id)).toEqual(['a']);
  });
});
