/**
 * The engine's side of run ownership on a shared store (SPEC 14). Every `renewMs` it renews the
 * leases of the runs it holds, stops the runs it lost (no effect: their new owner drives them now)
 * and claims runs whose leases expired, which recovery then resumes exactly as after a restart.
 * Before an actuator command and before a commit the engine asks `mayDrive()`: once the local
 * lease validity has passed (see `LeaseKeeper`), every run is stopped the same way and forgotten
 * until a renewal succeeds again; their leases then run out and any node, this one included,
 * claims them.
 */
import { LeaseKeeper, type LeaseTimes } from '../cluster/lease-keeper.ts';
import type { ClaimedRun, RunOwnership } from '../store/run-store.ts';

/** What the leases work with. */
export interface RunLeasesParts {
  ownership: RunOwnership;
  times: LeaseTimes;
  /** Stops these runs without effects and forgets them. */
  drop(runIds: readonly string[]): void;
  /** Every top-level run this node drives now. */
  held(): string[];
  /** Restores claimed runs (the recovery path of a restart). */
  recover(runs: ClaimedRun[]): Promise<void>;
  /** How many more runs this node takes. */
  capacity(): number;
  report(error: unknown, message: string): void;
  /** The monotonic clock (tests give their own). */
  now?: () => number;
}

/** Renews, claims and guards this node's runs. */
export class RunLeases {
  readonly #parts: RunLeasesParts;
  readonly #keeper: LeaseKeeper;
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;
  #stopped = false;

  constructor(parts: RunLeasesParts) {
    this.#parts = parts;
    this.#keeper = new LeaseKeeper(parts.times, parts.now);
  }

  /** Starts the renewals (after start-up recovery). */
  start(): void {
    if (!this.#stopped) this.#timer ??= setInterval(() => void this.tick(), this.#parts.times.renewMs);
  }

  /**
   * Stops the renewals. One under way is not waited for (the database may not answer): what it
   * brings back is ignored. Leases this node held then run out.
   */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /**
   * Whether this node may drive its runs now. When its validity has passed, every run it holds
   * is stopped and forgotten first, so nothing of theirs goes out after this answer.
   */
  mayDrive(): boolean {
    if (this.#keeper.valid()) return true;
    const held = this.#parts.held();
    if (held.length > 0) {
      this.#parts.report(new Error('lease validity passed'), `leases not renewed in time: ${held.length} runs stopped on this node, another node takes them over`);
      this.#parts.drop(held);
    }
    return false;
  }

  /** One renewal and claim; a second call while one runs waits for it. */
  tick(): Promise<void> {
    this.#ticking ??= this.#tick().finally(() => {
      this.#ticking = null;
    });
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    const { ownership, report } = this.#parts;
    try {
      const { lost } = await this.#keeper.renew(ownership);
      if (this.#stopped) return;
      if (lost.length > 0) this.#parts.drop(lost);
    } catch (error) {
      report(error, 'lease renewal failed');
      return;
    }
    // A node past its validity drives nothing; it claims again only once a renewal succeeded.
    if (!this.mayDrive()) return;
    try {
      const claimed = await ownership.claimExpired(this.#parts.capacity());
      if (claimed.length > 0 && !this.#stopped) await this.#parts.recover(claimed);
    } catch (error) {
      report(error, 'claiming expired runs failed');
    }
  }
}
