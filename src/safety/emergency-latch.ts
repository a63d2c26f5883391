/**
 * The emergency-stop latch (SPEC sections 7 and 10). Once tripped it stays tripped until an
 * operator clears it, across restarts when its `onChange` persists the state. Every stop pressed
 * while it holds adds its reason to the latch's history. It only holds the state; cancelling
 * runs, turning actuators OFF and refusing commands and starts is the caller's.
 */

/** The latch state. `since` is when the current state began (Unix ms); null before the first change. */
export interface LatchState {
  readonly active: boolean;
  readonly reason: string | null;
  readonly since: number | null;
}

/** One press of the emergency stop: the operator's own words (null when none were given) and when (Unix ms). */
export interface LatchPress {
  readonly reason: string | null;
  readonly at: number;
}

/** Presses kept per latch: the first one and the latest ones, so a stuck button cannot fill memory. */
export const MAX_HISTORY = 100;

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
  /** The presses of the latch in `initial`, as persisted. Default: its one press, if active. */
  history?: readonly LatchPress[];
  /** Called after every press and clear with the history, to persist it. Default: none. */
  onHistory?: (history: LatchPress[]) => void;
}

const RELEASED: LatchState = { active: false, reason: null, since: null };

/** Holds whether an emergency stop is active, why and since when. */
export class EmergencyLatch {
  private current: LatchState;
  private presses: LatchPress[];
  private readonly onChange: ((state: LatchState) => void) | undefined;
  private readonly onHistory: ((history: LatchPress[]) => void) | undefined;

  /** A latch in `options.initial`, or released. */
  constructor(options: EmergencyLatchOptions = {}) {
    const initial = options.initial ?? RELEASED;
    this.current = { active: initial.active, reason: initial.reason, since: initial.since };
    const first = initial.active ? [{ reason: initial.reason, at: initial.since ?? 0 }] : [];
    this.presses = initial.active ? [...(options.history ?? first)] : [];
    this.onChange = options.onChange;
    this.onHistory = options.onHistory;
  }

  /** True while commands and starts must be refused with 5642. */
  get active(): boolean {
    return this.current.active;
  }

  /**
   * Trips the latch. Returns false when already active: the first stop's reason and time stay the
   * latch's (a second press must not hide them), and the new reason joins the history. `reason`
   * is the operator's own words, null when none were given (never a made-up placeholder).
   */
  trip(reason: string | null, now: number): boolean {
    const active = this.current.active;
    if (!active) this.presses = [];
    this.presses.push({ reason, at: now });
    if (this.presses.length > MAX_HISTORY) this.presses.splice(1, 1);
    if (!active) this.set({ active: true, reason, since: now });
    this.onHistory?.(this.history());
    return !active;
  }

  /** Clears the latch and its history. Returns false, changing nothing, when it was not active. */
  clear(now: number): boolean {
    if (!this.current.active) return false;
    this.presses = [];
    this.set({ active: false, reason: null, since: now });
    this.onHistory?.([]);
    return true;
  }

  /** Every stop pressed since the latch tripped, oldest first (empty while released). */
  history(): LatchPress[] {
    return this.presses.map((press) => ({ ...press }));
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
