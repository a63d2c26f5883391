/**
 * The persistence contract of the engine (SPEC 11, SPEC 14): one asynchronous interface that every
 * backend implements (SQLite in `sqlite/`, the default; PostgreSQL for a cluster). The engine
 * writes a run as a **journal**:
 * - a **start record**, once, when the run is admitted (its definition, and the plan, context and
 *   template recovery needs);
 * - one small **journal record** per turn of the event loop in which the run moved (the machine
 *   events it took, each carrying its `now`; now and then a compact snapshot instead, so replay
 *   stays short), appended and never rewritten;
 * - a **history row**, once, when it ends (status, progress object, the columns the list and stats
 *   queries use); its start record and journal are deleted in the same transaction.
 * One turn's records of every run are one `commit`. Recovery reads each unfinished run's start
 * record and its journal from the last snapshot on, and the engine replays them.
 *
 * JSON fields are written as text the engine serialised (so a value that cannot be serialised
 * fails its own run, never a batch) and read back as values. A backend never looks inside a start
 * or journal body: only the engine reads them.
 */
import type { Progress, RunStatus } from '../domain/progress.ts';
import type { PendingEvent } from '../events/event-types.ts';

/** Written once when a run is admitted. */
export interface StartRecord {
  run_id: string;
  sequence_id: string;
  /** `pending` (queued) or `running`; later changes come with journal records. */
  status: RunStatus;
  /** Unix ms. */
  created_at: number;
  /**
   * Unix ms: where the history lists the run, newest first. When it started; for a queued run that
   * has not started yet, when it was queued (then a journal record moves it to its start).
   */
  listed_at: number;
  /** The definition as its client sent it (validated; defaults left out), JSON: kept with the history. */
  definition: string;
  /** What recovery needs beside the definition (plan, context, template), JSON; opaque to the store. */
  body: string;
}

/** One turn of one run, appended to its journal. */
export interface JournalRecord {
  run_id: string;
  /** The events the run took in the turn, or a compact snapshot, JSON; opaque to the store. */
  body: string;
  /**
   * The body is a compact snapshot of the run (after its events, if any): recovery starts from the
   * last such record, and a backend may drop the records before it.
   */
  snapshot: boolean;
  /** The run's status after the turn, when it changed (a pause, a resume, a queued run launched). */
  status?: RunStatus;
  /** Unix ms: the queued run started in this turn, so the history lists it from then on. */
  listed_at?: number;
}

/** Written once when a run ends; the run's start record and journal go in the same transaction. */
export interface EndRecord {
  run_id: string;
  /** A terminal status. */
  status: RunStatus;
  /** Unix ms. */
  ended_at: number;
  /** The final progress object, JSON. */
  progress: string;
  /** For stats: the step that made a failed run fail (see `historyColumns`). */
  failed_step: string | null;
  duration_seconds: number | null;
}

/** Everything one turn writes, committed in one transaction: starts, then records, then ends. */
export interface CommitBatch {
  starts: StartRecord[];
  records: JournalRecord[];
  ends: EndRecord[];
  /**
   * The turn's events, in order, when the engine logs them with its commits (a cluster, SPEC 14):
   * a shared store appends them to the event log in the same transaction, leaving out those of
   * runs it reports lost. Absent otherwise.
   */
  events?: PendingEvent[];
}

/** A run as the history shows it. */
export interface StoredRun {
  run_id: string;
  sequence_id: string;
  status: RunStatus;
  /** Unix ms. */
  created_at: number;
  /** Unix ms; null while the run is unfinished. */
  ended_at: number | null;
  /** The progress object once the run ended; null while it runs (the engine running it has it). */
  progress: Progress | null;
  /** The definition it was started with. */
  definition: unknown;
}

/** One row of a history page. */
export type ListedRun = Omit<StoredRun, 'definition' | 'ended_at'>;

