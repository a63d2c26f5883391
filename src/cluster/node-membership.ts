/**
 * Which nodes form the cluster (SPEC 14): each node has a row in `nodes` and refreshes its
 * heartbeat every tick (with its lease renewal). A node that finds another's heartbeat older than
 * `lostAfterMs` marks it lost with one `UPDATE ... WHERE lost_at IS NULL RETURNING`, in the
 * transaction that logs the `node_lost` event, so exactly one node reports each loss however many
 * see it. Joining (at start, or a lost node heard again) logs `node_joined`. Heartbeat ages are
 * measured on the database clock, never on a node's.
 */
import type { Pool } from 'pg';
import { appendEvents, logEvents } from './event-log.ts';
import { inTransaction } from './pg-transaction.ts';

/** Options of {@link NodeMembership}. */
export interface NodeMembershipOptions {
  pool: Pool;
  nodeId: string;
  /** A node silent for this long is lost (default 10,000 ms, the lease's expiry). */
  lostAfterMs?: number;
}

/** A node of the cluster as the table shows it. */
export interface ClusterNode {
  node_id: string;
  /** Unix ms. */
  started_at: number;
  heartbeat_at: number;
  lost_at: number | null;
}

/** This node's membership: joining, heartbeats, and noticing lost nodes. */
export class NodeMembership {
  readonly #options: NodeMembershipOptions;

  constructor(options: NodeMembershipOptions) {
    this.#options = options;
  }

  /** Registers this node (again, after a restart) and logs `node_joined`. */
  async join(): Promise<void> {
    const { pool, nodeId } = this.#options;
    await pool.query(
      `INSERT INTO nodes (node_id) VALUES ($1)
       ON CONFLICT (node_id) DO UPDATE SET started_at = now(), heartbeat_at = now(), lost_at = NULL`,
      [nodeId],
    );
    await logEvents(pool, [{ type: 'node_joined', data: { node_id: nodeId }, at: Date.now() }]);
  }

  /**
   * Refreshes this node's heartbeat (logging `node_joined` when it had been marked lost), then
   * marks every other silent node lost; resolves with the node ids this call marked.
   */
  async tick(): Promise<string[]> {
    const { pool, nodeId } = this.#options;
    return inTransaction(pool, async (client) => {
      const beat = await client.query<{ was_lost: boolean }>(
        `UPDATE nodes n SET heartbeat_at = now(), lost_at = NULL FROM nodes old
         WHERE n.node_id = $1 AND old.node_id = n.node_id RETURNING old.lost_at IS NOT NULL AS was_lost`,
        [nodeId],
      );
      const lost = await client.query<{ node_id: string; silent: number }>(
        `UPDATE nodes SET lost_at = now()
         WHERE lost_at IS NULL AND node_id <> $1 AND heartbeat_at < now() - make_interval(secs => $2)
         RETURNING node_id, extract(epoch FROM now() - heartbeat_at)::float8 AS silent`,
        [nodeId, (this.#options.lostAfterMs ?? 10_000) / 1000],
      );
      const now = Date.now();
      const rejoined = beat.rows[0]?.was_lost ? [{ type: 'node_joined' as const, data: { node_id: nodeId }, at: now }] : [];
      await appendEvents(client, [
        ...rejoined,
        ...lost.rows.map((row) => ({ type: 'node_lost' as const, data: { node_id: row.node_id, silent_seconds: Math.round(row.silent * 10) / 10 }, at: now })),
      ]);
      return lost.rows.map((row) => row.node_id);
    });
  }

  /** Every node that ever joined, lost ones included, by node id. */
  async nodes(): Promise<ClusterNode[]> {
    const { rows } = await this.#options.pool.query<{ node_id: string; started_at: Date; heartbeat_at: Date; lost_at: Date | null }>(
      'SELECT node_id, started_at, heartbeat_at, lost_at FROM nodes ORDER BY node_id',
    );
    return rows.map((row) => ({
      node_id: row.node_id,
      started_at: row.started_at.getTime(),
      heartbeat_at: row.heartbeat_at.getTime(),
      lost_at: row.lost_at?.getTime() ?? null,
    }));
  }
}
