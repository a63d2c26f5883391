/**
 * The PostgreSQL implementation of `RunStore` (SPEC 14), for several nodes on one database. The
 * tables are those of the SQLite journal; an unfinished run's start record also says which node
 * owns it (`owner`), since which takeover (`fence`, raised by each claim) and until when
 * (`lease_expires_at`, on the database clock). A commit writes a run's journal records and its end
 * only while this node still owns it with the fence it holds (the rows are locked first, so a
 * claim on another node waits or skips them); the runs it finds taken over come back as `lost`.
 */
import type pg from 'pg';
import { TERMINAL_STATUSES } from '../../domain/progress.ts';
import type { RunStatus } from '../../domain/progress.ts';
import type {
  ClaimedRun,
  CommitBatch,
  CommitResult,
  RenewResult,
  RunOwnership,
  RunPage,
  RunQuery,
  RunStats,
  RunStore,
  StoredRun,
  StoredTemplate,
  UnfinishedRun,
} from '../run-store.ts';
import { ALL_STATUSES, toListed, toStored, toTemplate, type ListedRow, type RunRow, type TemplateRow } from '../store-rows.ts';
import { StoreOpenError } from '../store-open.error.ts';
import { appendEvents } from '../../cluster/event-log.ts';
import { runIdOf } from '../../events/event-types.ts';
import { migratePg, NewerSchemaError } from './postgres.migrations.ts';
import { openPgPool, redactedUrl } from './postgres.pool.ts';
import * as sql from './postgres.statements.ts';

/** How long a lease lasts (SPEC 14: expires after 10 s). */
export const DEFAULT_LEASE_MS = 10_000;

/** Options of `openPostgresStore`. */
export interface PostgresStoreOptions {
  /** This node's id: the owner of the runs it starts and claims. */
  nodeId: string;
  /** Lease length in ms (default 10 s). */
  leaseMs?: number;
  /** Stamps `updated_at`, in Unix ms (default `Date.now`). */
  now?: () => number;
  /** Errors of idle pool connections (default: ignored; the next query reports them). */
  onPoolError?: (error: Error) => void;
}

/** Where an unfinished run this node holds stands: the fence it holds it with, and its next journal record. */
interface Held {
  fence: number;
  next: number;
}

/** A claimed start record with its history row's columns. */
interface ClaimRow {
  run_id: string;
  fence: number;
  body: string;
  sequence_id: string;
  status: RunStatus;
  created_at: number;
  definition: string;
}

/**
 * Opens a pool on `url`, applies the migrations (under an advisory lock) and returns the store.
 * Rejects with StoreOpenError (`io` when the server cannot be reached, `newer-schema`).
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions): Promise<PostgresStore> {
  const where = redactedUrl(url);
  const pool = openPgPool(url, { onError: options.onPoolError });
  try {
    await migratePg(pool);
  } catch (error) {
    await pool.end();
    if (error instanceof NewerSchemaError) {
      throw new StoreOpenError('newer-schema', where, `database ${where}: ${error.message}; upgrade Sequencer or point --db at another database`);
    }
    const detail = error instanceof Error ? error.message : String(error);
    throw new StoreOpenError('io', where, `cannot open or write database ${where} (${detail})`, { cause: error });
  }
  return new PostgresStore(pool, options);
}

/** `RunStore` on a migrated PostgreSQL database; create it with `openPostgresStore`. */
export class PostgresStore implements RunStore, RunOwnership {
  readonly nodeId: string;
  readonly leaseMs: number;
  readonly ownership: RunOwnership = this;
  readonly #now: () => number;
  /** Every unfinished run this node holds, by run_id. */
  readonly #held = new Map<string, Held>();
  #closed = false;

