/**
 * The SQL of the PostgreSQL store, in one place. A turn's rows go in as arrays (`unnest`), so a
 * batch of any size is a fixed number of statements. Lease times are computed by the database
 * (`now()`), never by a node's clock: `$lease` is the lease length in ms.
 */
import { ACTIVE_SQL, LISTED_COLUMNS, NEWEST_FIRST, TERMINAL_SQL } from '../store-rows.ts';

const LEASE_END = (param: string) => `now() + ${param} * interval '1 millisecond'`;

/** $1 run_ids, $2 sequence_ids, $3 statuses, $4 created_at, $5 listed_at, $6 definitions, $7 updated_at. */
export const INSERT_RUNS = `
  INSERT INTO runs (run_id, sequence_id, status, progress, definition, created_at, listed_at, updated_at)
  SELECT r.run_id, r.sequence_id, r.status, 'null', r.definition, r.created_at, r.listed_at, $7
  FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[])
    AS r (run_id, sequence_id, status, created_at, listed_at, definition)`;

/** $1 run_ids, $2 created_at, $3 bodies, $4 owner, $5 lease ms. Owned by the writer, fence 1; run_seq in batch order. */
export const INSERT_STARTS = `
  INSERT INTO run_starts (run_id, created_at, body, owner, fence, lease_expires_at)
  SELECT s.run_id, s.created_at, s.body, $4, 1, ${LEASE_END('$5')}
  FROM unnest($1::text[], $2::bigint[], $3::text[]) WITH ORDINALITY AS s (run_id, created_at, body, i)
  ORDER BY s.i`;

/** $1 run_ids: who holds them now. Locked, so a claim (SKIP LOCKED) waits for this commit's verdict. */
export const LOCK_OWNERS = 'SELECT run_id, owner, fence FROM run_starts WHERE run_id = ANY($1::text[]) FOR UPDATE';

/** $1 run_ids, $2 n, $3 snapshot flags, $4 bodies. */
export const APPEND = `
  INSERT INTO run_journal (run_id, n, snapshot, body)
  SELECT * FROM unnest($1::text[], $2::int[], $3::bool[], $4::text[])`;

/** $1 run_ids, $2 n of each run's last snapshot record: the records before it are never replayed again. */
export const DROP_BEFORE = `
  DELETE FROM run_journal j USING unnest($1::text[], $2::int[]) AS d (run_id, n)
  WHERE j.run_id = d.run_id AND j.n < d.n`;

/** $1 run_ids, $2 statuses, $3 updated_at. */
export const SET_STATUS = `
  UPDATE runs SET status = u.status, updated_at = $3
  FROM unnest($1::text[], $2::text[]) AS u (run_id, status) WHERE runs.run_id = u.run_id`;

/** $1 run_ids, $2 listed_at. */
export const SET_LISTED = `
  UPDATE runs SET listed_at = u.listed_at
  FROM unnest($1::text[], $2::bigint[]) AS u (run_id, listed_at) WHERE runs.run_id = u.run_id`;

/** $1 run_ids, $2 statuses, $3 progress, $4 ended_at, $5 failed_step, $6 duration_seconds, $7 updated_at. */
export const END_RUNS = `
  UPDATE runs SET status = e.status, progress = e.progress, ended_at = e.ended_at, updated_at = $7,
    failed_step = e.failed_step, duration_seconds = e.duration_seconds
  FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::float8[])
    AS e (run_id, status, progress, ended_at, failed_step, duration_seconds)
  WHERE runs.run_id = e.run_id`;

/** $1 run_ids: their start records go, and their journals with them (ON DELETE CASCADE). */
export const DROP_STARTS = 'DELETE FROM run_starts WHERE run_id = ANY($1::text[])';

/**
 * $1 owner, $2 lease ms, $3 limit, $4 true to take this node's own runs too (at start: what it
 * held before a restart). Oldest first; rows another node is claiming or writing are skipped.
 */
export const CLAIM = `
  WITH claimed AS (
    UPDATE run_starts s SET owner = $1, fence = s.fence + 1, lease_expires_at = ${LEASE_END('$2')}
    WHERE s.run_id IN (
      SELECT run_id FROM run_starts
      WHERE lease_expires_at < now() OR ($4 AND owner = $1)
      ORDER BY created_at, run_seq
      FOR UPDATE SKIP LOCKED
      LIMIT $3)
    RETURNING s.run_id, s.run_seq, s.fence, s.body)
  SELECT c.run_id, c.fence, c.body, r.sequence_id, r.status, r.created_at, r.definition
  FROM claimed c JOIN runs r USING (run_id)
  ORDER BY r.created_at, c.run_seq`;

