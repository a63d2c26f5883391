/**
 * Retention of the run history (SPEC section 11: 7 days by default). A prune of a large history
 * is split into chunks with a turn of the event loop between them, so timers of running
 * sequences are not held up behind one long DELETE.
 */
import type { RunStore } from './run-store.ts';

/** Options of `pruneInChunks`. */
export interface PruneOptions {
  /** Rows deleted per chunk (one statement, one turn of the event loop). Default 500. */
  chunkRows?: number;
}

/**
 * Deletes every terminal run that ended before `beforeMs`, `chunkRows` at a time, yielding to the
 * event loop (`setImmediate`) between chunks. Resolves with the number deleted; rejects with the
 * store's error (the chunks already deleted stay deleted), or with a RangeError when `chunkRows`
 * is not a positive integer.
 */
export async function pruneInChunks(
  store: Pick<RunStore, 'pruneEndedBefore'>,
  beforeMs: number,
  options: PruneOptions = {},
): Promise<number> {
  const chunkRows = options.chunkRows ?? 500;
  // A chunk of 0 would never come back short, so the loop would never end.
  if (!Number.isInteger(chunkRows) || chunkRows < 1) {
    throw new RangeError(`chunkRows must be a positive integer, got ${chunkRows}`);
  }
  let total = 0;
  for (;;) {
    const deleted = await store.pruneEndedBefore(beforeMs, chunkRows);
    total += deleted;
    if (deleted < chunkRows) return total;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
