/**
 * The tables of the cluster services (SPEC 14), beside the store's own: the event log, the nodes,
 * the command bus and the cluster-wide actuator leases. Versioned in `cluster_schema_version` and
 * applied under a session advisory lock, so nodes that start together do not race; each step runs
 * in its own transaction.
 */
import type { Pool } from 'pg';

/** Session advisory lock held while the cluster migrations run. */
const MIGRATION_LOCK = 0x5e9_c1_0001;

/** Ordered; a step is never edited once released, only followed by another. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE events (
     seq     BIGINT PRIMARY KEY,
     run_id  TEXT,
     type    TEXT NOT NULL,
     at      BIGINT NOT NULL,
     body    TEXT NOT NULL
   );
   CREATE TABLE nodes (
     node_id      TEXT PRIMARY KEY,
     started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
     heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now(),
     lost_at      TIMESTAMPTZ
   );
   CREATE TABLE commands (
     id          BIGSERIAL PRIMARY KEY,
     target_node TEXT NOT NULL,
     run_id      TEXT NOT NULL,
     kind        TEXT NOT NULL,
     body        TEXT NOT NULL,
     created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
     done_at     TIMESTAMPTZ,
     result      TEXT
   );
   CREATE INDEX commands_open ON commands (target_node, id) WHERE done_at IS NULL;
   CREATE TABLE actuator_leases (
     esp_id   TEXT NOT NULL,
     gpio     INTEGER NOT NULL,
     run_id   TEXT NOT NULL,
     node_id  TEXT NOT NULL,
     priority INTEGER NOT NULL,
     PRIMARY KEY (esp_id, gpio)
   );
   CREATE INDEX actuator_leases_run ON actuator_leases (run_id);`,
];

/** Applies the cluster migrations not applied yet; resolves with the schema version. */
export async function migrateCluster(pool: Pool): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS cluster_schema_version (version INTEGER NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT max(version) AS version FROM cluster_schema_version');
    let version = rows[0]?.version ?? 0;
    for (; version < MIGRATIONS.length; version++) {
      await client.query('BEGIN');
      try {
        await client.query(MIGRATIONS[version] as string);
        await client.query('INSERT INTO cluster_schema_version (version) VALUES ($1)', [version + 1]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    }
    return version;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
}
