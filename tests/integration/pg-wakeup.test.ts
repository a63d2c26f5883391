/**
 * The LISTEN wake-up of the cluster's tails: a notification runs the check; when the listening
 * connection is cut (a failover, an administrator's pg_terminate_backend, the database going away)
 * the failure is reported, never thrown out of the process, and the next poll listens again.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type pg from 'pg';
import { PgWakeup } from '../../src/cluster/pg-wakeup.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.ts';

let db: TestDatabase;
let admin: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  admin = db.pool(1);
});
afterAll(async () => {
  await db.drop();
});

/** Resolves once `check` has run `n` times. */
function counter() {
  let count = 0;
  const waiters: { n: number; resolve(): void }[] = [];
  return {
    async check() {
      count++;
      for (const waiter of waiters.filter((w) => w.n <= count)) waiter.resolve();
    },
    reached: (n: number) => new Promise<void>((resolve) => (count >= n ? resolve() : waiters.push({ n, resolve }))),
  };
}

it('wakes on NOTIFY, reports a cut listening connection, listens again, and closes cleanly after', async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.on('uncaughtException', onUncaught);
  try {
    const errors: unknown[] = [];
    const checks = counter();
    const wakeup = new PgWakeup({ pool: db.pool(2), channel: 'wakeup_test', pollMs: 200, check: checks.check, onError: (e) => errors.push(e) });
    await wakeup.start();
    await admin.query('NOTIFY wakeup_test');
    await checks.reached(1);

    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN wakeup_test' AND pid <> pg_backend_pid()");
    await expect.poll(() => errors.length).toBeGreaterThan(0);
    // The next poll listens again: a notification after it is seen.
    await expect
      .poll(async () => (await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'LISTEN wakeup_test'")).rows[0].n)
      .toBe(1);
    await wakeup.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(uncaught).toEqual([]);
  } finally {
    process.off('uncaughtException', onUncaught);
  }
});

it('takes an error its connection reports after close (a late termination) without releasing it twice', async () => {
  const pool = db.pool(2);
  const clients: pg.PoolClient[] = [];
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  const watched = Object.assign(Object.create(pool) as pg.Pool, {
    connect: async () => {
      const client = await connect();
      clients.push(client);
      return client;
    },
  });
  const errors: unknown[] = [];
  const wakeup = new PgWakeup({ pool: watched, channel: 'late_test', pollMs: 10_000, check: async () => {}, onError: (e) => errors.push(e) });
  await wakeup.start();
  await wakeup.close();
  // What pg does when the server's termination message arrives while the connection is closing.
  expect(() => clients[0]?.emit('error', new Error('terminating connection due to administrator command'))).not.toThrow();
  expect(errors).toHaveLength(1);
});
