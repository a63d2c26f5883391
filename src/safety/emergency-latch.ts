/**
 * The emergency-stop latch (SPEC sections 7 and 10). Once tripped it stays tripped until an
 * operator clears it, across restarts when its `onChange` persists the state. It only holds the
 * state; cancelling runs, turning actuators OFF and refusing commands and starts is the caller's.
 */

/** The latch state. `since` is when the current state began (Unix ms); null before the first change. */
export interface LatchState {
  readonly active: boolean;
  readonly reason: string | null;
  readonly since: number | null;
}

/** Options of {@link EmergencyLatch}. */
export interface EmergencyLatchOptions {
  /** The state to start in, e.g. as persisted before a restart. Default: not active. */
  initial?: LatchState;
  /**
   * Called after every change with the new state, to persist it. Default: none. If it throws, the
   * change still stands (a stop must not fail because storage did) and the error reaches the
   * caller of `trip` / `clear`.
   */
  onChange?: (state: LatchState) => void;
}

const RELEASED: LatchState = { active: false, reason: null, since: null };

/** Holds whether an emergency stop is active, why and since when. */
export class EmergencyLatch {
  private current: LatchState;
  private readonly onChange: ((state: LatchState) => void) | undefined;

  /** A latch in `options.initial`, or released. */
  constructor(options: EmergencyLatchOptions = {}) {
    this.current = { ...(options.initial ?? RELEASED) };
    this.onChange = options.onChange;
  }

  /** True while commands and starts must be refused with 5642. */
  get active(): boolean {
    return this.current.active;
  }

  /**
   * Trips the latch. Returns false, changing nothing, when already active: the first stop's reason
   * and time are the ones the operator needs, and a second press must not hide them.
   */
  trip(reason: string, now: number): boolean {
    if (this.current.active) return false;
    this.set({ active: true, reason, since: now });
    return true;
  }

  /** Clears the latch. Returns false, changing nothing, when it was not active. */
  clear(now: number): boolean {
    if (!this.current.active) return false;
    this.set({ active: false, reason: null, since: now });
    return true;
  }

  /** A copy of the current state. */
  state(): LatchState {
    return { ...this.current };
  }

  private set(state: LatchState): void {
    this.current = state;
    this.onChange?.({ ...state });
  }
}
