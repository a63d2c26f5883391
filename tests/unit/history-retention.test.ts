import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { pruneInChunks } from '../../src/store/history.retention.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import type { SqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import { seed, tempDirs, type RunFields } from './run-store.fixtures.ts';

const dirs = tempDirs();
const opened: SqliteStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  dirs.cleanup();
});

function open(path: string): SqliteStore {
  const store = openSqliteStore(path);
  opened.push(store);
  return store;
}

/** `count` runs that ended at 100, one that ended at 200 and one still running. */
async function seedOld(store: SqliteStore, count: number): Promise<void> {
  const runs: RunFields[] = [];
  for (let i = 0; i < count; i += 1) {
    const status = i % 2 ? 'failed' : 'completed';
    runs.push({ run_id: `old-${i}`, status, created_at: 0, ended_at: 100 });
  }
  runs.push({ run_id: 'recent', status: 'completed', created_at: 0, ended_at: 200 }, { run_id: 'still-running', status: 'running', created_at: 0 });
  await seed(store, runs);
}

describe.each([':memory:', 'file'])('when old history is pruned (%s)', (kind) => {
  const path = () => (kind === 'file' ? join(dirs.make(), 'history.db') : ':memory:');

  it('deletes terminal runs that ended before the cutoff, across chunks, and only those', async () => {
    const store = open(path());
    await seedOld(store, 1_200);
    expect(await store.pruneEndedBefore(200, 700)).toBe(700);
    expect(await store.pruneEndedBefore(200)).toBe(500);
    expect(await store.pruneEndedBefore(200)).toBe(0);
    expect((await store.unfinishedRuns()).map((run) => run.run_id)).toEqual(['still-running']);
    expect(await store.getRun('recent')).toBeDefined();
    expect((await store.listRuns({ limit: 10, offset: 0 })).total).toBe(2);
  });

  it('yields to the event loop between chunks with pruneInChunks', async () => {
    const store = open(path());
    await seedOld(store, 1_200);
    let totalSeenBetweenChunks: Promise<number> | undefined;
    setImmediate(() => {
      totalSeenBetweenChunks = store.listRuns({ limit: 1, offset: 0 }).then((page) => page.total);
    });
    expect(await pruneInChunks(store, 200, { chunkRows: 500 })).toBe(1_200);
    // The callback ran after the first chunk, while 700 old runs (+2 kept) were still there.
    expect(await totalSeenBetweenChunks).toBe(702);
    expect((await store.listRuns({ limit: 1, offset: 0 })).total).toBe(2);
  });
});

describe('pruneInChunks', () => {
  it('refuses a chunk size that would never end the loop', async () => {
    const store = open(':memory:');
    await expect(pruneInChunks(store, 200, { chunkRows: 0 })).rejects.toThrow(RangeError);
  });

  it('deletes the definitions of pruned runs with them', async () => {
    const path = join(dirs.make(), 'history.db');
    const store = open(path);
    await seed(store, [
      { run_id: 'old', status: 'completed', created_at: 0, ended_at: 10 },
      { run_id: 'new', status: 'completed', created_at: 0, ended_at: 30 },
    ]);
    expect(await store.pruneEndedBefore(20)).toBe(1);
    const reader = new Database(path, { readonly: true });
    try {
      expect(reader.prepare('SELECT run_id FROM run_definitions').pluck().all()).toEqual(['new']);
    } finally {
      reader.close();
    }
  });
});
