/**
 * The engine's answers to queries (as BullMQ's QueueEvents reads jobs): a run's progress, its
 * snapshot, a page of history, the stats. Every page and count comes from the store, after the
 * write-ahead has committed what is pending; the progress of a run still running comes from the
 * engine that runs it, the progress of an ended run from its history row.
 */
import { Codes, SequencerError } from '../domain/errors.ts';
import type { Progress } from '../domain/progress.ts';
import type { ListedRun, RunQuery, RunStore, StoredRun } from '../store/run-store.ts';
import type { EnginePage, EngineStats, RemoteRuns } from './engine-options.ts';
import { placeholderProgress, toProgress } from './progress.ts';
import type { RunBook } from './run-book.ts';
import type { WriteAhead } from './write-ahead.ts';

const HOUR_MS = 3_600_000;

/** A run's definition as it was sent, with the ids it was started under. */
export interface RunDefinition {
  run_id: string;
  sequence_id: string;
  definition: unknown;
}

/** What the queries read. */
export interface QueryParts {
  book: RunBook;
  out: WriteAhead;
  store: RunStore;
  runningCount(): number;
  /** The other nodes of a cluster: they know the progress of the runs they drive. */
  remote?: RemoteRuns | undefined;
}

/** 404/5611 for an id that names no run. */
export function notFound(id: string): SequencerError {
  return new SequencerError(Codes.NOT_FOUND, `Sequence '${id}' not found`);
}

/** Answers the engine's queries. */
export class RunQueries {
  readonly #parts: QueryParts;

  constructor(parts: QueryParts) {
    this.#parts = parts;
  }

  /** The progress of a run by run_id or sequence_id (newest run): from memory while it runs, else from the store. */
  async get(id: string): Promise<Progress | undefined> {
    const run = this.#parts.book.find(id);
    if (run) return toProgress(run, Date.now());
    const stored = await this.#stored(id);
    if (!stored) return undefined;
    if (stored.progress) return stored.progress;
    const remote = stored.ended_at === null ? await this.#parts.remote?.progress(stored.run_id) : null;
    return remote ?? this.#progressOf(stored);
  }

  /** The persisted XState snapshot of a run held in memory; null for a run without one (ended, or not started). */
  async snapshot(id: string): Promise<unknown> {
    const run = this.#parts.book.find(id);
    if (run?.actor) return run.actor.getPersistedSnapshot();
    if (run) return run.snapshot;
    if (!(await this.#stored(id))) throw notFound(id);
    return null;
  }

  /**
   * The definition a run was started with, as its client sent it (null when its history row lost
   * it), by run_id or sequence_id (newest run); undefined for an id that names no stored run.
   */
  async definition(id: string): Promise<RunDefinition | undefined> {
    const stored = await this.#stored(id);
    return stored && { run_id: stored.run_id, sequence_id: stored.sequence_id, definition: stored.definition ?? null };
  }

  /** A run's stored row, once what is pending is committed (a run that ended this turn has left memory, its history row has not yet reached the store). */
  async #stored(id: string): Promise<StoredRun | undefined> {
    await this.#parts.out.flush();
    return this.#parts.store.getRun(id);
  }

  /** History, newest first, with the counts of `GET /sequences`. */
  async list(query: RunQuery): Promise<EnginePage> {
    const { out, store } = this.#parts;
    await out.flush();
    const page = await store.listRuns(query);
    const counts = await store.countByStatus();
    return {
      items: page.items.map((item) => item.progress ?? this.#progressOf(item)),
      total: page.total,
      running: counts.running + counts.paused + counts.stopping,
      completed: counts.completed,
      failed: counts.failed,
    };
  }

  /** Aggregates over the last hour (SPEC 7 `GET /sequences/stats`). */
  async stats(): Promise<EngineStats> {
    const { out, store } = this.#parts;
    await out.flush();
    const s = await store.stats(Date.now() - HOUR_MS);
    return {
      total_sequences: s.total_sequences,
      running: this.#parts.runningCount(),
      completed_last_hour: s.completed_since,
      failed_last_hour: s.failed_since,
      average_duration_seconds: s.average_duration_seconds,
      longest_sequence_id: s.longest_sequence_id,
      most_common_failure_step: s.most_common_failure_step,
    };
  }

  /** The progress of a run whose history row has none yet: the engine running it knows it. */
  #progressOf(row: ListedRun): Progress {
    const run = this.#parts.book.runs.get(row.run_id);
    return run ? toProgress(run, Date.now()) : placeholderProgress(row, null, null);
  }
}
