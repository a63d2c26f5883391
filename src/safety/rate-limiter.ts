/**
 * Rate limits of SPEC section 10: actuator commands per ESP and in total, and run starts.
 *
 * A command takes one token from its ESP's bucket and one from the global bucket, or waits. Waiters
 * queue FIFO per ESP; ESPs with waiters sit in a heap ordered by when their own bucket has a token,
 * and deadlines sit in a second heap, so one shared timer serves every waiter and every operation
 * is O(log n). With nobody waiting there is no timer at all.
 */
import { Codes, SequencerError } from '../domain/errors.ts';
import { TokenBucket, type Clock } from './token-bucket.ts';

/** Options of {@link CommandRateLimiter}, resolved once at construction. */
export interface CommandRateLimitOptions {
  /** Actuator commands per second over all ESPs (`rate_limits.commands_per_second`); 0 = no limit. Default 100. */
  commandsPerSecond?: number;
  /** Actuator commands per second to one ESP (`rate_limits.commands_per_esp_per_second`); 0 = no limit. Default 20. */
  commandsPerEspPerSecond?: number;
  /** Clock in ms; `deadline` is measured on it. Default `Date.now`. */
  now?: Clock;
}

/** Per-call options of {@link CommandRateLimiter.acquire}. */
export interface AcquireOptions {
  /** Aborting it rejects the wait with `signal.reason` and gives the place in line up. Default: none. */
  signal?: AbortSignal;
  /** Absolute time (ms, on the limiter's clock) by which the token must come. Default: no deadline. */
  deadline?: number;
}

/** Default limits of SPEC section 10. */
export const DEFAULT_RATE_LIMITS = {
  commandsPerSecond: 100,
  commandsPerEspPerSecond: 20,
  startsPerSecond: 200,
} as const;

/** How many ESP lanes each `acquire` inspects for idleness; 2 > 1 new lane per call keeps the map bounded. */
const SWEEP_PER_ACQUIRE = 2;

interface Waiter {
  readonly seq: number;
  readonly lane: Lane;
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
  prev: Waiter | null;
  next: Waiter | null;
  heapIndex: number;
}

interface Lane {
  readonly espId: string;
  readonly bucket: TokenBucket;
  head: Waiter | null;
  tail: Waiter | null;
  live: number;
  /** When the lane's own bucket has a token for its head; exact, since only grants drain it while it has waiters. */
  readyAt: number;
  heapIndex: number;
}

/** A binary min-heap whose items know their index, so removing or re-keying one is O(log n). */
class IndexedHeap<T extends { heapIndex: number }> {
  private readonly items: T[] = [];
  private readonly less: (a: T, b: T) => boolean;

  constructor(less: (a: T, b: T) => boolean) {
    this.less = less;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.up(item.heapIndex);
  }

  remove(item: T): void {
    const i = item.heapIndex;
    if (i < 0) return;
    const last = this.items.pop() as T;
    item.heapIndex = -1;
    if (last === item) return;
    this.items[i] = last;
    last.heapIndex = i;
    this.update(last);
  }

  /** Restores order after `item`'s key changed. */
  update(item: T): void {
    this.up(item.heapIndex);
    this.down(item.heapIndex);
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(this.items[i], this.items[parent])) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < this.items.length && this.less(this.items[left], this.items[least])) least = left;
      if (right < this.items.length && this.less(this.items[right], this.items[least])) least = right;
      if (least === i) return;
      this.swap(i, least);
      i = least;
    }
  }

  private swap(i: number, j: number): void {
    const a = this.items[i];
    const b = this.items[j];
    this.items[i] = b;
    this.items[j] = a;
    a.heapIndex = j;
    b.heapIndex = i;
  }
}

/**
 * Limits actuator commands per ESP and in total. `acquire` resolves once a token of both buckets
 * is taken; waiters for one ESP are served in arrival order, and ESPs compete for the global
 * bucket by how long their head has been ready. Idle ESP buckets are dropped, so memory follows
 * the ESPs commanded in about the last second, not every ESP ever seen.
 */
