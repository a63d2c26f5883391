/**
 * How a `StoredRun` maps to rows of the `runs` and `run_definitions` tables and back. JSON columns
 * are serialised when a run is queued, so a run that cannot be serialised fails its own `queueRun`
 * call instead of poisoning every later flush.
 */
import { TERMINAL_STATUSES } from '../domain/progress.ts';
import type { Progress, RunStatus } from '../domain/progress.ts';
import type { StoredRun } from './run-store.ts';

/**
 * A `runs` row as bound to SQLite: JSON columns as text, plus the columns derived for stats. The
 * definition is kept apart (`run_definitions`): it never changes, and leaving it out of the row
 * that every transition rewrites makes that row less than half as large.
 */
export interface RunRow {
  run_id: string;
  sequence_id: string;
  status: RunStatus;
  progress: string;
  snapshot: string | null;
  created_at: number;
  ended_at: number | null;
  updated_at: number;
  failed_step: string | null;
  duration_seconds: number | null;
}

/** The columns computed from the progress object, so that `stats()` is indexed SQL, not JSON parsing. */
export interface DerivedColumns {
  failed_step: string | null;
  duration_seconds: number | null;
}

/**
 * The stats columns of a run: the step that made a failed run fail (its last failed step result,
 * else the step it was on) and the duration of a terminal run (as reported, else wall clock).
 */
export function derivedColumns(
  progress: Progress,
  status: RunStatus,
  createdAt: number,
  endedAt: number | null,
): DerivedColumns {
  let failedStep: string | null = null;
  if (status === 'failed') {
    const results = progress.step_results;
    let index = results.length - 1;
    while (index >= 0 && results[index].success) index -= 1;
    failedStep = index >= 0 ? results[index].step_name : (progress.current_step_name ?? null);
  }
  let duration: number | null = null;
  if (TERMINAL_STATUSES.has(status)) {
    duration = progress.duration_seconds ?? (endedAt === null ? null : (endedAt - createdAt) / 1000);
  }
  return { failed_step: failedStep, duration_seconds: duration };
}

/** A run serialised for the tables: its `runs` row, its definition's and its plan's JSON. */
export interface SerialisedRun {
  row: RunRow;
  definition: string;
  plan: string | null;
}

// Every transition of a run carries the same definition and plan objects: serialise each once, not
// each time. Keying by identity is safe because only the first write of a run's is kept anyway.
const onceCache = new WeakMap<object, string>();

function onceJson(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value ?? null);
  let json = onceCache.get(value);
  if (json === undefined) {
    json = JSON.stringify(value);
    onceCache.set(value, json);
  }
  return json;
}

/**
 * Serialises a run; throws a TypeError when a key column is missing or its definition, progress or
 * snapshot is not JSON-able (a BigInt, a cycle), so the bad run never reaches a batch.
 */
export function toRow(run: StoredRun): SerialisedRun {
  const endedAt = run.ended_at ?? null;
  if (
    typeof run.run_id !== 'string' ||
    typeof run.sequence_id !== 'string' ||
    typeof run.status !== 'string' ||
    typeof run.progress !== 'object' ||
    run.progress === null ||
    !Number.isFinite(run.created_at) ||
    (endedAt !== null && !Number.isFinite(endedAt))
  ) {
    throw new TypeError(`run ${String(run.run_id)} cannot be stored: a key column is missing or invalid`);
  }
  const row: RunRow = {
    run_id: run.run_id,
    sequence_id: run.sequence_id,
    status: run.status,
    progress: JSON.stringify(run.progress),
    snapshot: run.snapshot == null ? null : JSON.stringify(run.snapshot),
    created_at: run.created_at,
    ended_at: endedAt,
    // Set when the row is written: it records the flush, not the transition.
    updated_at: 0,
    ...derivedColumns(run.progress, run.status, run.created_at, endedAt),
  };
  return { row, definition: onceJson(run.definition), plan: run.plan === undefined ? null : onceJson(run.plan) };
}

/** The columns `fromRow` needs (the derived ones are write-only), the definition and plan joined in. */
export type StoredRunRow = Pick<
  RunRow,
  'run_id' | 'sequence_id' | 'status' | 'progress' | 'snapshot' | 'created_at' | 'ended_at'
> & { definition: string; plan: string | null };

/** Parses a row read from SQLite back into a run. */
export function fromRow(row: StoredRunRow): StoredRun {
  const run: StoredRun = {
    run_id: row.run_id,
    sequence_id: row.sequence_id,
    status: row.status,
    definition: JSON.parse(row.definition) as unknown,
    progress: JSON.parse(row.progress) as Progress,
    snapshot: row.snapshot === null ? null : (JSON.parse(row.snapshot) as unknown),
    created_at: row.created_at,
    ended_at: row.ended_at,
  };
  if (row.plan !== null) run.plan = JSON.parse(row.plan) as unknown;
  return run;
}
