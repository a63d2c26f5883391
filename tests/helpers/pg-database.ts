/**
 * A PostgreSQL database of its own for a test file, on the server at 127.0.0.1:5432 (trust auth,
 * user postgres): created empty, dropped with every connection to it after.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server the tests use; `PGTEST_URL` points them elsewhere. */
const SERVER = process.env.PGTEST_URL ?? 'postgres://postgres@127.0.0.1:5432';

/** A test database. */
export interface TestDatabase {
  /** Its connection URL. */
  url: string;
  /** A new pool on it (closed by `drop`). */
  pool(max?: number): pg.Pool;
  /** Drops every table, so that the next store opened on it migrates from nothing. */
  empty(): Promise<void>;
  /** Closes the pools and drops the database. */
  drop(): Promise<void>;
}

async function admin(sql: string, database = 'postgres'): Promise<void> {
  const client = new pg.Client({ connectionString: `${SERVER}/${database}` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates a fresh database `seq_test_<pid>_<random>`. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `seq_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = `${SERVER}/${name}`;
  const pools: pg.Pool[] = [];
  return {
    url,
    pool(max = 10) {
      const pool = new pg.Pool({ connectionString: url, max });
      // An idle connection a test cut (pg_terminate_backend) is dropped by the pool; nothing to report.
      pool.on('error', () => {});
      pools.push(pool);
      return pool;
    },
    empty: () => admin('DROP SCHEMA public CASCADE; CREATE SCHEMA public', name),
    async drop() {
      await Promise.all(pools.splice(0).map((pool) => pool.end()));
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
