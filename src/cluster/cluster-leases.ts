/**
 * Actuator leases across the nodes of a cluster (SPEC 10, SPEC 14), in the `actuator_leases`
 * table: one row per actuator held, naming the run, its priority and its node. A run takes an
 * actuator with one statement that grants it when it is free, already the run's, held by a less
 * important run (a higher priority number), or held by a run that has ended; otherwise the row is
 * left alone and the holder is named. Each node's own `LeaseTable` still decides between its own
 * runs first; this table decides between nodes.
 */
import type { Pool } from 'pg';
import type { SharedLeases, SharedLeaseResult } from '../safety/safety-system.ts';
import type { LeaseHolder } from '../safety/lease-table.ts';

/** `esp_id:gpio` split as the table stores it. */
function split(key: string): [string, number] {
  const at = key.lastIndexOf(':');
  return [key.slice(0, at), Number(key.slice(at + 1))];
}

const ACQUIRE = `
  INSERT INTO actuator_leases AS l (esp_id, gpio, run_id, node_id, priority) VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (esp_id, gpio) DO UPDATE SET run_id = EXCLUDED.run_id, node_id = EXCLUDED.node_id, priority = EXCLUDED.priority
  WHERE l.run_id = EXCLUDED.run_id OR l.priority > EXCLUDED.priority
     OR NOT EXISTS (SELECT 1 FROM run_starts s WHERE s.run_id = l.run_id)
  RETURNING run_id`;

/** The cluster-wide lease table of one node. */
export class ClusterLeases implements SharedLeases {
  readonly #pool: Pool;
  readonly #nodeId: string;
  readonly #onError: (error: unknown) => void;

  constructor(pool: Pool, nodeId: string, onError: (error: unknown) => void) {
    this.#pool = pool;
    this.#nodeId = nodeId;
    this.#onError = onError;
  }

  async acquire(key: string, holder: LeaseHolder): Promise<SharedLeaseResult> {
    const [espId, gpio] = split(key);
    const granted = await this.#pool.query(ACQUIRE, [espId, gpio, holder.runId, this.#nodeId, holder.priority]);
    if (granted.rowCount === 1) return { ok: true };
    const { rows } = await this.#pool.query<{ run_id: string; priority: number; node_id: string }>(
      'SELECT run_id, priority, node_id FROM actuator_leases WHERE esp_id = $1 AND gpio = $2',
      [espId, gpio],
    );
    const row = rows[0];
    // Released between the two statements: free now, so ask again.
    if (!row) return this.acquire(key, holder);
    return { ok: false, holder: { runId: row.run_id, priority: row.priority }, nodeId: row.node_id };
  }

  async takenFrom(runId: string, keys: readonly string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const parts = keys.map(split);
    const { rows } = await this.#pool.query<{ esp_id: string; gpio: number }>(
      `SELECT l.esp_id, l.gpio FROM actuator_leases l JOIN unnest($1::text[], $2::int[]) AS k (esp_id, gpio) USING (esp_id, gpio)
       WHERE l.run_id <> $3`,
      [parts.map(([esp]) => esp), parts.map(([, gpio]) => gpio), runId],
    );
    return new Set(rows.map((row) => `${row.esp_id}:${row.gpio}`));
  }

  release(key: string, runId: string): void {
    const [espId, gpio] = split(key);
    this.#pool.query('DELETE FROM actuator_leases WHERE esp_id = $1 AND gpio = $2 AND run_id = $3', [espId, gpio, runId]).catch(this.#onError);
  }

  releaseRun(runId: string, keep: readonly string[]): void {
    this.#pool.query('DELETE FROM actuator_leases WHERE run_id = $1 AND NOT (esp_id || \':\' || gpio = ANY($2::text[]))', [runId, keep]).catch(this.#onError);
  }
}
