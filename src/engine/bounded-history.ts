/**
 * The history of an engine given no store of its own. Nothing recovers from that in-memory store
 * and no sweep prunes it by age, so without a bound it would keep every run that ever ended (about
 * 3.5 KB of SQLite each: 350 MB after 100,000 runs). It keeps about the newest `keep` ended runs,
 * as BullMQ's `removeOnComplete: { count }` does: once a tenth of `keep` more have ended, the runs
 * that ended before the `keep`th newest end are deleted, in chunks between turns of the event loop.
 */
import { pruneInChunks } from '../store/history.retention.ts';
import type { RunStore } from '../store/run-store.ts';

/** Ended runs an engine without a store of its own keeps in its history, by default. */
export const OWN_HISTORY_RUNS = 10_000;

/** Prunes an in-memory history to about its newest `keep` ended runs. */
export class BoundedHistory {
  readonly #store: Pick<RunStore, 'pruneEndedBefore'>;
  /** The end times of the last `keep` ends, as a ring: the slot of the next end holds the oldest. */
  readonly #endedAt: Float64Array;
  #ends = 0;
  #prunedAt = 0;
  #pruning = false;
  readonly #report: (error: unknown) => void;

  constructor(store: Pick<RunStore, 'pruneEndedBefore'>, keep: number, report: (error: unknown) => void) {
    if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`the history must keep at least one ended run, got ${keep}`);
    this.#store = store;
    this.#endedAt = new Float64Array(keep);
    this.#report = report;
  }

  /** These runs' history rows are committed (with the time each ended). */
  committed(endedAt: Iterable<number>): void {
    const keep = this.#endedAt.length;
    for (const at of endedAt) this.#endedAt[this.#ends++ % keep] = at;
    if (this.#pruning || this.#ends < keep || this.#ends - this.#prunedAt < Math.ceil(keep / 10)) return;
    this.#prunedAt = this.#ends;
    this.#pruning = true;
    pruneInChunks(this.#store, this.#endedAt[this.#ends % keep] as number)
      .catch(this.#report)
      .finally(() => (this.#pruning = false));
  }
}
