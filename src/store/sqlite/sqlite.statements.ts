/**
 * The prepared statements of the SQLite store, built once per database. Kept apart from the store
 * class so that the SQL reads in one place.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { RunStatus } from '../../domain/progress.ts';
import { ACTIVE_SQL, LISTED_COLUMNS, NEWEST_FIRST, TERMINAL_SQL, type ListedRow, type RunRow, type TemplateRow } from '../store-rows.ts';

// A missing definition reads as null rather than hiding its run (the JOIN is LEFT).
const SELECT_RUN = `SELECT run_id, sequence_id, status, progress, created_at, ended_at, coalesce(definition, 'null') AS definition
  FROM runs LEFT JOIN run_definitions USING (run_id)`;

/** A start record of an unfinished run, with its history row's columns. */
export interface StartRow {
  run_seq: number;
  run_id: string;
  body: string;
  sequence_id: string;
  status: RunStatus;
  created_at: number;
  definition: string;
}

/** A journal record as read back. */
export interface JournalRow {
  run_seq: number;
  n: number;
  snapshot: number;
  body: string;
}

/** Prepares every fixed statement of the store. */
export function prepareStatements(db: BetterSqlite3.Database) {
  return {
    // An unfinished run's history row carries no progress yet (JSON null): the engine running it
    // has it, and it is written once, when the run ends.
    insertRun: db.prepare<[string, string, RunStatus, number, number, number]>(
      `INSERT INTO runs (run_id, sequence_id, status, progress, created_at, listed_at, ended_at, updated_at, failed_step, duration_seconds)
       VALUES (?, ?, ?, 'null', ?, ?, NULL, ?, NULL, NULL)`,
    ),
    insertDefinition: db.prepare<[string, string]>('INSERT INTO run_definitions (run_id, definition) VALUES (?, ?) ON CONFLICT (run_id) DO NOTHING'),
    insertStart: db.prepare<[string, string]>('INSERT INTO run_starts (run_id, body) VALUES (?, ?)'),
    append: db.prepare<[number, number, number, string]>('INSERT INTO run_journal (run_seq, n, snapshot, body) VALUES (?, ?, ?, ?)'),
    dropBefore: db.prepare<[number, number]>('DELETE FROM run_journal WHERE run_seq = ? AND n < ?'),
    setStatus: db.prepare<[RunStatus, number, string]>('UPDATE runs SET status = ?, updated_at = ? WHERE run_id = ?'),
    setListed: db.prepare<[number, string]>('UPDATE runs SET listed_at = ? WHERE run_id = ?'),
    endRun: db.prepare<[RunStatus, string, number, number, string | null, number | null, string]>(
      `UPDATE runs SET status = ?, progress = ?, ended_at = ?, updated_at = ?, failed_step = ?, duration_seconds = ?
       WHERE run_id = ?`,
    ),
    dropJournal: db.prepare<[number]>('DELETE FROM run_journal WHERE run_seq = ?'),
    dropStart: db.prepare<[number]>('DELETE FROM run_starts WHERE run_seq = ?'),
    byRunId: db.prepare<[string], RunRow>(`${SELECT_RUN} WHERE run_id = ?`),
    newestOfSequence: db.prepare<[string], RunRow>(`${SELECT_RUN} WHERE sequence_id = ? ${NEWEST_FIRST} LIMIT 1`),
    pageAll: db.prepare<[number, number], ListedRow>(`SELECT ${LISTED_COLUMNS} FROM runs ${NEWEST_FIRST} LIMIT ? OFFSET ?`),
    pageStatus: db.prepare<[RunStatus, number, number], ListedRow>(`SELECT ${LISTED_COLUMNS} FROM runs WHERE status = ? ${NEWEST_FIRST} LIMIT ? OFFSET ?`),
    pageActive: db.prepare<[number, number], ListedRow>(
      `SELECT ${LISTED_COLUMNS} FROM runs WHERE status IN (${ACTIVE_SQL}) ${NEWEST_FIRST} LIMIT ? OFFSET ?`,
    ),
    countAll: db.prepare<[], number>('SELECT count(*) FROM runs').pluck(),
    countStatus: db.prepare<[RunStatus], number>('SELECT count(*) FROM runs WHERE status = ?').pluck(),
    countActive: db.prepare<[], number>(`SELECT count(*) FROM runs WHERE status IN (${ACTIVE_SQL})`).pluck(),
    countByStatus: db.prepare<[], { status: RunStatus; n: number }>('SELECT status, count(*) AS n FROM runs GROUP BY status'),
    // `+status` keeps the planner off the status index: the ended_at range of a stats window is
    // narrow, while every terminal status together covers nearly the whole history.
    statsTotals: db.prepare<[number], { completed: number | null; failed: number | null; average: number | null }>(
      `SELECT sum(status = 'completed') AS completed, sum(status = 'failed') AS failed, avg(duration_seconds) AS average
       FROM runs WHERE ended_at >= ? AND +status IN (${TERMINAL_SQL})`,
    ),
    longest: db
      .prepare<[number], string>(
        `SELECT sequence_id FROM runs
         WHERE ended_at >= ? AND +status IN (${TERMINAL_SQL}) AND duration_seconds IS NOT NULL
         ORDER BY duration_seconds DESC, ended_at DESC LIMIT 1`,
      )
      .pluck(),
    commonFailure: db
      .prepare<[number], string>(
        `SELECT failed_step FROM runs
         WHERE ended_at >= ? AND +status = 'failed' AND failed_step IS NOT NULL
         GROUP BY failed_step ORDER BY count(*) DESC, failed_step ASC LIMIT 1`,
      )
      .pluck(),
    // run_seq is the order of admission: runs admitted in the same millisecond come back in order.
    starts: db.prepare<[], StartRow>(
      `SELECT run_seq, run_id, body, sequence_id, status, created_at, coalesce(definition, 'null') AS definition
       FROM run_starts JOIN runs USING (run_id) LEFT JOIN run_definitions USING (run_id)
       ORDER BY created_at ASC, run_seq ASC`,
    ),
    journal: db.prepare<[], JournalRow>('SELECT run_seq, n, snapshot, body FROM run_journal ORDER BY run_seq, n'),
    pruneChunk: db.prepare<[number, number]>(
      `DELETE FROM runs WHERE rowid IN
         (SELECT rowid FROM runs WHERE ended_at < ? AND +status IN (${TERMINAL_SQL}) LIMIT ?)`,
    ),
    getTemplate: db.prepare<[string], TemplateRow>('SELECT name, version, body, updated_at FROM templates WHERE name = ?'),
    putTemplate: db.prepare<[string, string, number], TemplateRow>(
      `INSERT INTO templates (name, version, body, updated_at) VALUES (?, 1, ?, ?)
       ON CONFLICT (name) DO UPDATE SET
         version = templates.version + 1, body = excluded.body, updated_at = excluded.updated_at
       RETURNING name, version, body, updated_at`,
    ),
    deleteTemplate: db.prepare<[string]>('DELETE FROM templates WHERE name = ?'),
    listTemplates: db.prepare<[], TemplateRow>('SELECT name, version, body, updated_at FROM templates ORDER BY name'),
    getSetting: db.prepare<[string], string>('SELECT value FROM settings WHERE key = ?').pluck(),
    putSetting: db.prepare<[string, string]>('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    deleteSetting: db.prepare<[string]>('DELETE FROM settings WHERE key = ?'),
  };
}

/** The statements `prepareStatements` builds. */
export type Statements = ReturnType<typeof prepareStatements>;
