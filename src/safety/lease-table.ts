/**
 * Actuator leases of SPEC section 10. A run that commands an actuator holds it until it turns it
 * OFF or ends; another run may command it only by being strictly more important (a lower
 * `priority` number), and then takes it over. The table is synchronous, so two runs asking for
 * one actuator in the same tick are decided by who asked first. Every operation is O(1) or
 * O(keys of one run); nothing scans the whole table.
 */

/** Who holds a lease: the run and the priority of its definition (lower number = more important). */
export interface LeaseHolder {
  readonly runId: string;
  readonly priority: number;
}

/**
 * The answer of {@link LeaseTable.acquire}. Granted: `previous` is the run it was taken over from,
 * if any. Refused (fail the step with 5640): `holder` is the run in the way; `reason` says whether
 * that run holds it now (`held`) or took it from the requester earlier (`taken_over`, reported
 * once, on the requester's next command for that actuator).
 */
export type LeaseResult =
  | { readonly ok: true; readonly previous?: LeaseHolder }
  | { readonly ok: false; readonly holder: LeaseHolder; readonly reason: 'held' | 'taken_over' };

/** The lease key of one actuator: `esp_id:gpio`. */
export function leaseKey(espId: string, gpio: number): string {
  return `${espId}:${gpio}`;
}

/**
 * The leases of every actuator commanded by a run. Intended use by the actuator executor, for
 * every command of run R on key K:
 *
 * 1. `acquire(K, R)`; refused → fail the step with 5640 and a message naming `holder.runId`.
 * 2. Send the command. After an OFF (or a failed ON), `release(K, R)`: the lease only guards an
 *    actuator the run left on. After ON / PWM / TOGGLE the run keeps it.
 * 3. On every terminal state, `releaseAll(R)` gives the keys to turn OFF (minus `leave_on` ones).
 *
 * `touched(R)` remembers every key ever granted to R, also after `releaseAll`, so an emergency
 * stop can reach an actuator a finished run left on (`leave_on`); it is a superset of the ON/PWM
 * ones, which costs at most a redundant OFF. The caller calls `forget(R)` when it drops the run.
 */
export class LeaseTable {
  private readonly leases = new Map<string, LeaseHolder>();
  private readonly held = new Map<string, Set<string>>();
  /** Per run, the keys taken from it and by whom, until its next command on them or its end. */
  private readonly takenOver = new Map<string, Map<string, LeaseHolder>>();
  private readonly touchedBy = new Map<string, Set<string>>();

  /** Number of actuators held right now. */
  get size(): number {
    return this.leases.size;
  }

  /**
   * Grants, keeps or takes over the lease of `key` for `holder`, or refuses it. A run whose lease
   * was taken over is refused once with `reason: 'taken_over'` on its next request for that key,
   * even if the key has become free since: it must learn that the actuator changed under it.
   */
  acquire(key: string, holder: LeaseHolder): LeaseResult {
    const lost = this.takenOver.get(holder.runId);
    const takenBy = lost?.get(key);
    if (lost && takenBy) {
      lost.delete(key);
      if (lost.size === 0) this.takenOver.delete(holder.runId);
      return { ok: false, holder: takenBy, reason: 'taken_over' };
    }

    const current = this.leases.get(key);
    if (current === undefined || current.runId === holder.runId) {
      if (current === undefined) this.grant(key, holder);
      return { ok: true };
    }
    // Equal priority never takes over: first come, first served.
    if (current.priority <= holder.priority) return { ok: false, holder: current, reason: 'held' };

    this.dropFrom(this.held, current.runId, key);
    let lostByCurrent = this.takenOver.get(current.runId);
    if (!lostByCurrent) this.takenOver.set(current.runId, (lostByCurrent = new Map()));
    lostByCurrent.set(key, holder);
    this.grant(key, holder);
    return { ok: true, previous: current };
  }

  /** Releases `key` if `runId` holds it; true when it did. */
  release(key: string, runId: string): boolean {
    if (this.leases.get(key)?.runId !== runId) return false;
    this.leases.delete(key);
    this.dropFrom(this.held, runId, key);
    return true;
  }

  /**
   * Releases every lease of `runId` and forgets what was taken from it; returns the keys it held
   * (the actuators its safe state turns OFF). O(keys of that run).
   */
  releaseAll(runId: string): string[] {
    const keys = this.held.get(runId);
    this.held.delete(runId);
    this.takenOver.delete(runId);
    if (!keys) return [];
    for (const key of keys) this.leases.delete(key);
    return [...keys];
  }

  /** Releases everything of `runId` (as {@link releaseAll}) and drops its `touched` record. */
  forget(runId: string): string[] {
    this.touchedBy.delete(runId);
    return this.releaseAll(runId);
  }

  /** The run holding `key`, if any. */
  holderOf(key: string): LeaseHolder | undefined {
    return this.leases.get(key);
  }

  /** The keys `runId` holds now (a copy, so the caller may release while iterating). */
  keysOf(runId: string): string[] {
    return [...(this.held.get(runId) ?? [])];
  }

  /** True when a more important run took `key` from `runId` and `runId` has not been told yet. */
  wasTakenOver(key: string, runId: string): boolean {
    return this.takenOver.get(runId)?.has(key) ?? false;
  }

  /** Every key ever granted to `runId`, until {@link forget}; for emergency stop. */
  touched(runId: string): string[] {
    return [...(this.touchedBy.get(runId) ?? [])];
  }

  /** The union of `touched` over every run not yet forgotten: what an emergency stop turns OFF. */
  allTouched(): Set<string> {
    const all = new Set<string>();
    for (const keys of this.touchedBy.values()) for (const key of keys) all.add(key);
    return all;
  }

  private grant(key: string, holder: LeaseHolder): void {
    this.leases.set(key, holder);
    this.addTo(this.held, holder.runId, key);
    this.addTo(this.touchedBy, holder.runId, key);
  }

  private addTo(index: Map<string, Set<string>>, runId: string, key: string): void {
    let keys = index.get(runId);
    if (!keys) index.set(runId, (keys = new Set()));
    keys.add(key);
  }

  private dropFrom(index: Map<string, Set<string>>, runId: string, key: string): void {
    const keys = index.get(runId);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) index.delete(runId);
  }
}
