/**
 * When each run must be woken, in one queue under one Node timer. Every run waits for a deadline
 * (its wait, its attempt's timeout, its max duration); a Node timer per run cost ~200 B of heap a
 * run (the `Timeout`, its arguments, its times) and, as every run's wait has a length of its
 * own, one of Node's timer lists each. The queue is a binary heap ordered by deadline; a run knows
 * its place in it, so re-arming or disarming a run is O(log n).
 */

/** What the queue holds: its deadline (Unix ms) and its place in the queue, kept by the queue. */
export interface Wakeable {
  /** The deadline the run is queued for; null when it is not queued. */
  armedAt: number | null;
  /** Its index in the queue's heap; -1 when it is not queued. */
  slot: number;
}

/** The deadlines of many runs under one timer, armed for the earliest. */
export class WakeQueue<T extends Wakeable> {
  readonly #heap: T[] = [];
  readonly #now: () => number;
  readonly #wake: (item: T) => void;
  #timer: NodeJS.Timeout | null = null;
  /** The deadline the timer is armed for (Infinity: none). */
  #timerAt = Infinity;

  /** `wake` is called for each item whose deadline has come, out of the queue by then. */
  constructor(now: () => number, wake: (item: T) => void) {
    this.#now = now;
    this.#wake = wake;
  }

  /** Queues `item` for `at`, moves it there, or (null) takes it out of the queue. */
  set(item: T, at: number | null): void {
    if (at === item.armedAt) return;
    if (item.slot >= 0) this.#remove(item);
    if (at !== null) {
      item.armedAt = at;
      item.slot = this.#heap.length;
      this.#heap.push(item);
      this.#up(item.slot);
    }
    this.#arm();
  }

  /** The timer came: every item due is taken out of the queue, then woken (one re-armed for now waits for the next timer). */
  readonly #fire = (): void => {
    this.#timer = null;
    this.#timerAt = Infinity;
    const now = this.#now();
    const due: T[] = [];
    while (this.#heap.length > 0 && ((this.#heap[0] as T).armedAt as number) <= now) {
      const item = this.#heap[0] as T;
      this.#remove(item);
      due.push(item);
    }
    this.#arm();
    for (let i = 0; i < due.length; i++) {
      try {
        this.#wake(due[i] as T);
      } catch (error) {
        // A defect in one wake-up does not lose the runs after it: they wait for the next timer.
        for (const rest of due.slice(i + 1)) this.set(rest, now);
        throw error;
      }
    }
  };

  /** The timer is armed for the earliest deadline (a timer fires at most a hair early: the items stay queued then). */
  #arm(): void {
    const head = this.#heap[0];
    const at = head === undefined ? Infinity : (head.armedAt as number);
    if (at === this.#timerAt) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = at === Infinity ? null : setTimeout(this.#fire, Math.max(0, at - this.#now()));
  }

  #remove(item: T): void {
    const slot = item.slot;
    const last = this.#heap.pop() as T;
    item.slot = -1;
    item.armedAt = null;
    if (last === item) return;
    this.#heap[slot] = last;
    last.slot = slot;
    this.#down(slot);
    this.#up(last.slot);
  }

  #up(slot: number): void {
    const heap = this.#heap;
    const item = heap[slot] as T;
    const at = item.armedAt as number;
    while (slot > 0) {
      const parentSlot = (slot - 1) >> 1;
      const parent = heap[parentSlot] as T;
      if ((parent.armedAt as number) <= at) break;
      heap[slot] = parent;
      parent.slot = slot;
      slot = parentSlot;
    }
    heap[slot] = item;
    item.slot = slot;
  }

  #down(slot: number): void {
    const heap = this.#heap;
    const item = heap[slot] as T;
    const at = item.armedAt as number;
    for (;;) {
      let child = 2 * slot + 1;
      if (child >= heap.length) break;
      const right = child + 1;
      if (right < heap.length && ((heap[right] as T).armedAt as number) < ((heap[child] as T).armedAt as number)) child = right;
      const next = heap[child] as T;
      if ((next.armedAt as number) >= at) break;
      heap[slot] = next;
      next.slot = slot;
      slot = child;
    }
    heap[slot] = item;
    item.slot = slot;
  }
}
