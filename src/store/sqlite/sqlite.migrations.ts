/**
 * The schema of the SQLite store as an ordered list of migrations. `PRAGMA user_version` records
 * the last one applied; each runs in its own transaction together with the version bump, so a
 * crash mid-upgrade leaves the previous version intact. Append new migrations, never edit one that
 * has shipped.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Progress, RunStatus } from '../../domain/progress.ts';
import { historyColumns } from '../history-columns.ts';
import { journalSnapshotBody, startBody } from '../run-journal.ts';

/** One step of the schema: `up` brings a database at `version - 1` to `version`. */
export interface Migration {
  readonly version: number;
  readonly description: string;
  up(db: BetterSqlite3.Database): void;
}

/** Every migration, in order; `version` is its 1-based position. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'runs, templates and settings',
    up(db) {
      db.exec(`
        CREATE TABLE runs (
          run_id      TEXT PRIMARY KEY,
          sequence_id TEXT NOT NULL,
          status      TEXT NOT NULL,
          definition  TEXT NOT NULL,
          progress    TEXT NOT NULL,
          snapshot    TEXT,
          created_at  INTEGER NOT NULL,
          ended_at    INTEGER,
          updated_at  INTEGER NOT NULL
        );
        -- Filters by status and the history page share the newest-first order, so one index
        -- serves both without a sort.
        CREATE INDEX runs_by_status ON runs (status, created_at, run_id);
        CREATE INDEX runs_by_created ON runs (created_at, run_id);
        CREATE INDEX runs_by_sequence ON runs (sequence_id, created_at, run_id);
        CREATE INDEX runs_by_ended ON runs (ended_at);
        CREATE TABLE templates (
          name       TEXT PRIMARY KEY,
          version    INTEGER NOT NULL,
          body       TEXT NOT NULL,
          updated_at INTEGER NOT NULL
        );
        CREATE TABLE settings (
          key   TEXT PRIMARY KEY,
          value TEXT NOT NULL
        );
      `);
    },
  },
  {
    version: 2,
    description: 'stats columns: failed_step and duration_seconds, backfilled from progress',
    up(db) {
      db.exec(`
        ALTER TABLE runs ADD COLUMN failed_step TEXT;
        ALTER TABLE runs ADD COLUMN duration_seconds REAL;
      `);
      // Backfilled with the same derivation the store writes with, so old and new rows agree.
      const rows = db
        .prepare('SELECT run_id, status, progress, created_at, ended_at FROM runs WHERE ended_at IS NOT NULL')
        .all() as { run_id: string; status: RunStatus; progress: string; created_at: number; ended_at: number }[];
      const update = db.prepare('UPDATE runs SET failed_step = ?, duration_seconds = ? WHERE run_id = ?');
      for (const row of rows) {
        const derived = historyColumns(JSON.parse(row.progress) as Progress, row.status, row.created_at, row.ended_at);
        update.run(derived.failed_step, derived.duration_seconds, row.run_id);
      }
    },
  },
  {
    version: 3,
    description: 'definitions move out of the runs row, which every transition rewrites',
    up(db) {
      db.exec(`
        CREATE TABLE run_definitions (
          run_id     TEXT PRIMARY KEY,
          definition TEXT NOT NULL
        );
        INSERT INTO run_definitions (run_id, definition) SELECT run_id, definition FROM runs;
        ALTER TABLE runs DROP COLUMN definition;
        -- Whoever deletes runs (retention, a future admin tool) cannot leave definitions behind.
        CREATE TRIGGER runs_delete_definition AFTER DELETE ON runs
        BEGIN
          DELETE FROM run_definitions WHERE run_id = OLD.run_id;
        END;
      `);
    },
  },
  {
    version: 4,
    description: "an unfinished run's plan is stored once in its own table instead of in every snapshot",
    up(db) {
      // A table of its own: its rows are deleted whole when their runs end, so their pages free up
      // and are reused, where a column set to NULL would leave half-empty pages for the history.
      db.exec(`
        CREATE TABLE run_plans (
          run_id TEXT PRIMARY KEY,
          plan   TEXT NOT NULL
        );
        CREATE TRIGGER runs_delete_plan AFTER DELETE ON runs
        BEGIN
          DELETE FROM run_plans WHERE run_id = OLD.run_id;
        END;
      `);
    },
  },
  {
    version: 5,
    description: 'a journal: a start record per unfinished run and one small record per turn, instead of a row rewritten by every transition',
    up(db) {
      db.exec(`
        -- One row per unfinished run: what recovery needs beside its definition. Its run_seq keys
        -- the run's journal (an INTEGER key: appends are cheap). Deleted when the run ends.
        CREATE TABLE run_starts (
          run_seq INTEGER PRIMARY KEY,
          run_id  TEXT NOT NULL,
          body    TEXT NOT NULL
        );
        -- Appended once per turn in which a run moved; never rewritten.
        CREATE TABLE run_journal (
          run_seq  INTEGER NOT NULL,
          n        INTEGER NOT NULL,
          snapshot INTEGER NOT NULL,
          body     TEXT NOT NULL,
          PRIMARY KEY (run_seq, n)
        ) WITHOUT ROWID;
      `);
      // Every unfinished run stored by v4 becomes a start record and, when it had begun, one
      // compact snapshot record: recovery reads both kinds the same way.
      const unfinished = db
        .prepare(
          `SELECT runs.run_id, runs.progress, runs.snapshot, run_plans.plan FROM runs LEFT JOIN run_plans USING (run_id)
           WHERE runs.status NOT IN ('completed', 'failed', 'cancelled', 'timeout') ORDER BY runs.created_at, runs.rowid`,
        )
        .all() as { run_id: string; progress: string; snapshot: string | null; plan: string | null }[];
      const insertStart = db.prepare('INSERT INTO run_starts (run_id, body) VALUES (?, ?)');
      const insertRecord = db.prepare('INSERT INTO run_journal (run_seq, n, snapshot, body) VALUES (?, 0, 1, ?)');
      for (const row of unfinished) {
        const progress = JSON.parse(row.progress) as Partial<Progress>;
        const plan = row.plan === null ? null : (JSON.parse(row.plan) as unknown);
        const body = startBody(plan, progress.context ?? null, progress.template ?? null);
        const seq = insertStart.run(row.run_id, JSON.stringify(body)).lastInsertRowid;
        if (row.snapshot !== null) insertRecord.run(seq, JSON.stringify(journalSnapshotBody(JSON.parse(row.snapshot) as unknown)));
      }
      db.exec(`
        DROP TRIGGER runs_delete_plan;
        DROP TABLE run_plans;
        ALTER TABLE runs DROP COLUMN snapshot;
      `);
    },
  },
  {
    version: 6,
    description: 'the history lists runs by when they started (a queued run by when it was queued, until it starts)',
    up(db) {
      // An ended run's start is in its progress object; an unfinished one (progress null) started
      // when it was created, or is queued since then.
      db.exec(`
        ALTER TABLE runs ADD COLUMN listed_at INTEGER;
        UPDATE runs SET listed_at = coalesce(
          CAST(round((julianday(json_extract(progress, '$.started_at')) - 2440587.5) * 86400000) AS INTEGER),
          created_at);
        DROP INDEX runs_by_status;
        DROP INDEX runs_by_created;
        DROP INDEX runs_by_sequence;
        CREATE INDEX runs_by_status ON runs (status, listed_at, run_id);
        CREATE INDEX runs_by_listed ON runs (listed_at, run_id);
        CREATE INDEX runs_by_sequence ON runs (sequence_id, listed_at, run_id);
      `);
    },
  },
];

/** The schema version this build writes; a database above it is refused. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The schema version recorded in a database (0 for a new one). */
export function schemaVersion(db: BetterSqlite3.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Applies every migration above the database's version, each in one immediate transaction.
 * Returns the versions applied. The caller has checked that the version is not newer than ours.
 */
export function migrate(db: BetterSqlite3.Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const applied: number[] = [];
  for (const migration of migrations) {
    if (migration.version <= schemaVersion(db)) continue;
    db.transaction(() => {
      migration.up(db);
      // PRAGMA takes no bound parameters; the version is a number from our own list.
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
    applied.push(migration.version);
  }
  return applied;
}