  constructor(
    readonly pool: pg.Pool,
    options: PostgresStoreOptions,
  ) {
    this.nodeId = options.nodeId;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Writes a batch in one transaction; the records and ends of runs held by another node now are left out and named. */
  async commit(batch: CommitBatch): Promise<CommitResult> {
    if (this.#closed) throw new Error('the run store is closed');
    if (batch.starts.length === 0 && batch.records.length === 0 && batch.ends.length === 0 && !batch.events?.length) return { lost: [] };
    return this.#transaction((client) => this.#write(client, batch));
  }

  async #write(client: pg.PoolClient, { starts, records, ends, events }: CommitBatch): Promise<{ value: CommitResult; apply(): void }> {
    const at = this.#now();
    const added = new Map<string, Held>();
    if (starts.length > 0) {
      const ids = starts.map((s) => s.run_id);
      await client.query(sql.INSERT_RUNS, [ids, starts.map((s) => s.sequence_id), starts.map((s) => s.status), starts.map((s) => s.created_at), starts.map((s) => s.listed_at), starts.map((s) => s.definition), at]);
      await client.query(sql.INSERT_STARTS, [ids, starts.map((s) => s.created_at), starts.map((s) => s.body), this.nodeId, this.leaseMs]);
      for (const id of ids) added.set(id, { fence: 1, next: 0 });
    }
    const heldOf = (runId: string) => added.get(runId) ?? this.#held.get(runId);
    const lost = await this.#fenced(client, [...records, ...ends].map((r) => r.run_id).filter((id) => heldOf(id) !== undefined), heldOf);
    // A run this node never held (its start could not be serialised) has no journal: left out, as on SQLite.
    const mine = (runId: string) => heldOf(runId) !== undefined && !lost.has(runId);

    const advanced = new Map<Held, number>();
    const journal = { ids: [] as string[], n: [] as number[], snapshot: [] as boolean[], body: [] as string[] };
    const snapshots = new Map<string, number>();
    const statuses = new Map<string, RunStatus>();
    const listed = new Map<string, number>();
    for (const record of records) {
      if (!mine(record.run_id)) continue;
      const held = heldOf(record.run_id) as Held;
      const n = advanced.get(held) ?? held.next;
      journal.ids.push(record.run_id);
      journal.n.push(n);
      journal.snapshot.push(record.snapshot);
      journal.body.push(record.body);
      if (record.snapshot && n > 0) snapshots.set(record.run_id, n);
      advanced.set(held, n + 1);
      if (record.status !== undefined) statuses.set(record.run_id, record.status);
      if (record.listed_at !== undefined) listed.set(record.run_id, record.listed_at);
    }
    if (journal.ids.length > 0) await client.query(sql.APPEND, [journal.ids, journal.n, journal.snapshot, journal.body]);
    if (snapshots.size > 0) await client.query(sql.DROP_BEFORE, [[...snapshots.keys()], [...snapshots.values()]]);
    if (statuses.size > 0) await client.query(sql.SET_STATUS, [[...statuses.keys()], [...statuses.values()], at]);
    if (listed.size > 0) await client.query(sql.SET_LISTED, [[...listed.keys()], [...listed.values()]]);

    const ended = ends.filter((end) => mine(end.run_id));
    if (ended.length > 0) {
      const ids = ended.map((e) => e.run_id);
      await client.query(sql.END_RUNS, [ids, ended.map((e) => e.status), ended.map((e) => e.progress), ended.map((e) => e.ended_at), ended.map((e) => e.failed_step), ended.map((e) => e.duration_seconds), at]);
      await client.query(sql.DROP_STARTS, [ids]);
    }
    // Last: the event log's lock is held from here to the commit, as briefly as possible. A lost
    // run's events are the old owner's and never reach the stream.
    if (events) await appendEvents(client, events.filter((event) => !lost.has(runIdOf(event) ?? '')));
    return {
      value: { lost: [...lost] },
      // Applied once the transaction has committed: a rolled-back batch changes nothing held.
      apply: () => {
        for (const [runId, held] of added) this.#held.set(runId, held);
        for (const [held, next] of advanced) held.next = next;
        for (const end of ended) this.#held.delete(end.run_id);
        for (const runId of lost) this.#held.delete(runId);
      },
    };
  }

  /** Locks the start rows of `runIds` and answers those this node no longer holds with the fence it has. */
  async #fenced(client: pg.PoolClient, runIds: string[], heldOf: (runId: string) => Held | undefined): Promise<Set<string>> {
    const lost = new Set<string>();
    if (runIds.length === 0) return lost;
    const unique = [...new Set(runIds)];
    const { rows } = await client.query<{ run_id: string; owner: string; fence: number }>(sql.LOCK_OWNERS, [unique]);
    const owners = new Map(rows.map((row) => [row.run_id, row]));
    for (const runId of unique) {
      const row = owners.get(runId);
      if (!row || row.owner !== this.nodeId || row.fence !== heldOf(runId)?.fence) lost.add(runId);
    }
    return lost;
  }

