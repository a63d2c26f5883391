/**
 * The SQLite implementation of `RunStore` (SPEC section 11) on better-sqlite3. Transitions are
 * queued in memory (one entry per run, last write wins) and written by `flush()` in one
 * transaction, so 10,000 concurrent runs cost one commit per engine tick.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { TERMINAL_STATUSES } from '../domain/progress.ts';
import type { Progress, RunStatus } from '../domain/progress.ts';
import type { RunPage, RunQuery, RunStats, RunStore, StoredRun, StoredTemplate } from './run-store.ts';
import { openDatabase } from './sqlite.open.ts';
import type { SqliteOpenOptions } from './sqlite.open.ts';
import { fromRow, toRow } from './sqlite.rows.ts';
import type { SerialisedRun, StoredRunRow } from './sqlite.rows.ts';

/** Options of `openSqliteStore`; every field is optional. */
export interface SqliteStoreOptions extends SqliteOpenOptions {
  /** The clock that stamps `updated_at` of written runs, in Unix ms. Default `Date.now`. */
  now?: () => number;
}


/** Rows deleted by one prune statement: small enough that one statement holds the loop briefly. */
export const PRUNE_CHUNK_ROWS = 500;

/**
 * Opens (creating when missing) the store at `path`; `':memory:'` keeps everything in memory.
 * Throws `StoreOpenError` when the file is corrupt, locked, on a full or unwritable disk, or of a
 * newer schema.
 */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  const db = openDatabase(path, {
    busyTimeoutMs: options.busyTimeoutMs ?? 250,
    exclusive: options.exclusive ?? false,
  });
  return new SqliteStore(db, options.now ?? Date.now);
}

// Keyed by every status so that the compiler flags a status added to `RunStatus` but not here.
const STATUS_KEYS: Record<RunStatus, true> = {
  pending: true,
  running: true,
  paused: true,
  completed: true,
  failed: true,
  cancelled: true,
  timeout: true,
};
const ALL_STATUSES = Object.keys(STATUS_KEYS) as RunStatus[];
const ACTIVE_STATUSES = ALL_STATUSES.filter((status) => !TERMINAL_STATUSES.has(status));
const sqlList = (statuses: readonly RunStatus[]): string => statuses.map((status) => `'${status}'`).join(', ');
const TERMINAL_SQL = sqlList([...TERMINAL_STATUSES]);
const ACTIVE_SQL = sqlList(ACTIVE_STATUSES);

// A missing definition reads as null rather than hiding its run (the JOIN is LEFT).
const SELECT_RUNS = `SELECT run_id, sequence_id, status, progress, snapshot, created_at, ended_at,
  coalesce(definition, 'null') AS definition, plan
  FROM runs LEFT JOIN run_definitions USING (run_id) LEFT JOIN run_plans USING (run_id)`;
const NEWEST_FIRST = 'ORDER BY created_at DESC, run_id DESC';

interface QueuedRun extends SerialisedRun {
  run: StoredRun;
}

