/**
 * What every SQL backend of the store shares: the status lists and the history order as SQL, the
 * rows as read back, and their conversion to what the `RunStore` contract answers with. Bodies are
 * stored as the JSON text the engine serialised and parsed here, once, on the way out.
 */
import { TERMINAL_STATUSES } from '../domain/progress.ts';
import type { Progress, RunStatus } from '../domain/progress.ts';
import type { ListedRun, StoredRun, StoredTemplate } from './run-store.ts';

// Keyed by every status so that the compiler flags a status added to `RunStatus` but not here.
const STATUS_KEYS: Record<RunStatus, true> = {
  pending: true,
  running: true,
  paused: true,
  stopping: true,
  completed: true,
  failed: true,
  cancelled: true,
  timeout: true,
};

/** Every status, for counts that list each one. */
export const ALL_STATUSES = Object.keys(STATUS_KEYS) as RunStatus[];
const ACTIVE_STATUSES = ALL_STATUSES.filter((status) => !TERMINAL_STATUSES.has(status));
const sqlList = (statuses: readonly RunStatus[]): string => statuses.map((status) => `'${status}'`).join(', ');

/** The statuses of ended runs, as an SQL list. */
export const TERMINAL_SQL = sqlList([...TERMINAL_STATUSES]);

/** The statuses of unfinished runs, as an SQL list. */
export const ACTIVE_SQL = sqlList(ACTIVE_STATUSES);

/** The history order: newest first, by when each run started (or was queued, while it has not). */
export const NEWEST_FIRST = 'ORDER BY listed_at DESC, run_id DESC';

/** The columns of a history page row. */
export const LISTED_COLUMNS = 'run_id, sequence_id, status, created_at, progress';

/** A `runs` row as read back, with its definition. */
export interface RunRow {
  run_id: string;
  sequence_id: string;
  status: RunStatus;
  progress: string;
  created_at: number;
  ended_at: number | null;
  definition: string;
}

/** A history page row. */
export interface ListedRow {
  run_id: string;
  sequence_id: string;
  status: RunStatus;
  created_at: number;
  progress: string;
}

/** A template row. */
export interface TemplateRow {
  name: string;
  version: number;
  body: string;
  updated_at: number;
}

/** A template as the contract answers it. */
export const toTemplate = (row: TemplateRow): StoredTemplate => ({ ...row, body: JSON.parse(row.body) as unknown });

/** A history page row as the contract answers it. */
export const toListed = (row: ListedRow): ListedRun => ({
  run_id: row.run_id,
  sequence_id: row.sequence_id,
  status: row.status,
  created_at: row.created_at,
  progress: JSON.parse(row.progress) as Progress | null,
});

/** A run as the contract answers it. */
export const toStored = (row: RunRow): StoredRun => ({
  run_id: row.run_id,
  sequence_id: row.sequence_id,
  status: row.status,
  created_at: row.created_at,
  ended_at: row.ended_at,
  progress: JSON.parse(row.progress) as Progress | null,
  definition: JSON.parse(row.definition) as unknown,
});