export class CommandRateLimiter {
  private readonly global: TokenBucket;
  private readonly perEspRate: number;
  private readonly now: Clock;
  private readonly lanes = new Map<string, Lane>();
  private readonly ready = new IndexedHeap<Lane>(
    (a, b) => a.readyAt < b.readyAt || (a.readyAt === b.readyAt && (a.head as Waiter).seq < (b.head as Waiter).seq),
  );
  private readonly deadlines = new IndexedHeap<Waiter>(
    (a, b) => a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq),
  );
  private sweepCursor: Iterator<Lane> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
  private seq = 0;
  private waitingCount = 0;
  private closed = false;

  /** A limiter with the given limits (defaults: 100/s in total, 20/s per ESP). */
  constructor(options: CommandRateLimitOptions = {}) {
    this.now = options.now ?? (() => Date.now());
    this.global = new TokenBucket(options.commandsPerSecond ?? DEFAULT_RATE_LIMITS.commandsPerSecond, this.now);
    this.perEspRate = options.commandsPerEspPerSecond ?? DEFAULT_RATE_LIMITS.commandsPerEspPerSecond;
    // Constructing one bucket validates the per-ESP rate now rather than at the first command.
    void new TokenBucket(this.perEspRate, this.now);
  }

  /** Commands waiting for a token right now. */
  get waiting(): number {
    return this.waitingCount;
  }

  /** ESPs with a bucket in memory (for metrics and to show that idle ones are dropped). */
  get trackedEsps(): number {
    return this.lanes.size;
  }

  /**
   * Resolves when a token for `espId` is taken from both buckets. Rejects with
   * `SequencerError(5641)` naming the limit when the token cannot come by `deadline` (at once when
   * even an empty line ahead could not make it, else at the deadline), with `signal.reason` on
   * abort, and with `SequencerError(5612)` once the limiter is closed.
   */
  acquire(espId: string, options: AcquireOptions = {}): Promise<void> {
    const { signal, deadline = Infinity } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.closed) return Promise.reject(closedError());
    if (this.global.unlimited && this.perEspRate === 0) return Promise.resolve();

    this.sweepIdle();
    // Serve those already due first, so a newcomer never overtakes a waiter whose timer is late.
    this.pump();
    const lane = this.lane(espId);
    if (lane.head === null && lane.bucket.msUntilToken() === 0 && this.global.msUntilToken() === 0) {
      lane.bucket.tryTake();
      this.global.tryTake();
      return Promise.resolve();
    }

    const now = this.now();
    if (now + lane.bucket.msUntilTokens(lane.live + 1) > deadline) {
      return Promise.reject(this.espLimitError(espId));
    }
    if (now + this.global.msUntilToken() > deadline) return Promise.reject(this.globalLimitError());

    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        seq: this.seq++,
        lane,
        deadline,
        resolve,
        reject,
        signal,
        onAbort: null,
        prev: lane.tail,
        next: null,
        heapIndex: -1,
      };
      if (lane.tail) lane.tail.next = waiter;
      else lane.head = waiter;
      lane.tail = waiter;
      lane.live++;
      this.waitingCount++;
      if (lane.live === 1) {
        lane.readyAt = now + lane.bucket.msUntilToken();
        this.ready.push(lane);
      }
      if (deadline !== Infinity) this.deadlines.push(waiter);
      if (signal) {
        waiter.onAbort = () => {
          this.settle(waiter);
          reject(signal.reason);
          this.schedule(this.now());
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.schedule(now);
    });
  }

  /** Idempotent. Stops the timer and rejects every waiter with `SequencerError(5612)`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const lane of this.lanes.values()) {
      while (lane.head) {
        const waiter = lane.head;
        this.settle(waiter);
        waiter.reject(closedError());
      }
    }
    this.lanes.clear();
  }

  private lane(espId: string): Lane {
    let lane = this.lanes.get(espId);
    if (!lane) {
      lane = {
        espId,
        bucket: new TokenBucket(this.perEspRate, this.now),
        head: null,
        tail: null,
        live: 0,
        readyAt: 0,
        heapIndex: -1,
      };
      this.lanes.set(espId, lane);
    }
    return lane;
  }

  /** Grants every waiter that can be served now, rejects those past their deadline, re-arms the timer. */
  private pump(): void {
    const now = this.now();
    for (let lane = this.ready.peek(); lane && lane.readyAt <= now; lane = this.ready.peek()) {
      if (this.global.msUntilToken() > 0) break;
      if (!lane.bucket.tryTake()) {
        // Only a clock that stepped back gets here; re-key instead of spinning.
        lane.readyAt = now + Math.max(1, lane.bucket.msUntilToken());
        this.ready.update(lane);
        continue;
      }
      this.global.tryTake();
      const waiter = lane.head as Waiter;
      this.settle(waiter);
      waiter.resolve();
    }
    for (let waiter = this.deadlines.peek(); waiter && waiter.deadline <= now; waiter = this.deadlines.peek()) {
      // The head of a lane whose own bucket is ready waits only for the global bucket.
      const globalBound = waiter.lane.head === waiter && waiter.lane.readyAt <= now;
      this.settle(waiter);
      waiter.reject(globalBound ? this.globalLimitError() : this.espLimitError(waiter.lane.espId));
    }
    this.schedule(now);
  }

  /** Takes a waiter out of its lane and both heaps; the caller resolves or rejects it. */
  private settle(waiter: Waiter): void {
    const lane = waiter.lane;
    const wasHead = lane.head === waiter;
    if (waiter.prev) waiter.prev.next = waiter.next;
    else lane.head = waiter.next;
    if (waiter.next) waiter.next.prev = waiter.prev;
    else lane.tail = waiter.prev;
    waiter.prev = waiter.next = null;
    lane.live--;
    this.waitingCount--;
    this.deadlines.remove(waiter);
    if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    if (!wasHead) return;
    if (lane.head === null) {
      this.ready.remove(lane);
      return;
    }
    lane.readyAt = this.now() + lane.bucket.msUntilToken();
    this.ready.update(lane);
  }

  /** Arms the one timer for the earliest moment a grant or a deadline can happen; none when idle. */
  private schedule(now: number): void {
    let at = Infinity;
    const lane = this.ready.peek();
    if (lane) at = Math.max(lane.readyAt, now + this.global.msUntilToken());
    const waiter = this.deadlines.peek();
    if (waiter) at = Math.min(at, waiter.deadline);
    if (this.closed || at === this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (at === Infinity) return;
    // At least 1 ms: a timer that fires a hair early must not re-arm itself for 0 ms in a loop.
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.pump();
    }, Math.max(1, Math.ceil(at - now)));
  }

  /** Drops a few idle lanes per call; a full bucket with no waiters equals a fresh one. */
  private sweepIdle(): void {
    for (let i = 0; i < SWEEP_PER_ACQUIRE; i++) {
      this.sweepCursor ??= this.lanes.values();
      const next = this.sweepCursor.next();
      if (next.done) {
        this.sweepCursor = null;
        return;
      }
      const lane = next.value;
      if (lane.head === null && lane.bucket.isFull()) this.lanes.delete(lane.espId);
    }
  }

  private espLimitError(espId: string): SequencerError {
    return espRateLimitError(espId, this.perEspRate);
  }

  private globalLimitError(): SequencerError {
    return totalRateLimitError(this.global.ratePerSecond);
  }
}

