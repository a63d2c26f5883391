import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Codes, SequencerError } from '../../src/domain/errors.ts';
import { CommandRateLimiter, StartRateLimiter } from '../../src/safety/rate-limiter.ts';

/** Follows a promise so a test can assert whether (and how) it settled without awaiting it. */
function track(promise: Promise<void>) {
  const state: { done: boolean; error: unknown } = { done: false, error: undefined };
  promise.then(
    () => {
      state.done = true;
    },
    (error: unknown) => {
      state.error = error;
    },
  );
  return state;
}

const count = (states: { done: boolean }[]) => states.filter((s) => s.done).length;

describe('CommandRateLimiter', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets 20 of a burst of 50 to one ESP through at once and the rest as tokens come, in order', async () => {
    const limiter = new CommandRateLimiter();
    const order: number[] = [];
    const states = Array.from({ length: 50 }, (_, i) => {
      const p = limiter.acquire('ESP_1');
      void p.then(() => order.push(i));
      return track(p);
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(count(states)).toBe(20);
    expect(limiter.waiting).toBe(30);

    await vi.advanceTimersByTimeAsync(49);
    expect(count(states)).toBe(20);
    await vi.advanceTimersByTimeAsync(1);
    expect(count(states)).toBe(21);

    await vi.advanceTimersByTimeAsync(1450);
    expect(count(states)).toBe(50);
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects at once with 5641 naming the ESP when the queue ahead cannot clear before the deadline', async () => {
    const limiter = new CommandRateLimiter();
    for (let i = 0; i < 20; i++) void limiter.acquire('ESP_1');
    const late = limiter.acquire('ESP_1', { deadline: Date.now() + 49 });
    await expect(late).rejects.toMatchObject({ code: Codes.RATE_LIMITED, message: expect.stringContaining('ESP_1 allows 20 commands/s') });
    expect(limiter.waiting).toBe(0);

    const inTime = track(limiter.acquire('ESP_1', { deadline: Date.now() + 50 }));
    await vi.advanceTimersByTimeAsync(50);
    expect(inTime.done).toBe(true);
  });

  it('rejects a waiter with 5641 naming the global limit when its deadline passes before the global token', async () => {
    const limiter = new CommandRateLimiter({ commandsPerSecond: 2 });
    void limiter.acquire('ESP_A');
    void limiter.acquire('ESP_A');
    const first = track(limiter.acquire('ESP_B', { deadline: 600 }));
    const second = track(limiter.acquire('ESP_C', { deadline: 600 }));
    await vi.advanceTimersByTimeAsync(500);
    expect(first.done).toBe(true);
    expect(second.done).toBe(false);
    expect(second.error).toBeUndefined();

    await vi.advanceTimersByTimeAsync(100);
    expect(second.error).toBeInstanceOf(SequencerError);
    expect((second.error as SequencerError).code).toBe(Codes.RATE_LIMITED);
    expect((second.error as SequencerError).message).toContain('2 actuator commands/s in total');
    expect(limiter.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with the abort reason and gives the place in line to the next waiter', async () => {
    const limiter = new CommandRateLimiter();
    for (let i = 0; i < 20; i++) void limiter.acquire('ESP_1');
    const controller = new AbortController();
    const aborted = track(limiter.acquire('ESP_1', { signal: controller.signal }));
    const next = track(limiter.acquire('ESP_1'));
    const reason = new SequencerError(Codes.CANCELLED, 'cancelled by operator');
    controller.abort(reason);
    await vi.advanceTimersByTimeAsync(0);
    expect(aborted.error).toBe(reason);
    expect(limiter.waiting).toBe(1);

    await vi.advanceTimersByTimeAsync(50);
    expect(next.done).toBe(true);
    expect(aborted.done).toBe(false);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const limiter = new CommandRateLimiter();
    const reason = new Error('gone');
    await expect(limiter.acquire('ESP_1', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('caps commands across ESPs at the global rate and serves the ESPs in turn', async () => {
    const limiter = new CommandRateLimiter({ commandsPerSecond: 100, commandsPerEspPerSecond: 20 });
    const byEsp = new Map<string, ReturnType<typeof track>[]>();
    for (let round = 0; round < 20; round++) {
      for (let esp = 0; esp < 10; esp++) {
        const id = `ESP_${esp}`;
        const list = byEsp.get(id) ?? [];
        list.push(track(limiter.acquire(id)));
        byEsp.set(id, list);
      }
    }
    const all = [...byEsp.values()].flat();
    await vi.advanceTimersByTimeAsync(0);
    expect(count(all)).toBe(100);

    await vi.advanceTimersByTimeAsync(100);
    expect(count(all)).toBe(110);
    for (const list of byEsp.values()) expect(count(list)).toBe(11);

    await vi.advanceTimersByTimeAsync(900);
    expect(count(all)).toBe(200);
  });

  it('rejects waiters in the order of their deadlines, whatever their order of arrival', async () => {
    const limiter = new CommandRateLimiter({ commandsPerSecond: 1 });
    const rejected: string[] = [];
    void limiter.acquire('ESP_X');
    const first = track(limiter.acquire('ESP_1'));
    for (const [esp, deadline] of [['ESP_2', 1900], ['ESP_3', 1500], ['ESP_4', 1200]] as const) {
      limiter.acquire(esp, { deadline }).catch(() => rejected.push(`${esp}@${Date.now()}`));
    }
    await vi.advanceTimersByTimeAsync(1000);
    expect(first.done).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(rejected).toEqual(['ESP_4@1200', 'ESP_3@1500', 'ESP_2@1900']);
  });

  it('serves an ESP that waited only for the global bucket before one that just had a command', async () => {
    const limiter = new CommandRateLimiter({ commandsPerSecond: 1, commandsPerEspPerSecond: 1 });
    void limiter.acquire('ESP_A');
    const again = track(limiter.acquire('ESP_A'));
    const fresh = track(limiter.acquire('ESP_B'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(fresh.done).toBe(true);
    expect(again.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(again.done).toBe(true);
  });

  it('grants nothing early when the clock steps back', async () => {
    let t = 1000;
    const limiter = new CommandRateLimiter({ commandsPerSecond: 0, commandsPerEspPerSecond: 1, now: () => t });
    void limiter.acquire('ESP_A');
    t = 0;
    const waiting = track(limiter.acquire('ESP_A'));
    t = 1000;
    void limiter.acquire('ESP_B');
    await Promise.resolve();
    expect(waiting.done).toBe(false);
    t = 2000;
    void limiter.acquire('ESP_C');
    await Promise.resolve();
    expect(waiting.done).toBe(true);
    limiter.close();
  });

  it('keeps one shared timer however many ESPs have waiters', async () => {
    const limiter = new CommandRateLimiter({ commandsPerEspPerSecond: 1 });
    for (let esp = 0; esp < 30; esp++) {
      void limiter.acquire(`ESP_${esp}`);
      void limiter.acquire(`ESP_${esp}`, { deadline: 5000 + esp });
    }
    await vi.advanceTimersByTimeAsync(0);
    expect(limiter.waiting).toBe(30);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(limiter.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('resolves at once when both rates are 0', async () => {
    const limiter = new CommandRateLimiter({ commandsPerSecond: 0, commandsPerEspPerSecond: 0 });
    const states = Array.from({ length: 1000 }, () => track(limiter.acquire('ESP_1', { deadline: 0 })));
    await vi.advanceTimersByTimeAsync(0);
    expect(count(states)).toBe(1000);
    expect(limiter.trackedEsps).toBe(0);
  });

  it('still applies the global rate when only the per-ESP rate is 0', async () => {
    const limiter = new CommandRateLimiter({ commandsPerSecond: 10, commandsPerEspPerSecond: 0 });
    const states = Array.from({ length: 15 }, () => track(limiter.acquire('ESP_1')));
    await vi.advanceTimersByTimeAsync(0);
    expect(count(states)).toBe(10);
    await vi.advanceTimersByTimeAsync(500);
    expect(count(states)).toBe(15);
  });

  it('grants a token that is free now even when the deadline has passed', async () => {
    const limiter = new CommandRateLimiter();
    await expect(limiter.acquire('ESP_1', { deadline: -1 })).resolves.toBeUndefined();
  });

  it('drops idle ESP buckets so memory stays bounded', () => {
    let t = 0;
    const limiter = new CommandRateLimiter({ commandsPerSecond: 0, now: () => t });
    for (let esp = 0; esp < 1000; esp++) void limiter.acquire(`ESP_${esp}`);
    expect(limiter.trackedEsps).toBe(1000);
    t = 1000;
    for (let i = 0; i < 600; i++) {
      t += 50;
      void limiter.acquire('ESP_hot');
    }
    expect(limiter.trackedEsps).toBeLessThanOrEqual(2);
  });

  it('keeps a bucket that is not yet full, so dropping it never grants extra tokens', async () => {
    let t = 0;
    const limiter = new CommandRateLimiter({ commandsPerSecond: 0, now: () => t });
    for (let i = 0; i < 20; i++) void limiter.acquire('ESP_busy');
    t = 500;
    for (let i = 0; i < 10; i++) void limiter.acquire(`ESP_other_${i}`);
    const first = track(limiter.acquire('ESP_busy', { deadline: t }));
    const extra = Array.from({ length: 10 }, () => track(limiter.acquire('ESP_busy')));
    await Promise.resolve();
    expect(first.done).toBe(true);
    expect(count(extra)).toBe(9);
    limiter.close();
  });

  it('rejects every waiter and stops its timer on close, and close can be called twice', async () => {
    const limiter = new CommandRateLimiter({ commandsPerEspPerSecond: 1 });
    void limiter.acquire('ESP_1');
    const waiting = track(limiter.acquire('ESP_1'));
    limiter.close();
    limiter.close();
    await vi.advanceTimersByTimeAsync(0);
    expect((waiting.error as SequencerError).code).toBe(Codes.CANCELLED);
    expect(vi.getTimerCount()).toBe(0);
    await expect(limiter.acquire('ESP_2')).rejects.toMatchObject({ code: Codes.CANCELLED });
  });

  it('rejects a negative rate at construction', () => {
    expect(() => new CommandRateLimiter({ commandsPerEspPerSecond: -1 })).toThrow(RangeError);
  });
});

describe('StartRateLimiter', () => {
  it('allows 200 starts at once by default, then refuses until a token comes', () => {
    let t = 0;
    const starts = new StartRateLimiter(undefined, () => t);
    for (let i = 0; i < 200; i++) expect(starts.tryStart()).toBe(true);
    expect(starts.tryStart()).toBe(false);
    expect(starts.retryAfterMs()).toBe(5);
    t = 5;
    expect(starts.tryStart()).toBe(true);
  });

  it('never refuses at rate 0', () => {
    const starts = new StartRateLimiter(0);
    for (let i = 0; i < 5000; i++) expect(starts.tryStart()).toBe(true);
  });
});
