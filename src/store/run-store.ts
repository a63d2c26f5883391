/**
 * The persistence contract of the engine (SPEC section 11). The SQLite store implements it; a
 * PostgreSQL store can later. Writes are queued and flushed in one transaction per batch, so
 * thousands of concurrent runs cost one commit per tick, not one per transition.
 */
import type { Progress, RunStatus } from '../domain/progress.ts';

/** Everything the store keeps about one run. */
export interface StoredRun {
  run_id: string;
  sequence_id: string;
  status: RunStatus;
  /** The validated definition the run was started with (JSON-serialisable). */
  definition: unknown;
  /** The progress object as of the last transition. */
  progress: Progress;
  /**
   * The actor's persisted XState snapshot (JSON-serialisable); null once not needed. Its
   * `context.plan` may be left out (null): the plan never changes during a run and is stored once.
   */
  snapshot: unknown;
  /**
   * The run's plan while it is unfinished: written by the first write that has it, dropped by the
   * first write without it (the run ended). Absent in runs stored before schema v4.
   */
  plan?: unknown;
  /** Unix ms. */
  created_at: number;
  /** Unix ms; null while the run is not terminal. */
  ended_at: number | null;
}

/** A stored template (SPEC section 7). */
export interface StoredTemplate {
  name: string;
  version: number;
  /** The template body as PUT (a definition with placeholders and a `params` schema). */
  body: unknown;
  updated_at: number;
}

/** Query of the run history. */
export interface RunQuery {
  status?: RunStatus;
  running_only?: boolean;
  /** Only the runs of this sequence_id. */
  sequence_id?: string;
  limit: number;
  offset: number;
}

/** A page of history, newest first. */
export interface RunPage {
  items: Progress[];
  total: number;
}

/** Aggregates of `GET /sequences/stats` over the stored history. */
export interface RunStats {
  total_sequences: number;
  completed_since: number;
  failed_since: number;
  average_duration_seconds: number | null;
  longest_sequence_id: string | null;
  most_common_failure_step: string | null;
}

/** The store. Every method is synchronous (better-sqlite3 is); errors are thrown. */
export interface RunStore {
  /** Queues an upsert of a run; the last queued version of a run wins. */
  queueRun(run: StoredRun): void;
  /** Writes every queued run in one transaction. Throws when the write fails (queue is kept). */
  flush(): void;
  /** A run by run_id, or the newest run of a sequence_id. */
  getRun(id: string): StoredRun | undefined;
  /** History page, newest first. */
  listRuns(query: RunQuery): RunPage;
  /** Counts by status over the whole history. */
  countByStatus(): Record<RunStatus, number>;
  /** Aggregates over runs that ended at or after `sinceMs` (Unix ms). */
  stats(sinceMs: number): RunStats;
  /** Every run whose status is not terminal, oldest first (for recovery). */
  activeRuns(): StoredRun[];
  /**
   * Deletes terminal runs that ended before `beforeMs`, at most `maxRows` of them (default: all);
   * returns how many. `pruneInChunks` calls it chunk by chunk to keep the event loop free.
   */
  pruneEndedBefore(beforeMs: number, maxRows?: number): number;
  getTemplate(name: string): StoredTemplate | undefined;
  /** Stores a template, bumping its version; returns the stored row. */
  putTemplate(name: string, body: unknown, now: number): StoredTemplate;
  deleteTemplate(name: string): boolean;
  listTemplates(): StoredTemplate[];
  /** Small durable settings (e.g. the emergency-stop latch). */
  getSetting(key: string): unknown;
  setSetting(key: string, value: unknown): void;
  /**
   * Writes a consistent copy of everything stored to `file` while the store stays in use (an
   * online backup); resolves when the copy is complete. Absent when the store cannot.
   */
  backup?(file: string): Promise<void>;
  /** Flushes and closes; idempotent. */
  close(): void;
}
