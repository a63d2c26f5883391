/**
 * The zombie guard of a node (SPEC 14: no command goes out after its lease expired). The leases
 * live on the database clock; this node cannot read that clock, but it knows that every lease it
 * renewed lasts at least until `leaseMs` after the renewal was SENT, by its own monotonic clock
 * (`performance.now()`, which no clock step moves). Runs admitted or claimed since got leases that
 * end later still. So `validUntil` = when the last renewal that succeeded was sent + `leaseMs`, and
 * the node drives its runs (an actuator command, a commit of a run's records) only while
 * `now < validUntil - marginMs`: the margin covers the rate difference of the two clocks and the
 * time between the check and the command reaching the device. A node that was frozen (SIGSTOP, a
 * long pause) wakes past its validity and sends nothing until a renewal says which runs are still its own.
 */
import type { RenewResult, RunOwnership } from '../store/run-store.ts';

/** The timing of leases (SPEC 14: renewed every 2 s, expire after 10 s). */
export interface LeaseTimes {
  /** How often leases are renewed (and expired runs claimed). */
  renewMs: number;
  /** How long a lease lasts on the database clock (the store's lease length). */
  leaseMs: number;
  /** How long before the lease's end this node stops driving. */
  marginMs: number;
}

/** The defaults of SPEC 14, with a 3 s margin (the lease length is the store's). */
export const DEFAULT_RENEWAL: Omit<LeaseTimes, 'leaseMs'> = { renewMs: 2_000, marginMs: 3_000 };

/** Keeps this node's local lease validity. */
export class LeaseKeeper {
  readonly #times: LeaseTimes;
  readonly #now: () => number;
  #validUntil: number;

  /**
   * Starts valid for one lease from now: the runs this node holds yet were claimed (or started)
   * after this, so their leases end later.
   */
  constructor(times: LeaseTimes, now: () => number = () => performance.now()) {
    this.#times = times;
    this.#now = now;
    this.#validUntil = now() + times.leaseMs;
  }

  /** Whether this node may still drive its runs: send a command, commit a transition. */
  valid(): boolean {
    return this.#now() < this.#validUntil - this.#times.marginMs;
  }

  /** Renews through `ownership`; on success the validity runs from when the renewal was sent. Rejects as the store does. */
  async renew(ownership: RunOwnership): Promise<RenewResult> {
    const sentAt = this.#now();
    const result = await ownership.renewLeases();
    this.#validUntil = Math.max(this.#validUntil, sentAt + this.#times.leaseMs);
    return result;
  }
}
