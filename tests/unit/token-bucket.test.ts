import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/safety/token-bucket.ts';

function clock(start = 0) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('TokenBucket', () => {
  it('lets a burst equal to the rate through, then refuses', () => {
    const c = clock();
    const bucket = new TokenBucket(20, c.now);
    for (let i = 0; i < 20; i++) expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
  });

  it('refills one token per 1/rate seconds, exactly', () => {
    const c = clock();
    const bucket = new TokenBucket(20, c.now);
    for (let i = 0; i < 20; i++) bucket.tryTake();
    expect(bucket.msUntilToken()).toBe(50);
    c.t = 49;
    expect(bucket.tryTake()).toBe(false);
    expect(bucket.msUntilToken()).toBe(1);
    c.t = 50;
    expect(bucket.msUntilToken()).toBe(0);
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
  });

  it('never holds more than its burst however long it idles', () => {
    const c = clock();
    const bucket = new TokenBucket(5, c.now);
    c.t = 60_000;
    let taken = 0;
    while (bucket.tryTake()) taken++;
    expect(taken).toBe(5);
  });

  it('tells how long until several tokens have come', () => {
    const c = clock();
    const bucket = new TokenBucket(10, c.now);
    for (let i = 0; i < 10; i++) bucket.tryTake();
    expect(bucket.msUntilTokens(3)).toBe(300);
    c.t = 150;
    expect(bucket.msUntilTokens(3)).toBe(150);
  });

  it('reports full only once it has refilled to its burst', () => {
    const c = clock();
    const bucket = new TokenBucket(10, c.now);
    expect(bucket.isFull()).toBe(true);
    bucket.tryTake();
    expect(bucket.isFull()).toBe(false);
    c.t = 100;
    expect(bucket.isFull()).toBe(true);
  });

  it('treats rate 0 as unlimited', () => {
    const bucket = new TokenBucket(0, clock().now);
    for (let i = 0; i < 10_000; i++) expect(bucket.tryTake()).toBe(true);
    expect(bucket.msUntilToken()).toBe(0);
    expect(bucket.unlimited).toBe(true);
  });

  it('holds at least one token when the rate is below one per second', () => {
    const c = clock();
    const bucket = new TokenBucket(0.5, c.now);
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
    expect(bucket.msUntilToken()).toBe(2000);
  });

  it('mints no extra tokens when the clock steps back and forward again', () => {
    const c = clock(1000);
    const bucket = new TokenBucket(10, c.now);
    for (let i = 0; i < 10; i++) bucket.tryTake();
    c.t = 0;
    expect(bucket.tryTake()).toBe(false);
    c.t = 1100;
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
  });

  it('rejects a negative or non-finite rate', () => {
    expect(() => new TokenBucket(-1)).toThrow(RangeError);
    expect(() => new TokenBucket(Number.NaN)).toThrow(RangeError);
    expect(() => new TokenBucket(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});
