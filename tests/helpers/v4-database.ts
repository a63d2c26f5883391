/**
 * Writes a SQLite database as schema v4 stored runs (the schema before the journal: a `runs` row
 * rewritten by every transition with its progress and snapshot, the definition and plan beside
 * it), so that tests open it with the current store and see the migration to the journal.
 */
import Database from 'better-sqlite3';
import { historyColumns } from '../../src/store/history-columns.ts';
import type { Progress, RunStatus } from '../../src/domain/progress.ts';
import { migrate, MIGRATIONS } from '../../src/store/sqlite/sqlite.migrations.ts';

/** A run as the v4 store kept it. */
export interface V4Run {
  run_id: string;
  sequence_id: string;
  status: RunStatus;
  definition: unknown;
  progress: Progress;
  /** The persisted snapshot; its `context.plan` null when the plan is stored beside it. */
  snapshot: unknown;
  plan?: unknown;
  created_at: number;
  ended_at: number | null;
}

/** Creates the database at `path` at schema v4 holding `runs`. */
export function writeV4Database(path: string, runs: V4Run[]): void {
  const db = new Database(path);
  try {
    migrate(db, MIGRATIONS.slice(0, 4));
    const insertRun = db.prepare(
      `INSERT INTO runs (run_id, sequence_id, status, progress, snapshot, created_at, ended_at, updated_at, failed_step, duration_seconds)
       VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
    );
    const insertDefinition = db.prepare('INSERT INTO run_definitions (run_id, definition) VALUES (?, ?)');
    const insertPlan = db.prepare('INSERT INTO run_plans (run_id, plan) VALUES (?, ?)');
    for (const run of runs) {
      const columns = historyColumns(run.progress, run.status, run.created_at, run.ended_at);
      const snapshot = run.snapshot === null ? null : JSON.stringify(run.snapshot);
      insertRun.run(run.run_id, run.sequence_id, run.status, JSON.stringify(run.progress), snapshot, run.created_at, run.ended_at, columns.failed_step, columns.duration_seconds);
      insertDefinition.run(run.run_id, JSON.stringify(run.definition));
      if (run.plan !== undefined) insertPlan.run(run.run_id, JSON.stringify(run.plan));
    }
  } finally {
    db.close();
  }
}
