/**
 * The cluster's one event stream (SPEC 8, SPEC 14): every event of every node, stored in order in
 * the `events` table with a cluster-wide `seq`. A writer appends inside its own transaction (a
 * turn's events in the same transaction as the turn's commit) after taking one advisory
 * transaction lock, so appends are serialised until commit: seqs are numbered without gaps and
 * become visible in seq order, and a reader that has seen seq N can never later find a smaller
 * one. The commit's NOTIFY wakes the tailers (`event-tail.ts`).
 */
import type { ClientBase, Pool } from 'pg';
import { runIdOf, type EventEnvelope, type EventType, type PendingEvent } from '../events/event-types.ts';
import { inTransaction } from './pg-transaction.ts';

/** Transaction advisory lock serialising appends to the event log. */
export const EVENTS_LOCK = 0x5e9_c1_0002;
/** The channel every append notifies on commit. */
export const EVENTS_CHANNEL = 'sequencer_events';

/** Appends `events` in order inside the caller's open transaction on `client`; a no-op for none. */
export async function appendEvents(client: ClientBase, events: readonly PendingEvent[]): Promise<void> {
  if (events.length === 0) return;
  const runIds: (string | null)[] = [];
  const types: string[] = [];
  const ats: number[] = [];
  const bodies: string[] = [];
  for (const event of events) {
    runIds.push(runIdOf(event));
    types.push(event.type);
    ats.push(Math.round(event.at));
    bodies.push(JSON.stringify(event.data));
  }
  await client.query('SELECT pg_advisory_xact_lock($1), pg_notify($2, \'\')', [EVENTS_LOCK, EVENTS_CHANNEL]);
  await client.query(
    `INSERT INTO events (seq, run_id, type, at, body)
     SELECT (SELECT coalesce(max(seq), 0) FROM events) + e.n, e.run_id, e.type, e.at, e.body
     FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) WITH ORDINALITY AS e(run_id, type, at, body, n)`,
    [runIds, types, ats, bodies],
  );
}

/** Appends `events` in a transaction of their own (events that come with no commit: node, emergency). */
export function logEvents(pool: Pool, events: readonly PendingEvent[]): Promise<void> {
  return inTransaction(pool, (client) => appendEvents(client, events));
}

/** The seq of the newest stored event, 0 when there is none. */
export async function headSeq(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM events');
  return Number(rows[0]?.seq ?? 0);
}

/**
 * Events the log keeps (the newest): far more than a hub replays (10,000), so a node that restarts
 * fills its replay buffer from the table.
 */
export const EVENTS_KEPT = 100_000;

/** Deletes all but the newest `keep` events; resolves with how many went. */
export async function pruneEvents(pool: Pool, keep = EVENTS_KEPT): Promise<number> {
  const { rowCount } = await pool.query('DELETE FROM events WHERE seq <= (SELECT max(seq) FROM events) - $1', [keep]);
  return rowCount ?? 0;
}

/** Up to `limit` stored events with a seq larger than `after`, oldest first, as the stream sends them. */
export async function readSince(pool: Pool, after: number, limit: number): Promise<EventEnvelope[]> {
  const { rows } = await pool.query<{ seq: string; type: EventType; at: string; body: string }>(
    'SELECT seq, type, at, body FROM events WHERE seq > $1 ORDER BY seq LIMIT $2',
    [after, limit],
  );
  return rows.map((row) => ({ type: row.type, seq: Number(row.seq), timestamp: Number(row.at) / 1000, data: JSON.parse(row.body) as never }));
}
