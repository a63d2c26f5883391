/**
 * The SQLite implementation of `RunStore` (SPEC 11) on better-sqlite3: synchronous inside, so
 * every method resolves at once. A commit is one IMMEDIATE transaction: the start records (a
 * history row, the definition, a `run_starts` row whose integer `run_seq` keys the run's
 * journal), the journal appends (one small row each, on an integer key), the status changes, and
 * the ends (the history row updated once, its start row and journal deleted).
 */
import type BetterSqlite3 from 'better-sqlite3';
import { TERMINAL_STATUSES } from '../../domain/progress.ts';
import type { RunStatus } from '../../domain/progress.ts';
import { NOTHING_LOST } from '../run-store.ts';
import type {
  CommitBatch,
  CommitResult,
  ListedRun,
  RunPage,
  RunQuery,
  RunStats,
  RunStore,
  StoredRun,
  StoredTemplate,
  UnfinishedRun,
} from '../run-store.ts';
import { openDatabase } from './sqlite.open.ts';
import type { SqliteOpenOptions } from './sqlite.open.ts';
import { prepareStatements, type Statements } from './sqlite.statements.ts';
import { ACTIVE_SQL, ALL_STATUSES, LISTED_COLUMNS, NEWEST_FIRST, toListed, toStored, toTemplate, type ListedRow, type TemplateRow } from '../store-rows.ts';

/** Options of `openSqliteStore`; every field is optional. */
export interface SqliteStoreOptions extends SqliteOpenOptions {
  /** The clock that stamps `updated_at` of written runs, in Unix ms. Default `Date.now`. */
  now?: () => number;
  /**
   * Keep what recovery reads: a start row and a journal for each unfinished run (default true).
   * A store nothing recovers from (an engine's own, in memory) keeps the history rows and the
   * definitions only: no start row a run to write, hold and delete.
   */
  journal?: boolean;
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
  return new SqliteStore(db, options.now ?? Date.now, options.journal ?? true);
}

/** Where an unfinished run's journal is: its `run_seq`, and the number of its next record. */
interface Cursor {
  seq: number;
  next: number;
}

/** `RunStore` on an open better-sqlite3 database; create it with `openSqliteStore`. */
export class SqliteStore implements RunStore {
  private readonly statements: Statements;
  /** The journal cursor of every unfinished run this store wrote or read back, by run_id. */
  private readonly cursors = new Map<string, Cursor>();
  private readonly writeBatch: BetterSqlite3.Transaction<(batch: CommitBatch) => void>;
  /** Statements of the sequence_id filter, by WHERE clause (three at most). */
  private readonly sequenceStatements = new Map<string, { page: BetterSqlite3.Statement<unknown[], ListedRow>; count: BetterSqlite3.Statement<unknown[], number> }>();
  private closed = false;

  /** Takes over a database that `openDatabase` has opened and migrated. */
  constructor(
    private readonly db: BetterSqlite3.Database,
    private readonly now: () => number,
    private readonly journal = true,
  ) {
    this.statements = prepareStatements(db);
    this.writeBatch = db.transaction((batch: CommitBatch) => this.write(batch));
  }

  /** Writes a batch in one IMMEDIATE transaction (a busy database fails here, not mid-batch); nothing of it on failure. */
  async commit(batch: CommitBatch): Promise<CommitResult> {
    if (this.closed) throw new Error('the run store is closed');
    if (batch.starts.length > 0 || batch.records.length > 0 || batch.ends.length > 0) this.writeBatch.immediate(batch);
    return NOTHING_LOST;
  }

