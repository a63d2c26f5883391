/**
 * The store backends the shared contract suite (`tests/unit/run-store.test.ts`) runs against:
 * each opens a fresh, empty store and cleans up after itself. A new backend joins the suite by
 * adding itself here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunStore } from '../../src/store/run-store.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite.store.ts';

/** One backend of the contract suite. */
export interface StoreBackend {
  name: string;
  /** A fresh, empty store; `clock` stamps what the store stamps itself. */
  open(): Promise<RunStore>;
  /** Closes what `open` made and removes its files or database (after each test). */
  cleanup(): Promise<void>;
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
  };
}

/** Every backend of the suite. */
export const STORE_BACKENDS: StoreBackend[] = [sqlite('file'), sqlite('memory')];
