/**
 * One short transaction on a pooled connection: BEGIN, the work, COMMIT; ROLLBACK when the work
 * throws (the error is rethrown), and the connection always goes back to the pool.
 */
import type { Pool, PoolClient } from 'pg';

/** Runs `work` in a transaction of its own and resolves with what it returns. */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