  private write({ starts, records, ends }: CommitBatch): void {
    const s = this.statements;
    const at = this.now();
    // Cursor changes apply once the transaction has committed: a rolled-back batch leaves none.
    const added = new Map<string, Cursor>();
    const cursorOf = (runId: string) => added.get(runId) ?? this.cursors.get(runId);
    for (const start of starts) {
      s.insertRun.run(start.run_id, start.sequence_id, start.status, start.created_at, start.listed_at, at);
      s.insertDefinition.run(start.run_id, start.definition);
      if (this.journal) added.set(start.run_id, { seq: Number(s.insertStart.run(start.run_id, start.body).lastInsertRowid), next: 0 });
    }
    const advanced = new Map<Cursor, number>();
    for (const record of records) {
      const cursor = cursorOf(record.run_id);
      if (cursor) {
        const n = advanced.get(cursor) ?? cursor.next;
        s.append.run(cursor.seq, n, record.snapshot ? 1 : 0, record.body);
        // Records before a snapshot are never replayed again.
        if (record.snapshot && n > 0) s.dropBefore.run(cursor.seq, n);
        advanced.set(cursor, n + 1);
      } else if (this.journal) {
        // A run with no journal here was never started (its start could not be serialised) or has
        // ended: its history row is not changed.
        continue;
      }
      if (record.status !== undefined) s.setStatus.run(record.status, at, record.run_id);
      if (record.listed_at !== undefined) s.setListed.run(record.listed_at, record.run_id);
    }
    const ended: string[] = [];
    for (const end of ends) {
      s.endRun.run(end.status, end.progress, end.ended_at, at, end.failed_step, end.duration_seconds, end.run_id);
      const cursor = cursorOf(end.run_id);
      if (cursor) {
        s.dropJournal.run(cursor.seq);
        s.dropStart.run(cursor.seq);
      }
      ended.push(end.run_id);
    }
    for (const [runId, cursor] of added) this.cursors.set(runId, cursor);
    for (const [cursor, next] of advanced) cursor.next = next;
    for (const runId of ended) this.cursors.delete(runId);
  }

  /** A run by run_id, else the newest run of that sequence_id. */
  async getRun(id: string): Promise<StoredRun | undefined> {
    const row = this.statements.byRunId.get(id) ?? this.statements.newestOfSequence.get(id);
    return row && toStored(row);
  }

  /** History page, newest first (created_at, then run_id), with the total that matches the filter. */
  async listRuns(query: RunQuery): Promise<RunPage> {
    if (query.sequence_id !== undefined) return this.listSequence(query, query.sequence_id);
    const { status, limit, offset } = query;
    const s = this.statements;
    if (status !== undefined) {
      if (query.running_only && TERMINAL_STATUSES.has(status)) return { items: [], total: 0 };
      return { items: s.pageStatus.all(status, limit, offset).map(toListed), total: s.countStatus.get(status) ?? 0 };
    }
    if (query.running_only) return { items: s.pageActive.all(limit, offset).map(toListed), total: s.countActive.get() ?? 0 };
    return { items: s.pageAll.all(limit, offset).map(toListed), total: s.countAll.get() ?? 0 };
  }

  /** A page of one sequence's runs (the `runs_by_sequence` index), with the same status rules. */
  private listSequence(query: RunQuery, sequenceId: string): RunPage {
    const { status, limit, offset } = query;
    if (status !== undefined && query.running_only && TERMINAL_STATUSES.has(status)) return { items: [], total: 0 };
    const where = status !== undefined ? 'sequence_id = ? AND status = ?' : query.running_only ? `sequence_id = ? AND status IN (${ACTIVE_SQL})` : 'sequence_id = ?';
    const args: unknown[] = status !== undefined ? [sequenceId, status] : [sequenceId];
    let statements = this.sequenceStatements.get(where);
    if (!statements) {
      statements = {
        page: this.db.prepare<unknown[], ListedRow>(`SELECT ${LISTED_COLUMNS} FROM runs WHERE ${where} ${NEWEST_FIRST} LIMIT ? OFFSET ?`),
        count: this.db.prepare<unknown[], number>(`SELECT count(*) FROM runs WHERE ${where}`).pluck(),
      };
      this.sequenceStatements.set(where, statements);
    }
    return { items: statements.page.all(...args, limit, offset).map(toListed), total: statements.count.get(...args) ?? 0 };
  }

  /** Counts by status over the whole history, every status present (0 when none). */
  async countByStatus(): Promise<Record<RunStatus, number>> {
    const counts = Object.fromEntries(ALL_STATUSES.map((status) => [status, 0])) as Record<RunStatus, number>;
    for (const { status, n } of this.statements.countByStatus.all()) counts[status] = n;
    return counts;
  }