  async #transaction<T>(work: (client: pg.PoolClient) => Promise<{ value: T; apply(): void }>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      let outcome: { value: T; apply(): void };
      try {
        outcome = await work(client);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
      outcome.apply();
      return outcome.value;
    } finally {
      client.release();
    }
  }

  // ---- ownership ------------------------------------------------------------------------------

  /** Renews every held run's lease in one statement; those it could not renew are lost and no longer held. */
  async renewLeases(): Promise<RenewResult> {
    const held = [...this.#held];
    if (held.length === 0) return { kept: [], lost: [] };
    const { rows } = await this.pool.query<{ run_id: string }>(sql.RENEW, [this.nodeId, this.leaseMs, held.map(([id]) => id), held.map(([, h]) => h.fence)]);
    const kept = new Set(rows.map((row) => row.run_id));
    const lost: string[] = [];
    for (const [runId, h] of held) {
      // A run that ended (or was released) while the renewal was on its way is neither.
      if (kept.has(runId) || this.#held.get(runId) !== h) continue;
      lost.push(runId);
      this.#held.delete(runId);
    }
    return { kept: [...kept], lost };
  }

  /** Takes over at most `limit` runs whose leases expired, oldest first. */
  claimExpired(limit: number): Promise<ClaimedRun[]> {
    return this.#claim(limit, false);
  }

  release(runIds: Iterable<string>): void {
    for (const runId of runIds) this.#held.delete(runId);
  }

  async handOver(): Promise<void> {
    const held = [...this.#held];
    this.#held.clear();
    if (held.length > 0) await this.pool.query(sql.HAND_OVER, [this.nodeId, held.map(([id]) => id), held.map(([, h]) => h.fence)]);
  }

  async #claim(limit: number, mine: boolean): Promise<ClaimedRun[]> {
    if (this.#closed) throw new Error('the run store is closed');
    if (limit <= 0) return [];
    return this.#transaction(async (client) => {
      const { rows } = await client.query<ClaimRow>(sql.CLAIM, [this.nodeId, this.leaseMs, limit, mine]);
      const runs = new Map<string, ClaimedRun>();
      const next = new Map<string, number>();
      for (const row of rows) {
        runs.set(row.run_id, {
          run_id: row.run_id,
          sequence_id: row.sequence_id,
          status: row.status,
          created_at: row.created_at,
          definition: JSON.parse(row.definition) as unknown,
          body: JSON.parse(row.body) as unknown,
          records: [],
          fence: row.fence,
        });
      }
      if (runs.size > 0) {
        const journal = await client.query<{ run_id: string; n: number; snapshot: boolean; body: string }>(sql.JOURNALS, [[...runs.keys()]]);
        for (const record of journal.rows) {
          const run = runs.get(record.run_id) as ClaimedRun;
          if (record.snapshot) run.records = [];
          run.records.push(JSON.parse(record.body) as unknown);
          next.set(record.run_id, record.n + 1);
        }
      }
      return {
        value: [...runs.values()],
        apply: () => {
          for (const run of runs.values()) this.#held.set(run.run_id, { fence: run.fence, next: next.get(run.run_id) ?? 0 });
        },
      };
    });
  }

  /** This node's own runs (from before a restart) and every run whose lease expired, taken over. */
  async unfinishedRuns(): Promise<UnfinishedRun[]> {
    return (await this.#claim(Number.MAX_SAFE_INTEGER, true)).map(({ fence: _fence, ...run }) => run);
  }

  // ---- history, templates, settings -------------------------------------------------------------

  async getRun(id: string): Promise<StoredRun | undefined> {
    const byId = await this.pool.query<RunRow>(sql.BY_RUN_ID, [id]);
    const row = byId.rows[0] ?? (await this.pool.query<RunRow>(sql.NEWEST_OF_SEQUENCE, [id])).rows[0];
    return row && toStored(row);
  }

  async listRuns(query: RunQuery): Promise<RunPage> {
    const { status, limit, offset } = query;
    if (status !== undefined && query.running_only && TERMINAL_STATUSES.has(status)) return { items: [], total: 0 };
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.sequence_id !== undefined) where.push(`sequence_id = $${params.push(query.sequence_id)}`);
    if (status !== undefined) where.push(`status = $${params.push(status)}`);
    else if (query.running_only) where.push(sql.ACTIVE_WHERE);
    const statements = sql.pageStatements(where.join(' AND '), params.length);
    const [page, count] = await Promise.all([
      this.pool.query<ListedRow>(statements.page, [...params, limit, offset]),
      this.pool.query<{ n: number }>(statements.count, params),
    ]);
    return { items: page.rows.map(toListed), total: count.rows[0]?.n ?? 0 };
  }

  async countByStatus(): Promise<Record<RunStatus, number>> {
    const counts = Object.fromEntries(ALL_STATUSES.map((status) => [status, 0])) as Record<RunStatus, number>;
    for (const { status, n } of (await this.pool.query<{ status: RunStatus; n: number }>(sql.COUNT_BY_STATUS)).rows) counts[status] = n;
    return counts;
  }

  async stats(sinceMs: number): Promise<RunStats> {
    const [all, totals, longest, common] = await Promise.all([
      this.pool.query<{ n: number }>(sql.COUNT_ALL),
      this.pool.query<{ completed: number; failed: number; average: number | null }>(sql.STATS_TOTALS, [sinceMs]),
      this.pool.query<{ sequence_id: string }>(sql.LONGEST, [sinceMs]),
      this.pool.query<{ failed_step: string }>(sql.COMMON_FAILURE, [sinceMs]),
    ]);
    return {
      total_sequences: all.rows[0]?.n ?? 0,
      completed_since: totals.rows[0]?.completed ?? 0,
      failed_since: totals.rows[0]?.failed ?? 0,
      average_duration_seconds: totals.rows[0]?.average ?? null,
      longest_sequence_id: longest.rows[0]?.sequence_id ?? null,
      most_common_failure_step: common.rows[0]?.failed_step ?? null,
    };
  }

  async pruneEndedBefore(beforeMs: number, maxRows = Number.POSITIVE_INFINITY): Promise<number> {
    let deleted = 0;
    while (deleted < maxRows) {
      const chunk = Math.min(PRUNE_CHUNK_ROWS, maxRows - deleted);
      const { rowCount } = await this.pool.query(sql.PRUNE_CHUNK, [beforeMs, chunk]);
      deleted += rowCount ?? 0;
      if ((rowCount ?? 0) < chunk) break;
    }
    return deleted;
  }

  async getTemplate(name: string): Promise<StoredTemplate | undefined> {
    const row = (await this.pool.query<TemplateRow>(sql.GET_TEMPLATE, [name])).rows[0];
    return row && toTemplate(row);
  }

  async putTemplate(name: string, body: unknown, now: number): Promise<StoredTemplate> {
    return toTemplate((await this.pool.query<TemplateRow>(sql.PUT_TEMPLATE, [name, JSON.stringify(body ?? null), now])).rows[0] as TemplateRow);
  }

  async deleteTemplate(name: string): Promise<boolean> {
    return ((await this.pool.query(sql.DELETE_TEMPLATE, [name])).rowCount ?? 0) > 0;
  }

  async listTemplates(): Promise<StoredTemplate[]> {
    return (await this.pool.query<TemplateRow>(sql.LIST_TEMPLATES)).rows.map(toTemplate);
  }

  async getSetting(key: string): Promise<unknown> {
    const row = (await this.pool.query<{ value: string }>(sql.GET_SETTING, [key])).rows[0];
    return row === undefined ? undefined : (JSON.parse(row.value) as unknown);
  }

  async setSetting(key: string, value: unknown): Promise<void> {
    if (value === undefined) await this.pool.query(sql.DELETE_SETTING, [key]);
    else await this.pool.query(sql.PUT_SETTING, [key, JSON.stringify(value)]);
  }

  /** Ends the pool; later calls do nothing. The leases of runs still held expire on their own. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }
}

/** Rows deleted by one prune statement. */
const PRUNE_CHUNK_ROWS = 500;
