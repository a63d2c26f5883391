import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyOpenError } from '../../src/store/sqlite/sqlite.open.ts';
import { migrate, MIGRATIONS, SCHEMA_VERSION } from '../../src/store/sqlite/sqlite.migrations.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import type { SqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import { StoreOpenError } from '../../src/store/store-open.error.ts';
import type { StoreOpenReason } from '../../src/store/store-open.error.ts';
import { progressOf, seed, stepResult, tempDirs } from './run-store.fixtures.ts';

const dirs = tempDirs();
const opened: SqliteStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  dirs.cleanup();
});

function open(path: string, options: Parameters<typeof openSqliteStore>[1] = { busyTimeoutMs: 20 }): SqliteStore {
  const store = openSqliteStore(path, options);
  opened.push(store);
  return store;
}

/** The StoreOpenError that opening `path` throws. */
function openError(path: string, options?: Parameters<typeof openSqliteStore>[1]): StoreOpenError {
  try {
    open(path, options);
  } catch (error) {
    expect(error).toBeInstanceOf(StoreOpenError);
    return error as StoreOpenError;
  }
  throw new Error(`opening ${path} did not fail`);
}

/** Opens `path` with another connection, lets `build` shape it, and returns the file's bytes. */
function craft(path: string, build: (db: Database.Database) => void): Buffer {
  const db = new Database(path);
  build(db);
  db.close();
  return readFileSync(path);
}

