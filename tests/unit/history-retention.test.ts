import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { pruneInChunks } from '../../src/store/history.retention.ts';
import { openSqliteStore } from '../../src/store/sqlite.store.ts';
import type { SqliteStore } from '../../src/store/sqlite.store.ts';
import { makeRun, tempDirs } from './sqlite-store.fixtures.ts';

const dirs = tempDirs();
const opened: SqliteStore[] = [];
afterEach(() => {
  for (const store of opened.splice(0)) store.close();
  dirs.cleanup();
});

function open(path: string): SqliteStore {
  const store = openSqliteStore(path);
  opened.push(store);
  return store;
}

/** `count` runs that ended at 100, one that ended at 200 and one still running. */
function seedOld(store: SqliteStore, count: number): void {
  for (let i = 0; i < count; i += 1) {
    const status = i % 2 ? 'failed' : 'completed';
    store.queueRun(makeRun({ run_id: `old-${i}`, status, created_at: 0, ended_at: 100 }));
  }
  store.queueRun(makeRun({ run_id: 'recent', status: 'completed', created_at: 0, ended_at: 200 }));
  store.queueRun(makeRun({ run_id: 'still-running', status: 'running', created_at: 0 }));
  store.flush();
}

describe.each([':memory:', 'file'])('when old history is pruned (%s)', (kind) => {
  const path = () => (kind === 'file' ? join(dirs.make(), 'history.db') : ':memory:');

  it('deletes terminal runs that ended before the cutoff, across chunks, and only those', () => {
    const store = open(path());
    seedOld(store, 1_200);
    expect(store.pruneEndedBefore(200, 700)).toBe(700);
    expect(store.pruneEndedBefore(200)).toBe(500);
    expect(store.pruneEndedBefore(200)).toBe(0);
    expect(store.activeRuns().map((run) => run.run_id)).toEqual(['still-running']);
    expect(store.getRun('recent')).toBeDefined();
    expect(store.listRuns({ limit: 10, offset: 0 }).total).toBe(2);
  });

  it('yields to the event loop between chunks with pruneInChunks', async () => {
    const store = open(path());
    seedOld(store, 1_200);
    let totalSeenBetweenChunks: number | undefined;
    setImmediate(() => {
      totalSeenBetweenChunks = store.listRuns({ limit: 1, offset: 0 }).total;
    });
    expect(await pruneInChunks(store, 200, { chunkRows: 500 })).toBe(1_200);
    // The callback ran after the first chunk, while 700 old runs (+2 kept) were still there.
    expect(totalSeenBetweenChunks).toBe(702);
    expect(store.listRuns({ limit: 1, offset: 0 }).total).toBe(2);
  });
});

describe('pruneInChunks', () => {
  it('refuses a chunk size that would never end the loop', async () => {
    const store = open(':memory:');
    await expect(pruneInChunks(store, 200, { chunkRows: 0 })).rejects.toThrow(RangeError);
  });

  it('deletes the definitions of pruned runs with them', () => {
    const path = join(dirs.make(), 'history.db');
    const store = open(path);
    store.queueRun(makeRun({ run_id: 'old', status: 'completed', created_at: 0, ended_at: 10 }));
    store.queueRun(makeRun({ run_id: 'new', status: 'completed', created_at: 0, ended_at: 30 }));
    store.flush();
    expect(store.pruneEndedBefore(20)).toBe(1);
    const reader = new Database(path, { readonly: true });
    try {
      expect(reader.prepare('SELECT run_id FROM run_definitions').pluck().all()).toEqual(['new']);
    } finally {
      reader.close();
    }
  });
});
