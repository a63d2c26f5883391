/**
 * Run ids: `run-` and a UUIDv7 (RFC 9562), whose first 48 bits are the Unix ms it was made at.
 * Ids made later sort later, so the stores' indexes on run_id (SQLite's and PostgreSQL's B-trees)
 * grow at their end instead of at a random page: a run's rows cost 81-95 us in a file database
 * (20-40 us in `:memory:`) as the history grows to 200,000 runs with random ids, 44-52 us (14-16 us)
 * with these (`bench/store-growth.bench.ts`, docs/benchmarks.md). The other 74 bits are random,
 * from `randomUUID`: the `uuid` package's v7 costs ~2 us an id, this ~0.3 us.
 */
import { randomUUID } from 'node:crypto';

/** The time part of the last id made; ids come in bursts within one ms (a batch of starts). */
let lastMs = Number.NaN;
let lastTime = '';

/** A new run id made at `now` (Unix ms). */
export function newRunId(now: number): string {
  const ms = Math.trunc(now);
  if (ms !== lastMs) {
    // A time past 2^31 is no small integer: its hex costs ~0.5 us, so it is written once per ms.
    const hex = ms.toString(16).padStart(12, '0');
    lastMs = ms;
    lastTime = `${hex.slice(0, 8)}-${hex.slice(8, 12)}`;
  }
  // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx: the time replaces the first 48 bits, 7 the version nibble.
  return `run-${lastTime}-7${randomUUID().slice(15)}`;
}