function prepareStatements(db: BetterSqlite3.Database) {
  return {
    // sequence_id and created_at are left out of the update: they never change, and a column that
    // is not SET spares the update its indexes.
    upsert: db.prepare<[SerialisedRun['row']]>(
      `INSERT INTO runs (run_id, sequence_id, status, progress, snapshot, created_at, ended_at, updated_at,
                         failed_step, duration_seconds)
       VALUES (@run_id, @sequence_id, @status, @progress, @snapshot, @created_at, @ended_at, @updated_at,
               @failed_step, @duration_seconds)
       ON CONFLICT (run_id) DO UPDATE SET
         status = excluded.status, progress = excluded.progress, snapshot = excluded.snapshot,
         ended_at = excluded.ended_at, updated_at = excluded.updated_at, failed_step = excluded.failed_step,
         duration_seconds = excluded.duration_seconds`,
    ),
    insertDefinition: db.prepare<[string, string]>(
      'INSERT INTO run_definitions (run_id, definition) VALUES (?, ?) ON CONFLICT (run_id) DO NOTHING',
    ),
    // The plan of the first write stays; a write without one (the run ended) drops it: only
    // recovery needs it.
    insertPlan: db.prepare<[string, string]>('INSERT INTO run_plans (run_id, plan) VALUES (?, ?) ON CONFLICT (run_id) DO NOTHING'),
    deletePlan: db.prepare<[string]>('DELETE FROM run_plans WHERE run_id = ?'),
    byRunId: db.prepare<[string], StoredRunRow>(`${SELECT_RUNS} WHERE run_id = ?`),
    newestOfSequence: db.prepare<[string], StoredRunRow>(
      `${SELECT_RUNS} WHERE sequence_id = ? ${NEWEST_FIRST} LIMIT 1`,
    ),
    pageAll: db.prepare<[number, number], string>(`SELECT progress FROM runs ${NEWEST_FIRST} LIMIT ? OFFSET ?`).pluck(),
    pageStatus: db
      .prepare<[RunStatus, number, number], string>(
        `SELECT progress FROM runs WHERE status = ? ${NEWEST_FIRST} LIMIT ? OFFSET ?`,
      )
      .pluck(),
    pageActive: db
      .prepare<[number, number], string>(
        `SELECT progress FROM runs WHERE status IN (${ACTIVE_SQL}) ${NEWEST_FIRST} LIMIT ? OFFSET ?`,
      )
      .pluck(),
    countAll: db.prepare<[], number>('SELECT count(*) FROM runs').pluck(),
    countStatus: db.prepare<[RunStatus], number>('SELECT count(*) FROM runs WHERE status = ?').pluck(),
    countActive: db.prepare<[], number>(`SELECT count(*) FROM runs WHERE status IN (${ACTIVE_SQL})`).pluck(),
    countByStatus: db.prepare<[], { status: RunStatus; n: number }>(
      'SELECT status, count(*) AS n FROM runs GROUP BY status',
    ),
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
    active: db.prepare<[], StoredRunRow>(
      // rowid is the order of first writes: runs queued in the same millisecond queue again in order.
      `${SELECT_RUNS} WHERE status IN (${ACTIVE_SQL}) ORDER BY created_at ASC, runs.rowid ASC`,
    ),
    pruneChunk: db.prepare<[number, number]>(
      `DELETE FROM runs WHERE rowid IN
         (SELECT rowid FROM runs WHERE ended_at < ? AND +status IN (${TERMINAL_SQL}) LIMIT ?)`,
    ),
    getTemplate: db.prepare<[string], TemplateRow>(
      'SELECT name, version, body, updated_at FROM templates WHERE name = ?',
    ),
    putTemplate: db.prepare<[string, string, number], TemplateRow>(
      `INSERT INTO templates (name, version, body, updated_at) VALUES (?, 1, ?, ?)
       ON CONFLICT (name) DO UPDATE SET
         version = templates.version + 1, body = excluded.body, updated_at = excluded.updated_at
       RETURNING name, version, body, updated_at`,
    ),
    deleteTemplate: db.prepare<[string]>('DELETE FROM templates WHERE name = ?'),
    listTemplates: db.prepare<[], TemplateRow>('SELECT name, version, body, updated_at FROM templates ORDER BY name'),
    getSetting: db.prepare<[string], string>('SELECT value FROM settings WHERE key = ?').pluck(),
    putSetting: db.prepare<[string, string]>(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    deleteSetting: db.prepare<[string]>('DELETE FROM settings WHERE key = ?'),
  };
}

interface TemplateRow {
  name: string;
  version: number;
  body: string;
  updated_at: number;
}

const toTemplate = (row: TemplateRow): StoredTemplate => ({ ...row, body: JSON.parse(row.body) as unknown });

const isNewer = (a: Pick<StoredRun, 'created_at' | 'run_id'>, b: Pick<StoredRun, 'created_at' | 'run_id'>): boolean =>
  a.created_at > b.created_at || (a.created_at === b.created_at && a.run_id > b.run_id);

/**
 * `RunStore` on an open better-sqlite3 database; create it with `openSqliteStore`. Reads of the
 * history (`listRuns`, `countByStatus`, `stats`, `activeRuns`) flush the queue first, so they
 * see every queued run and throw when that flush fails; `getRun` reads the queue instead.
 */
export class SqliteStore implements RunStore {
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly queue = new Map<string, QueuedRun>();
  private readonly writeQueue: BetterSqlite3.Transaction<() => void>;
  private closed = false;

  /** Takes over a database that `openDatabase` has opened and migrated. */
  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly now: () => number,
  ) {
    this.statements = prepareStatements(db);
    this.writeQueue = db.transaction(() => {
      const updatedAt = this.now();
      for (const { row, definition, plan } of this.queue.values()) {
        row.updated_at = updatedAt;
        this.statements.upsert.run(row);
        this.statements.insertDefinition.run(row.run_id, definition);
        if (plan === null) this.statements.deletePlan.run(row.run_id);
        else this.statements.insertPlan.run(row.run_id, plan);
      }
    });
  }

  /** Number of runs queued and not yet flushed. */
  get pendingWrites(): number {
    return this.queue.size;
  }

  /**
   * Queues an upsert (last write wins); throws at once when the run cannot be serialised. A run's
   * sequence_id, created_at and definition are fixed by its first write; later writes update the
   * rest.
   */
  queueRun(run: StoredRun): void {
    if (this.closed) throw new Error('the run store is closed');
    this.queue.set(run.run_id, { run, ...toRow(run) });
  }

  /** Writes every queued run in one transaction; on failure the queue is kept for the next flush. */
  flush(): void {
    if (this.queue.size === 0) return;
    // IMMEDIATE takes the write lock up front, so a busy database fails here rather than mid-batch.
    this.writeQueue.immediate();
    this.queue.clear();
  }

  /** A run by run_id, else the newest run of that sequence_id, queued runs included. */
  getRun(id: string): StoredRun | undefined {
    const queued = this.queue.get(id);
    if (queued) return queued.run;
    const row = this.statements.byRunId.get(id);
    if (row) return fromRow(row);
    let newest: StoredRun | undefined;
    for (const { run } of this.queue.values()) {
      if (run.sequence_id === id && (newest === undefined || isNewer(run, newest))) newest = run;
    }
    const stored = this.statements.newestOfSequence.get(id);
    // Strictly newer: a stored row that is also queued ties with its queued version, which wins.
    if (stored && (newest === undefined || isNewer(stored, newest))) {
      return fromRow(stored);
    }
    return newest;
  }

  /** History page, newest first (created_at, then run_id), with the total that matches the filter. */
  listRuns(query: RunQuery): RunPage {
    this.flush();
    if (query.sequence_id !== undefined) return this.#listSequence(query, query.sequence_id);
    const { status, limit, offset } = query;
    const { statements } = this;
    let progress: string[];
    let total: number;
    if (status !== undefined) {
      if (query.running_only && TERMINAL_STATUSES.has(status)) return { items: [], total: 0 };
      progress = statements.pageStatus.all(status, limit, offset);
      total = statements.countStatus.get(status) ?? 0;
    } else if (query.running_only) {
      progress = statements.pageActive.all(limit, offset);
      total = statements.countActive.get() ?? 0;
    } else {
      progress = statements.pageAll.all(limit, offset);
      total = statements.countAll.get() ?? 0;
    }
    return { items: progress.map((text) => JSON.parse(text) as Progress), total };
  }
  /** Statements of the sequence_id filter, by WHERE clause (three at most). */
  readonly #sequenceStatements = new Map<string, { page: BetterSqlite3.Statement<unknown[], string>; count: BetterSqlite3.Statement<unknown[], number> }>();

  /** A page of one sequence's runs (the `runs_by_sequence` index), with the same status rules. */
  #listSequence(query: RunQuery, sequenceId: string): RunPage {
    const { status, limit, offset } = query;
    if (status !== undefined && query.running_only && TERMINAL_STATUSES.has(status)) return { items: [], total: 0 };
    const where = status !== undefined ? 'sequence_id = ? AND status = ?' : query.running_only ? `sequence_id = ? AND status IN (${ACTIVE_SQL})` : 'sequence_id = ?';
    const args: unknown[] = status !== undefined ? [sequenceId, status] : [sequenceId];
    let statements = this.#sequenceStatements.get(where);
    if (!statements) {
      statements = {
        page: this.db.prepare<unknown[], string>(`SELECT progress FROM runs WHERE ${where} ${NEWEST_FIRST} LIMIT ? OFFSET ?`).pluck(),
        count: this.db.prepare<unknown[], number>(`SELECT count(*) FROM runs WHERE ${where}`).pluck(),
      };
      this.#sequenceStatements.set(where, statements);
    }
    const items = statements.page.all(...args, limit, offset).map((text) => JSON.parse(text) as Progress);
    return { items, total: statements.count.get(...args) ?? 0 };
  }


  /** Counts by status over the whole history, every status present (0 when none). */
  countByStatus(): Record<RunStatus, number> {
    this.flush();
    const counts = Object.fromEntries(ALL_STATUSES.map((status) => [status, 0])) as Record<RunStatus, number>;
    for (const { status, n } of this.statements.countByStatus.all()) counts[status] = n;
    return counts;
  }

  /**
   * Aggregates over terminal runs that ended at or after `sinceMs`; `total_sequences` counts every
   * stored run. Ties go to the most recent run (longest) and to the first name (failure step).
   */
  stats(sinceMs: number): RunStats {
    this.flush();
    const totals = this.statements.statsTotals.get(sinceMs);
    return {
      total_sequences: this.statements.countAll.get() ?? 0,
      completed_since: totals?.completed ?? 0,
      failed_since: totals?.failed ?? 0,
      average_duration_seconds: totals?.average ?? null,
      longest_sequence_id: this.statements.longest.get(sinceMs) ?? null,
      most_common_failure_step: this.statements.commonFailure.get(sinceMs) ?? null,
    };
  }

  /** Every run that is not terminal, oldest first, for recovery at start. */
  activeRuns(): StoredRun[] {
    this.flush();
    return this.statements.active.all().map(fromRow);
  }

  /**
   * Deletes terminal runs that ended before `beforeMs`, at most `maxRows` of them (default: all),
   * `PRUNE_CHUNK_ROWS` per statement; returns how many. It does not flush: a queued run is recent
   * by definition. Use `pruneInChunks` to yield to the event loop between chunks.
   */
  pruneEndedBefore(beforeMs: number, maxRows = Number.POSITIVE_INFINITY): number {
    let deleted = 0;
    while (deleted < maxRows) {
      const chunk = Math.min(PRUNE_CHUNK_ROWS, maxRows - deleted);
      const { changes } = this.statements.pruneChunk.run(beforeMs, chunk);
      deleted += changes;
      if (changes < chunk) break;
    }
    return deleted;
  }

  /** A stored template, or undefined. */
  getTemplate(name: string): StoredTemplate | undefined {
    const row = this.statements.getTemplate.get(name);
    return row && toTemplate(row);
  }

  /** Stores a template: version 1 when new (or deleted before), else the stored version plus one. */
  putTemplate(name: string, body: unknown, now: number): StoredTemplate {
    return toTemplate(this.statements.putTemplate.get(name, JSON.stringify(body ?? null), now) as TemplateRow);
  }

  /** Deletes a template; returns whether it existed. */
  deleteTemplate(name: string): boolean {
    return this.statements.deleteTemplate.run(name).changes > 0;
  }

  /** Every template, by name. */
  listTemplates(): StoredTemplate[] {
    return this.statements.listTemplates.all().map(toTemplate);
  }

  /** A setting's JSON value, or undefined when it was never set. */
  getSetting(key: string): unknown {
    const value = this.statements.getSetting.get(key);
    return value === undefined ? undefined : (JSON.parse(value) as unknown);
  }

  /** Stores a setting at once (not queued); `undefined` deletes it. */
  setSetting(key: string, value: unknown): void {
    if (value === undefined) this.statements.deleteSetting.run(key);
    else this.statements.putSetting.run(key, JSON.stringify(value));
  }

  /**
   * SQLite's online backup API: copies the database page by page between turns of the event loop,
   * and pages this connection changes meanwhile are copied again, so the file is the database as
   * of the end of the copy. Queued runs are flushed first, so the copy has every run seen so far.
   */
  async backup(file: string): Promise<void> {
    this.flush();
    await this.db.backup(file);
  }

  /**
   * Flushes, then closes the database even when that flush fails, and rethrows its error (the
   * runs still queued are lost then). Later calls do nothing.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.flush();
    } finally {
      this.db.close();
    }
  }
}
