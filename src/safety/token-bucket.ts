/**
 * A token bucket (SPEC section 10, rate limits). It refills lazily from an injectable clock when
 * asked, so an idle bucket costs no timer and no CPU, and thousands of them cost only memory.
 */

/** A clock in milliseconds. Injectable so tests and callers measure deadlines on the same time. */
export type Clock = () => number;

/**
 * The level is kept in thousandths of a token: refilling at `rate` tokens per second then adds
 * exactly `rate` units per millisecond, so integer rates on an integer clock never drift by a
 * floating-point rounding error (a bucket at 20/s has a token after 50 ms, not after 51).
 */
const UNITS_PER_TOKEN = 1000;

/** The late-bound default clock, so fake timers installed after construction are still seen. */
const systemClock: Clock = () => Date.now();

/**
 * A bucket holding at most `max(1, rate)` tokens (burst = rate) that refills at `rate` tokens per
 * second. Rate 0 means unlimited: every take succeeds. Every method is O(1).
 */
export class TokenBucket {
  /** Tokens per second; 0 = unlimited. */
  readonly ratePerSecond: number;
  /** The most tokens the bucket holds (the burst); at least 1 so a rate below 1/s still lets one through. */
  readonly capacity: number;
  private readonly now: Clock;
  private level: number;
  private last: number;

  /** A full bucket. Throws a RangeError for a negative or non-finite rate. */
  constructor(ratePerSecond: number, now: Clock = systemClock) {
    if (!Number.isFinite(ratePerSecond) || ratePerSecond < 0) {
      throw new RangeError(`token bucket rate must be a finite number >= 0, got ${ratePerSecond}`);
    }
    this.ratePerSecond = ratePerSecond;
    this.capacity = Math.max(1, ratePerSecond);
    this.now = now;
    this.level = this.capacity * UNITS_PER_TOKEN;
    this.last = now();
  }

  /** True when the rate is 0, i.e. the bucket never refuses. */
  get unlimited(): boolean {
    return this.ratePerSecond === 0;
  }

  /** Takes one token if there is one; false (and nothing taken) otherwise. */
  tryTake(): boolean {
    if (this.unlimited) return true;
    this.refill();
    if (this.level < UNITS_PER_TOKEN) return false;
    this.level -= UNITS_PER_TOKEN;
    return true;
  }

  /** Milliseconds until a token is available; 0 when one is available now. */
  msUntilToken(): number {
    return this.msUntilTokens(1);
  }

  /**
   * Milliseconds until `count` tokens will have been available in total, assuming nothing else is
   * taken meanwhile: a lower bound on when the `count`-th waiter in line can be served.
   */
  msUntilTokens(count: number): number {
    if (this.unlimited) return 0;
    this.refill();
    const missing = count * UNITS_PER_TOKEN - this.level;
    return missing <= 0 ? 0 : Math.ceil(missing / this.ratePerSecond);
  }

  /** True when the bucket is full, i.e. indistinguishable from a new one and safe to drop. */
  isFull(): boolean {
    if (this.unlimited) return true;
    this.refill();
    return this.level >= this.capacity * UNITS_PER_TOKEN;
  }

  private refill(): void {
    const t = this.now();
    // A clock that steps back must not mint tokens twice once it moves forward again.
    if (t <= this.last) return;
    this.level = Math.min(this.capacity * UNITS_PER_TOKEN, this.level + (t - this.last) * this.ratePerSecond);
    this.last = t;
  }
}