  /**
   * Aggregates over terminal runs that ended at or after `sinceMs`; `total_sequences` counts every
   * stored run. Ties go to the most recent run (longest) and to the first name (failure step).
   */
  async stats(sinceMs: number): Promise<RunStats> {
    const s = this.statements;
    const totals = s.statsTotals.get(sinceMs);
    return {
      total_sequences: s.countAll.get() ?? 0,
      completed_since: totals?.completed ?? 0,
      failed_since: totals?.failed ?? 0,
      average_duration_seconds: totals?.average ?? null,
      longest_sequence_id: s.longest.get(sinceMs) ?? null,
      most_common_failure_step: s.commonFailure.get(sinceMs) ?? null,
    };
  }

  /** Every unfinished run with its journal from its last snapshot on, oldest first. */
  async unfinishedRuns(): Promise<UnfinishedRun[]> {
    const bySeq = new Map<number, { run: UnfinishedRun; cursor: Cursor }>();
    const runs: UnfinishedRun[] = [];
    for (const row of this.statements.starts.all()) {
      const run: UnfinishedRun = {
        run_id: row.run_id,
        sequence_id: row.sequence_id,
        status: row.status,
        created_at: row.created_at,
        definition: JSON.parse(row.definition) as unknown,
        body: JSON.parse(row.body) as unknown,
        records: [],
      };
      const cursor = this.cursors.get(row.run_id) ?? { seq: row.run_seq, next: 0 };
      this.cursors.set(row.run_id, cursor);
      bySeq.set(row.run_seq, { run, cursor });
      runs.push(run);
    }
    for (const row of this.statements.journal.iterate()) {
      const entry = bySeq.get(row.run_seq);
      if (!entry) continue;
      if (row.snapshot === 1) entry.run.records = [];
      entry.run.records.push(JSON.parse(row.body) as unknown);
      entry.cursor.next = Math.max(entry.cursor.next, row.n + 1);
    }
    return runs;
  }

  /**
   * Deletes terminal runs that ended before `beforeMs`, at most `maxRows` of them (default: all),
   * `PRUNE_CHUNK_ROWS` per statement; resolves with how many. Use `pruneInChunks` to yield to the
   * event loop between chunks.
   */
  async pruneEndedBefore(beforeMs: number, maxRows = Number.POSITIVE_INFINITY): Promise<number> {
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
  async getTemplate(name: string): Promise<StoredTemplate | undefined> {
    const row = this.statements.getTemplate.get(name);
    return row && toTemplate(row);
  }

  /** Stores a template: version 1 when new (or deleted before), else the stored version plus one. */
  async putTemplate(name: string, body: unknown, now: number): Promise<StoredTemplate> {
    return toTemplate(this.statements.putTemplate.get(name, JSON.stringify(body ?? null), now) as TemplateRow);
  }

  /** Deletes a template; resolves with whether it existed. */
  async deleteTemplate(name: string): Promise<boolean> {
    return this.statements.deleteTemplate.run(name).changes > 0;
  }

  /** Every template, by name. */
  async listTemplates(): Promise<StoredTemplate[]> {
    return this.statements.listTemplates.all().map(toTemplate);
  }

  /** A setting's JSON value, or undefined when it was never set. */
  async getSetting(key: string): Promise<unknown> {
    const value = this.statements.getSetting.get(key);
    return value === undefined ? undefined : (JSON.parse(value) as unknown);
  }

  /** Stores a setting at once; `undefined` deletes it. */
  async setSetting(key: string, value: unknown): Promise<void> {
    if (value === undefined) this.statements.deleteSetting.run(key);
    else this.statements.putSetting.run(key, JSON.stringify(value));
  }

  /**
   * SQLite's online backup API: copies the database page by page between turns of the event loop,
   * and pages this connection changes meanwhile are copied again, so the file is the database as
   * of the end of the copy.
   */
  async backup(file: string): Promise<void> {
    await this.db.backup(file);
  }

  /** Closes the database; later calls do nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