/** 5641 for a command to `espId` that gets no token of its `ratePerSecond` before its deadline. */
export function espRateLimitError(espId: string, ratePerSecond: number): SequencerError {
  return new SequencerError(
    Codes.RATE_LIMITED,
    `Rate limit exceeded: ${espId} allows ${ratePerSecond} commands/s and no token is free before the deadline`,
  );
}

/** 5641 for a command that gets no token of the total `ratePerSecond` before its deadline. */
export function totalRateLimitError(ratePerSecond: number): SequencerError {
  return new SequencerError(
    Codes.RATE_LIMITED,
    `Rate limit exceeded: ${ratePerSecond} actuator commands/s in total and no token is free before the deadline`,
  );
}

function closedError(): SequencerError {
  return new SequencerError(Codes.CANCELLED, 'Rate limiter closed while the command waited for a token');
}

/** Limits run starts (SPEC section 10, default 200/s); over the limit a start answers 429/5641. */
export class StartRateLimiter {
  private readonly bucket: TokenBucket;

  /** `startsPerSecond` is `rate_limits.starts_per_second`; 0 = no limit. */
  constructor(startsPerSecond: number = DEFAULT_RATE_LIMITS.startsPerSecond, now?: Clock) {
    this.bucket = new TokenBucket(startsPerSecond, now);
  }

  /** Takes a start token; false means answer 429 with code 5641. */
  tryStart(): boolean {
    return this.bucket.tryTake();
  }

  /** Milliseconds until the next start would be allowed, for a `Retry-After` header. */
  retryAfterMs(): number {
    return this.bucket.msUntilToken();
  }
}
