/**
 * Opening a PostgreSQL connection pool from a `postgres://` URL (SPEC 14), shared by the store and
 * the cluster services: BIGINT columns (Unix ms, fencing numbers, counts) are read as numbers,
 * which they stay well within.
 */
import pg from 'pg';

const INT8_OID = 20;

/** True when `--db` names a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/** The URL without its password, for messages and logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** A pool on `url`; errors of idle connections go to `onError` (a pool without a listener would crash the process). */
export function openPgPool(url: string, options: { max?: number; onError?: (error: Error) => void } = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10, types, connectionTimeoutMillis: 5_000 });
  pool.on('error', options.onError ?? (() => {}));
  return pool;
}
