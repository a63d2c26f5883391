/**
 * The store backends the shared contract suite (`tests/unit/run-store.test.ts`) runs against:
 * each opens a fresh, empty store and cleans up after itself. A new backend joins the suite by
 * adding itself here. PostgreSQL runs on the server at 127.0.0.1:5432 (see `pg-database.ts`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPostgresStore } from '../../src/store/postgres/postgres.store.ts';
import type { RunStore } from '../../src/store/run-store.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import { createTestDatabase, type TestDatabase } from './pg-database.ts';

/** One backend of the contract suite. */
export interface StoreBackend {
  name: string;
  /** A fresh, empty store; `clock` stamps what the store stamps itself. */
  open(): Promise<RunStore>;
  /** Closes what `open` made and removes its files or empties its database (after each test). */
  cleanup(): Promise<void>;
  /** Removes what the backend keeps for the whole file (its database), after the last test. */
  dispose(): Promise<void>;
}

/** SQLite on a file in a temporary directory (WAL), or `:memory:`. */
function sqlite(where: 'file' | 'memory'): StoreBackend {
  const opened: RunStore[] = [];
  const dirs: string[] = [];
  return {
    name: `sqlite (${where})`,
    async open() {
      let path = ':memory:';
      if (where === 'file') {
        const dir = mkdtempSync(join(tmpdir(), 'sequencer-store-'));
        dirs.push(dir);
        path = join(dir, 'sequencer.db');
      }
      const store = openSqliteStore(path, { busyTimeoutMs: 20 });
      opened.push(store);
      return store;
    },
    async cleanup() {
      for (const store of opened.splice(0)) await store.close();
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
    async dispose() {},
  };
}

/** PostgreSQL: one database for the test file, emptied after each test. */
function postgres(): StoreBackend {
  const opened: RunStore[] = [];
  let database: TestDatabase | null = null;
  return {
    name: 'postgres',
    async open() {
      database ??= await createTestDatabase();
      const store = await openPostgresStore(database.url, { nodeId: 'node-a' });
      opened.push(store);
      return store;
    },
    async cleanup() {
      for (const store of opened.splice(0)) await store.close();
      await database?.empty();
    },
    async dispose() {
      await database?.drop();
      database = null;
    },
  };
}

/** Every backend of the suite. */
export const STORE_BACKENDS: StoreBackend[] = [sqlite('file'), sqlite('memory'), postgres()];