/** $1 run_ids: their journals, in order. */
export const JOURNALS = 'SELECT run_id, n, snapshot, body FROM run_journal WHERE run_id = ANY($1::text[]) ORDER BY run_id, n';

/** $1 owner, $2 lease ms, $3 run_ids, $4 fences: renews those still held with the same fence and an unexpired lease. */
export const RENEW = `
  UPDATE run_starts s SET lease_expires_at = ${LEASE_END('$2')}
  FROM unnest($3::text[], $4::bigint[]) AS h (run_id, fence)
  WHERE s.run_id = h.run_id AND s.owner = $1 AND s.fence = h.fence AND s.lease_expires_at > now()
  RETURNING s.run_id`;

/** $1 owner, $2 run_ids, $3 fences: their leases end now (claimable at once), where still held with the same fence. */
export const HAND_OVER = `
  UPDATE run_starts s SET lease_expires_at = now() - interval '1 millisecond'
  FROM unnest($2::text[], $3::bigint[]) AS h (run_id, fence)
  WHERE s.run_id = h.run_id AND s.owner = $1 AND s.fence = h.fence`;

const SELECT_RUN = 'SELECT run_id, sequence_id, status, progress, created_at, ended_at, definition FROM runs';

export const BY_RUN_ID = `${SELECT_RUN} WHERE run_id = $1`;
export const NEWEST_OF_SEQUENCE = `${SELECT_RUN} WHERE sequence_id = $1 ${NEWEST_FIRST} LIMIT 1`;

/** A history page and its total under `where` (with `$n` parameters from 1); limit and offset follow them. */
export function pageStatements(where: string, params: number): { page: string; count: string } {
  const clause = where === '' ? '' : `WHERE ${where}`;
  return {
    page: `SELECT ${LISTED_COLUMNS} FROM runs ${clause} ${NEWEST_FIRST} LIMIT $${params + 1} OFFSET $${params + 2}`,
    count: `SELECT count(*) AS n FROM runs ${clause}`,
  };
}

/** The filter of unfinished runs. */
export const ACTIVE_WHERE = `status IN (${ACTIVE_SQL})`;

export const COUNT_ALL = 'SELECT count(*) AS n FROM runs';
export const COUNT_BY_STATUS = 'SELECT status, count(*) AS n FROM runs GROUP BY status';

/** $1 since. */
export const STATS_TOTALS = `
  SELECT count(*) FILTER (WHERE status = 'completed') AS completed, count(*) FILTER (WHERE status = 'failed') AS failed,
    avg(duration_seconds) AS average
  FROM runs WHERE ended_at >= $1 AND status IN (${TERMINAL_SQL})`;
export const LONGEST = `
  SELECT sequence_id FROM runs
  WHERE ended_at >= $1 AND status IN (${TERMINAL_SQL}) AND duration_seconds IS NOT NULL
  ORDER BY duration_seconds DESC, ended_at DESC LIMIT 1`;
export const COMMON_FAILURE = `
  SELECT failed_step FROM runs
  WHERE ended_at >= $1 AND status = 'failed' AND failed_step IS NOT NULL
  GROUP BY failed_step ORDER BY count(*) DESC, failed_step ASC LIMIT 1`;

/** $1 before, $2 limit. */
export const PRUNE_CHUNK = `
  DELETE FROM runs WHERE run_id IN
    (SELECT run_id FROM runs WHERE ended_at < $1 AND status IN (${TERMINAL_SQL}) LIMIT $2)`;

export const GET_TEMPLATE = 'SELECT name, version, body, updated_at FROM templates WHERE name = $1';
export const PUT_TEMPLATE = `
  INSERT INTO templates (name, version, body, updated_at) VALUES ($1, 1, $2, $3)
  ON CONFLICT (name) DO UPDATE SET version = templates.version + 1, body = excluded.body, updated_at = excluded.updated_at
  RETURNING name, version, body, updated_at`;
export const DELETE_TEMPLATE = 'DELETE FROM templates WHERE name = $1';
export const LIST_TEMPLATES = 'SELECT name, version, body, updated_at FROM templates ORDER BY name';
export const GET_SETTING = 'SELECT value FROM settings WHERE key = $1';
export const PUT_SETTING = 'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value';
export const DELETE_SETTING = 'DELETE FROM settings WHERE key = $1';