describe('opening the SQLite store', () => {
  it('creates missing directories, the current schema and WAL mode', async () => {
    const path = join(dirs.make(), 'nested', 'deeper', 'sequencer.db');
    await open(path).close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('runs the same code path in memory without touching the disk', async () => {
    const before = readdirSync(process.cwd());
    const store = open(':memory:');
    await seed(store, [{ run_id: 'run-1' }]);
    expect(await store.getRun('run-1')).toBeDefined();
    expect(readdirSync(process.cwd())).toEqual(before);
  });

  describe('when the database has an older schema', () => {
    it('migrates a hand-made version 1 database and keeps its data', async () => {
      const path = join(dirs.make(), 'v1.db');
      const failedProgress = progressOf({ run_id: 'f1', status: 'failed', progress: { step_results: [stepResult('Valve', false)] } });
      const failed = { run_id: 'f1', status: 'failed', definition: { steps: ['f'] }, progress: failedProgress, snapshot: null, created_at: 1_000, ended_at: 9_000 };
      const liveProgress = { ...progressOf({ run_id: 'live', status: 'paused' }), context: { rule_id: 'r', rule_name: null, triggered_by: null, trigger_data: null } };
      const snapshot = { value: 'paused', context: { currentStep: 0, plan: { steps: ['live'] } } };
      const live = { run_id: 'live', status: 'paused', definition: { steps: ['l'] }, progress: liveProgress, snapshot, created_at: 2_000, ended_at: null };
      craft(path, (db) => {
        db.exec(`
          CREATE TABLE runs (run_id TEXT PRIMARY KEY, sequence_id TEXT NOT NULL, status TEXT NOT NULL,
            definition TEXT NOT NULL, progress TEXT NOT NULL, snapshot TEXT, created_at INTEGER NOT NULL,
            ended_at INTEGER, updated_at INTEGER NOT NULL);
          CREATE TABLE templates (name TEXT PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL,
            updated_at INTEGER NOT NULL);
          CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
          CREATE INDEX runs_by_status ON runs (status, created_at, run_id);
          CREATE INDEX runs_by_created ON runs (created_at, run_id);
          CREATE INDEX runs_by_sequence ON runs (sequence_id, created_at, run_id);
          CREATE INDEX runs_by_ended ON runs (ended_at);
          PRAGMA user_version = 1;
        `);
        const insert = db.prepare("INSERT INTO runs VALUES (?, 'seq-1', ?, ?, ?, ?, ?, ?, 0)");
        for (const run of [failed, live]) {
          const json = [run.definition, run.progress, run.snapshot].map((value) => JSON.stringify(value));
          insert.run(run.run_id, run.status, ...json, run.created_at, run.ended_at);
        }
        db.prepare("INSERT INTO templates VALUES ('water', 3, '{\"steps\":[]}', 7)").run();
      });

      const store = open(path);
      expect(await store.getRun('f1')).toEqual({ run_id: 'f1', sequence_id: 'seq-1', status: 'failed', created_at: 1_000, ended_at: 9_000, progress: failedProgress, definition: { steps: ['f'] } });
      // Version 5 turned the unfinished run into a start record and one compact snapshot record.
      expect(await store.unfinishedRuns()).toEqual([
        {
          run_id: 'live',
          sequence_id: 'seq-1',
          status: 'paused',
          created_at: 2_000,
          definition: { steps: ['l'] },
          body: { plan: null, context: liveProgress.context, template: null },
          records: [{ snapshot }],
        },
      ]);
      expect(await store.getTemplate('water')).toEqual({ name: 'water', version: 3, body: { steps: [] }, updated_at: 7 });
      // The stats columns of version 2 were backfilled from the stored progress.
      expect(await store.stats(0)).toMatchObject({
        failed_since: 1,
        average_duration_seconds: 8,
        most_common_failure_step: 'Valve',
      });
      await store.close();
      const db = new Database(path, { readonly: true });
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      // Version 3 moved the definitions out of the runs row; version 5 its snapshot into the journal.
      const columns = (db.pragma('table_info(runs)') as { name: string }[]).map((column) => column.name);
      expect(columns).not.toContain('definition');
      expect(columns).not.toContain('snapshot');
      expect(db.prepare('SELECT count(*) FROM run_definitions').pluck().get()).toBe(2);
      db.close();
    });

    it('rolls a failing migration back entirely and keeps the previous version', () => {
      const db = new Database(':memory:');
      migrate(db);
      const broken = {
        version: SCHEMA_VERSION + 1,
        description: 'fails halfway',
        up(target: Database.Database) {
          target.exec('CREATE TABLE half_done (x)');
          throw new Error('migration failed');
        },
      };
      expect(() => migrate(db, [...MIGRATIONS, broken])).toThrow('migration failed');
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").pluck().get()).toBe(0);
      expect(migrate(db)).toEqual([]);
      db.close();
    });
  });

  describe('when the file is not usable it throws a StoreOpenError and leaves the file as it was', () => {
    function expectUntouched(path: string, bytes: Buffer, reason: StoreOpenReason): void {
      const error = openError(path);
      expect(error.reason).toBe(reason);
      expect(error.path).toBe(path);
      expect(error.message).toContain(path);
      expect(readFileSync(path).equals(bytes)).toBe(true);
      expect(existsSync(`${path}-wal`)).toBe(false);
    }

    it("reports 'corrupt' for a file of garbage bytes", () => {
      const path = join(dirs.make(), 'garbage.db');
      const bytes = Buffer.from('definitely not a database; '.repeat(200));
      writeFileSync(path, bytes);
      expectUntouched(path, bytes, 'corrupt');
    });

    it("reports 'corrupt' for a SQLite database with a damaged page", () => {
      const path = join(dirs.make(), 'damaged.db');
      const bytes = craft(path, (db) => {
        db.exec('CREATE TABLE t (x, y); CREATE INDEX t_y ON t (y);');
        const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
        db.transaction(() => {
          for (let i = 0; i < 2_000; i += 1) insert.run(i, 'x'.repeat(100));
        })();
      });
      bytes.fill(0x5a, 4096 * 3, 4096 * 4);
      writeFileSync(path, bytes);
      expectUntouched(path, bytes, 'corrupt');
    });

    it("reports 'corrupt' when the integrity check finds a damaged index that reads do not hit", () => {
      const path = join(dirs.make(), 'bad-index.db');
      const bytes = craft(path, (db) => {
        db.exec('CREATE TABLE t (x, y); CREATE INDEX t_y ON t (y);');
        const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
        db.transaction(() => {
          for (let i = 0; i < 2_000; i += 1) insert.run(i, `${'x'.repeat(100)}${i}`);
        })();
      });
      // The last page belongs to the index, which opening the file never reads.
      bytes.fill(0, bytes.length - 4096);
      writeFileSync(path, bytes);
      expectUntouched(path, bytes, 'corrupt');
      expect(openError(path).message).toMatch(/quick_check: .*Tree/);
    });

    it("reports 'newer-schema' for a database written by a newer Sequencer", () => {
      const path = join(dirs.make(), 'newer.db');
      const bytes = craft(path, (db) => db.pragma(`user_version = ${SCHEMA_VERSION + 1}`));
      expectUntouched(path, bytes, 'newer-schema');
    });

    it("reports 'foreign' for the database of another application", () => {
      const path = join(dirs.make(), 'foreign.db');
      const bytes = craft(path, (db) => db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY)'));
      expectUntouched(path, bytes, 'foreign');
    });
  });

  describe('when another process holds the database', () => {
    it("reports 'locked' for a rollback-journal database under BEGIN EXCLUSIVE, and opens once released", async () => {
      const path = join(dirs.make(), 'locked.db');
      const other = new Database(path);
      other.exec('BEGIN EXCLUSIVE');
      const error = openError(path);
      expect(error.reason).toBe('locked');
      expect(error.message).toMatch(/locked by another process/);
      other.exec('COMMIT');
      other.close();
      expect(await open(path).getRun('x')).toBeUndefined();
    });

    it("reports 'locked' for a Sequencer database in WAL mode whose write lock is held", async () => {
      const path = join(dirs.make(), 'wal.db');
      await open(path).close();
      const other = new Database(path);
      other.exec('BEGIN EXCLUSIVE');
      try {
        expect(openError(path).reason).toBe('locked');
      } finally {
        other.exec('COMMIT');
        other.close();
      }
    });

    it("holds the file with exclusive: true so that a second store gets 'locked'", async () => {
      const path = join(dirs.make(), 'owned.db');
      const owner = open(path, { exclusive: true, busyTimeoutMs: 20 });
      expect(openError(path).reason).toBe('locked');
      await owner.close();
      expect(await open(path).getRun('x')).toBeUndefined();
    });
  });

  describe('when the disk refuses', () => {
    it("reports 'io' with the path when the directory cannot be created", () => {
      const dir = dirs.make();
      writeFileSync(join(dir, 'a-file'), 'x');
      const path = join(dir, 'a-file', 'sequencer.db');
      const error = openError(path);
      expect(error.reason).toBe('io');
      expect(error.message).toContain(path);
    });

    it("reports 'io' when the path is a directory", () => {
      const path = dirs.make();
      expect(openError(path).reason).toBe('io');
    });

    it("maps a full disk (SQLITE_FULL or ENOSPC) to 'full' and other failures by their code", () => {
      const full = new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
      const noSpace = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      expect(classifyOpenError(full, '/data/s.db')).toMatchObject({ reason: 'full', path: '/data/s.db', cause: full });
      expect(classifyOpenError(noSpace, '/data/s.db').reason).toBe('full');
      expect(classifyOpenError(new Database.SqliteError('x', 'SQLITE_IOERR_WRITE'), 'p').reason).toBe('io');
      expect(classifyOpenError(new Database.SqliteError('x', 'SQLITE_BUSY_SNAPSHOT'), 'p').reason).toBe('locked');
      expect(classifyOpenError(new Database.SqliteError('x', 'SQLITE_CORRUPT_INDEX'), 'p').reason).toBe('corrupt');
      expect(classifyOpenError('weird', 'p')).toMatchObject({
        reason: 'io',
        message: expect.stringContaining('weird'),
      });
    });
  });
});
