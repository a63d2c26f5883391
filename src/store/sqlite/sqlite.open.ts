/**
 * Opening the SQLite database safely: every fault at start becomes a `StoreOpenError` with a
 * reason, and nothing is written to a file until it has proved to be a healthy Sequencer database
 * of a version this build knows, so a wrong or damaged file is never overwritten.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type BetterSqlite3 from 'better-sqlite3';
import { migrate, schemaVersion, SCHEMA_VERSION } from './sqlite.migrations.ts';
import { StoreOpenError } from '../store-open.error.ts';

/** How the database file is opened. */
export interface SqliteOpenOptions {
  /**
   * How long a statement waits for a lock held by another connection before failing, in ms.
   * Short, because the engine is the only writer: a long wait only delays the "locked" verdict.
   * Default 250.
   */
  busyTimeoutMs?: number;
  /**
   * Holds the file lock from open to close (`locking_mode = EXCLUSIVE`), so that a second process
   * (another server on the same file) gets `locked` instead of recovering the same runs. Other
   * readers, such as the sqlite3 shell, are then shut out too. Default false.
   */
  exclusive?: boolean;
}

// The path that means "no file": same code path, nothing on disk.
const MEMORY_PATH = ':memory:';

/**
 * Opens, checks, configures and migrates the database at `path` (creating its directory).
 * Throws `StoreOpenError` on every failure, after closing what it opened.
 */
export function openDatabase(path: string, options: Required<SqliteOpenOptions>): BetterSqlite3.Database {
  const memory = path === MEMORY_PATH;
  if (!memory) ensureDirectory(path);
  let db: BetterSqlite3.Database;
  try {
    db = new Database(path, { timeout: options.busyTimeoutMs });
  } catch (error) {
    throw classifyOpenError(error, path);
  }
  try {
    // Must precede the first read: the lock is taken by the first access and then kept.
    if (options.exclusive) db.pragma('locking_mode = EXCLUSIVE');
    checkIntegrity(db, path);
    checkSchema(db, path);
    if (!memory) db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL loses at most the last commits on power loss, never on a process crash.
    db.pragma('synchronous = NORMAL');
    migrate(db);
    // A real write (page 1, unchanged version) proves now, not at the first flush, that the write
    // lock can be taken and the file written.
    db.transaction(() => db.pragma(`user_version = ${SCHEMA_VERSION}`)).immediate();
    return db;
  } catch (error) {
    db.close();
    throw error instanceof StoreOpenError ? error : classifyOpenError(error, path);
  }
}

/**
 * Maps an error met while opening to a `StoreOpenError`: SQLite result codes (`SQLITE_NOTADB`,
 * `SQLITE_BUSY`, `SQLITE_FULL`, ...) and Node errno codes (`ENOSPC`, `EACCES`, ...).
 */
export function classifyOpenError(error: unknown, path: string): StoreOpenError {
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : '';
  const detail = error instanceof Error ? error.message : String(error);
  const options = { cause: error };
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new StoreOpenError('corrupt', path, corruptMessage(path, detail), options);
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreOpenError(
      'locked',
      path,
      `database ${path} is locked by another process (${detail}); is another Sequencer using it?`,
      options,
    );
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') {
    return new StoreOpenError('full', path, `no space left on the device of database ${path} (${detail})`, options);
  }
  return new StoreOpenError('io', path, `cannot open or write database ${path} (${detail})`, options);
}

function corruptMessage(path: string, detail: string): string {
  return (
    `database ${path} is not a SQLite database or is damaged (${detail}); it was left untouched: ` +
    'restore a backup or move it away, then start again'
  );
}

function ensureDirectory(path: string): void {
  try {
    mkdirSync(dirname(resolve(path)), { recursive: true });
  } catch (error) {
    throw classifyOpenError(error, path);
  }
}

function checkIntegrity(db: BetterSqlite3.Database, path: string): void {
  // quick_check reads every page but skips the index-content cross-checks of integrity_check,
  // which is what makes it affordable at every start. Problems are flattened to one line each so
  // that the CLI prints a one-line message.
  const problems = (db.pragma('quick_check') as { quick_check: string }[]).map((row) =>
    row.quick_check.replace(/\s+/g, ' '),
  );
  if (problems.length !== 1 || problems[0] !== 'ok') {
    throw new StoreOpenError('corrupt', path, corruptMessage(path, `quick_check: ${problems.slice(0, 3).join('; ')}`));
  }
}

function checkSchema(db: BetterSqlite3.Database, path: string): void {
  const version = schemaVersion(db);
  if (version > SCHEMA_VERSION) {
    throw new StoreOpenError(
      'newer-schema',
      path,
      `database ${path} has schema version ${version}, but this Sequencer knows up to ${SCHEMA_VERSION}; ` +
        'upgrade Sequencer or point --db at another file',
    );
  }
  if (version === 0) {
    const tables = db.prepare("SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").pluck().get();
    if ((tables as number) > 0) {
      throw new StoreOpenError(
        'foreign',
        path,
        `database ${path} is a SQLite database of another application; it was left untouched: ` +
          'point --db at another file',
      );
    }
  }
}