/** An unfinished run as recovery needs it. */
export interface UnfinishedRun {
  run_id: string;
  sequence_id: string;
  status: RunStatus;
  created_at: number;
  definition: unknown;
  /** The start record's body, parsed. */
  body: unknown;
  /** The journal records' bodies, parsed, in order, from the last snapshot record on (all when none is). */
  records: unknown[];
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
  items: ListedRun[];
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

/** What a commit says beside success. */
export interface CommitResult {
  /**
   * Runs whose records and ends were NOT written because another node owns them now (SPEC 14: a
   * newer fencing number, or the run is gone): this node must stop driving them at once.
   */
  lost: readonly string[];
}

/** An unfinished run this node now owns, with the fencing number of its ownership. */
export interface ClaimedRun extends UnfinishedRun {
  fence: number;
}

/** What a lease renewal found (SPEC 14). */
export interface RenewResult {
  /** Runs whose leases were renewed: this node still owns them. */
  kept: readonly string[];
  /** Runs this node held but no longer owns (their lease expired, or another node claimed them). */
  lost: readonly string[];
}

/**
 * Run ownership of a store shared by several nodes (SPEC 14; PostgreSQL only). A start record is
 * owned by the node that wrote it (fence 1, a lease of the database clock's now + the lease time);
 * records and ends of a run are written only while this node holds it with the same fence.
 */
export interface RunOwnership {
  /** This node's id. */
  readonly nodeId: string;
  /** How long a lease lasts, in ms (on the database clock). */
  readonly leaseMs: number;
  /** Renews the lease of every run this node holds in one statement; says which it lost. */
  renewLeases(): Promise<RenewResult>;
  /**
   * Takes over at most `limit` runs whose leases expired (oldest first, rows locked by another
   * node's claim skipped), each with its fence raised by one, with what recovery needs.
   */
  claimExpired(limit: number): Promise<ClaimedRun[]>;
  /** This node stops holding these runs (it stopped driving them): no renewal, no write. */
  release(runIds: Iterable<string>): void;
  /**
   * Ends the leases of every run this node holds now, so other nodes claim them at their next
   * claim instead of after the lease time (a graceful shutdown), and stops holding them.
   */
  handOver(): Promise<void>;
}

/** The store. Every method is asynchronous; failures reject. */
export interface RunStore {
  /**
   * Writes a turn's batch in one transaction: all of it, or nothing (then it rejects, and the
   * caller may commit the same records again). A shared store leaves out the records and ends of
   * runs another node owns now and names them in `lost`.
   */
  commit(batch: CommitBatch): Promise<CommitResult>;
  /** A run by run_id, or the newest run of a sequence_id (as the history lists them). */
  getRun(id: string): Promise<StoredRun | undefined>;
  /** History page, newest first (listed_at, then run_id), unfinished runs included. */
  listRuns(query: RunQuery): Promise<RunPage>;
  /** Counts by status over the whole history, every status present. */
  countByStatus(): Promise<Record<RunStatus, number>>;
  /** Aggregates over runs that ended at or after `sinceMs` (Unix ms). */
  stats(sinceMs: number): Promise<RunStats>;
  /**
   * Every unfinished run, oldest first (created_at, then order of admission), for recovery. A
   * shared store answers those this node may take at start: its own (from before a restart) and
   * those whose leases expired, and takes them over.
   */
  unfinishedRuns(): Promise<UnfinishedRun[]>;
  /**
   * Deletes ended runs that ended before `beforeMs`, at most `maxRows` of them (default: all);
   * resolves with how many. `pruneInChunks` calls it chunk by chunk.
   */
  pruneEndedBefore(beforeMs: number, maxRows?: number): Promise<number>;
  getTemplate(name: string): Promise<StoredTemplate | undefined>;
  /** Stores a template, bumping its version; resolves with the stored row. */
  putTemplate(name: string, body: unknown, now: number): Promise<StoredTemplate>;
  deleteTemplate(name: string): Promise<boolean>;
  listTemplates(): Promise<StoredTemplate[]>;
  /** Small durable settings (e.g. the emergency-stop latch). */
  getSetting(key: string): Promise<unknown>;
  /** Stores a setting at once; `undefined` deletes it. */
  setSetting(key: string, value: unknown): Promise<void>;
  /**
   * Writes a consistent copy of everything stored to `file` while the store stays in use (an
   * online backup); resolves when the copy is complete. Absent when the store cannot.
   */
  backup?(file: string): Promise<void>;
  /** Present when several nodes share the store (PostgreSQL): who drives which run. */
  readonly ownership?: RunOwnership;
  /** Closes; idempotent. */
  close(): Promise<void>;
}

/** The result of a commit that lost nothing (every single-node store). */
export const NOTHING_LOST: CommitResult = Object.freeze({ lost: Object.freeze([]) });
