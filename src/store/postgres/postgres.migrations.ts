/**
 * The schema of the PostgreSQL store as an ordered list of migrations, recorded in a
 * `schema_version` table. Nodes of a cluster start together, so the whole upgrade runs under a
 * session advisory lock: the second node waits, then finds nothing left to do. Each migration runs
 * in its own transaction with its version row. Append new migrations, never edit one that shipped.
 */
import type pg from 'pg';

/** One step of the schema: `up` brings a database at `version - 1` to `version`. */
export interface PgMigration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

/** The advisory lock key of schema upgrades (any constant no other lock of ours uses). */
export const MIGRATION_LOCK_KEY = 0x5e9_0001;

/** Every migration, in order; `version` is its 1-based position. */
export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    description: 'history, unfinished runs with their owner and lease, journal, templates, settings',
    // Identifiers sort byte-wise (COLLATE "C"), as SQLite does: the history order and the ties of
    // the stats are the same on both backends.
    sql: `
      CREATE TABLE runs (
        run_id           TEXT COLLATE "C" PRIMARY KEY,
        sequence_id      TEXT COLLATE "C" NOT NULL,
        status           TEXT NOT NULL,
        progress         TEXT NOT NULL,
        definition       TEXT NOT NULL,
        created_at       BIGINT NOT NULL,
        listed_at        BIGINT NOT NULL,
        ended_at         BIGINT,
        updated_at       BIGINT NOT NULL,
        failed_step      TEXT COLLATE "C",
        duration_seconds DOUBLE PRECISION
      );
      CREATE INDEX runs_by_status ON runs (status, listed_at, run_id);
      CREATE INDEX runs_by_listed ON runs (listed_at, run_id);
      CREATE INDEX runs_by_sequence ON runs (sequence_id, listed_at, run_id);
      CREATE INDEX runs_by_ended ON runs (ended_at);
      -- One row per unfinished run: what recovery needs beside the definition, and who drives the
      -- run (owner, fence, lease on the database clock). Deleted when the run ends.
      CREATE TABLE run_starts (
        run_id           TEXT COLLATE "C" PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
        run_seq          BIGSERIAL NOT NULL,
        created_at       BIGINT NOT NULL,
        body             TEXT NOT NULL,
        owner            TEXT NOT NULL,
        fence            BIGINT NOT NULL,
        lease_expires_at TIMESTAMPTZ NOT NULL
      );
      CREATE INDEX run_starts_by_lease ON run_starts (lease_expires_at);
      CREATE INDEX run_starts_by_age ON run_starts (created_at, run_seq);
      -- Appended once per turn in which a run moved; never rewritten.
      CREATE TABLE run_journal (
        run_id   TEXT COLLATE "C" NOT NULL REFERENCES run_starts (run_id) ON DELETE CASCADE,
        n        INTEGER NOT NULL,
        snapshot BOOLEAN NOT NULL,
        body     TEXT NOT NULL,
        PRIMARY KEY (run_id, n)
      );
      CREATE TABLE templates (
        name       TEXT COLLATE "C" PRIMARY KEY,
        version    INTEGER NOT NULL,
        body       TEXT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: 'the cluster services: event log, nodes, command bus, actuator leases',
    // events: seq is numbered by the appends themselves (see cluster/event-log.ts), not a sequence,
    // so the stream has no gaps.
    sql: `
      CREATE TABLE events (
        seq     BIGINT PRIMARY KEY,
        run_id  TEXT COLLATE "C",
        type    TEXT NOT NULL,
        at      BIGINT NOT NULL,
        body    TEXT NOT NULL
      );
      CREATE TABLE nodes (
        node_id      TEXT COLLATE "C" PRIMARY KEY,
        started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
        heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        lost_at      TIMESTAMPTZ
      );
      -- Control calls for another node's run; a row lives from the call until its caller reads the answer.
      CREATE TABLE commands (
        id          BIGSERIAL PRIMARY KEY,
        target_node TEXT COLLATE "C" NOT NULL,
        run_id      TEXT COLLATE "C" NOT NULL,
        kind        TEXT NOT NULL,
        body        TEXT NOT NULL,
        created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
        done_at     TIMESTAMPTZ,
        result      TEXT
      );
      CREATE INDEX commands_open ON commands (target_node, id) WHERE done_at IS NULL;
      -- Which run holds which actuator, cluster-wide (SPEC 10, SPEC 14).
      CREATE TABLE actuator_leases (
        esp_id   TEXT COLLATE "C" NOT NULL,
        gpio     INTEGER NOT NULL,
        run_id   TEXT COLLATE "C" NOT NULL,
        node_id  TEXT COLLATE "C" NOT NULL,
        priority INTEGER NOT NULL,
        PRIMARY KEY (esp_id, gpio)
      );
      CREATE INDEX actuator_leases_run ON actuator_leases (run_id);
    `,
  },
  {
    version: 3,
    description: 'token buckets of the cluster-wide command rate limits',
    // One row per ESP and one for all commands; its level as of refilled_at, on the database's clock (SPEC 10, SPEC 14).
    sql: `
      CREATE TABLE rate_buckets (
        bucket      TEXT COLLATE "C" PRIMARY KEY,
        tokens      DOUBLE PRECISION NOT NULL,
        refilled_at TIMESTAMPTZ NOT NULL
      );
    `,
  },
];

/** The schema version this build writes; a database above it is refused. */
export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;

/** A database of a newer schema than this build knows. */
export class NewerSchemaError extends Error {
  override readonly name = 'NewerSchemaError';
}

/**
 * Applies every migration above the database's version under the advisory lock; resolves with the
 * versions applied. Rejects with NewerSchemaError when the database is newer than this build.
 */
export async function migratePg(pool: pg.Pool, migrations: readonly PgMigration[] = PG_MIGRATIONS): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
      const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_version');
      const current = rows[0]?.version ?? 0;
      if (current > migrations.length) {
        throw new NewerSchemaError(`the database has schema version ${current}, but this Sequencer knows up to ${migrations.length}`);
      }
      const applied: number[] = [];
      for (const migration of migrations) {
        if (migration.version <= current) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_version (version) VALUES ($1)', [migration.version]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
        applied.push(migration.version);
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}
