/**
 * The actuator command rate limits across the nodes of a cluster (SPEC 10, SPEC 14), in the
 * `rate_buckets` table: one token bucket per ESP and one for all commands, refilled by the time
 * elapsed on the database's clock, so nodes whose clocks disagree still share one budget. A command
 * takes a token with one statement that refills the row and takes the token only if there is one;
 * a command that gets none waits until the bucket should have one and asks again, up to its
 * deadline. Each node's own limiter still orders its own commands first (FIFO per ESP); these
 * buckets decide between nodes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import type { AcquireOptions } from '../safety/rate-limiter.ts';
import type { SharedRateLimit } from '../safety/safety-system.ts';
import { espRateLimitError, totalRateLimitError } from '../safety/rate-limiter.ts';
import type { SequencerError } from '../domain/errors.ts';

/** The bucket's level now ($2 = capacity, $3 = tokens per second); elapsed time never counts negative. */
const LEVEL = (row: string) =>
  `LEAST($2::float8, ${row}.tokens + $3::float8 * GREATEST(0, EXTRACT(EPOCH FROM now() - ${row}.refilled_at))::float8)`;

/** Takes a token when the bucket has one; no row returned means none was free. */
const TAKE = `
  INSERT INTO rate_buckets AS b (bucket, tokens, refilled_at) VALUES ($1, $2::float8 - 1, now())
  ON CONFLICT (bucket) DO UPDATE SET tokens = ${LEVEL('b')} - 1, refilled_at = GREATEST(b.refilled_at, now())
  WHERE ${LEVEL('b')} >= 1
  RETURNING 1`;

/** Milliseconds until the bucket has a token again. */
const WAIT = `SELECT ((1 - ${LEVEL('b')}) * 1000 / $3::float8)::float8 AS wait_ms FROM rate_buckets b WHERE bucket = $1`;

/** The cluster-wide command buckets of one node. */
export class ClusterRateLimit implements SharedRateLimit {
  readonly #pool: Pool;
  readonly #perEspRate: number;
  readonly #totalRate: number;

  /** Rates of `rate_limits.commands_per_esp_per_second` and `rate_limits.commands_per_second`; 0 = no limit. */
  constructor(pool: Pool, { perEsp, total }: { perEsp: number; total: number }) {
    this.#pool = pool;
    this.#perEspRate = perEsp;
    this.#totalRate = total;
  }

  async acquire(espId: string, options: AcquireOptions = {}): Promise<void> {
    await this.#take(`esp:${espId}`, this.#perEspRate, options, () => espRateLimitError(espId, this.#perEspRate));
    await this.#take('total', this.#totalRate, options, () => totalRateLimitError(this.#totalRate));
  }

  /** Takes a token of `bucket`, asking again when the bucket should have one, until `deadline`. */
  async #take(bucket: string, rate: number, { signal, deadline = Infinity }: AcquireOptions, limited: () => SequencerError): Promise<void> {
    if (rate === 0) return;
    const params = [bucket, Math.max(1, rate), rate];
    for (;;) {
      signal?.throwIfAborted();
      if ((await this.#pool.query(TAKE, params)).rowCount === 1) return;
      const { rows } = await this.#pool.query<{ wait_ms: number }>(WAIT, params);
      // At least 1 ms: a level a hair below one token must not make a busy loop.
      const waitMs = Math.max(1, Math.ceil(rows[0]?.wait_ms ?? 0));
      if (Date.now() + waitMs > deadline) throw limited();
      await sleep(waitMs, undefined, { signal }).catch(() => signal?.throwIfAborted());
    }
  }
}
