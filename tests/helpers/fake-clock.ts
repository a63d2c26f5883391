/**
 * Fake clocks for tests of the engine and the services: vitest fakes timers and Date, while
 * microtasks and setImmediate stay real (the write-ahead and `app.inject` need them).
 */
import { vi } from 'vitest';

/** Fake clocks for the engine: timers and Date; microtasks and setImmediate stay real. */
export function useEngineFakeTimers(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
}

/**
 * With fake timers installed: fires timers one after the other (each followed by its microtasks)
 * until `promise` settles, and returns its value. Throws when no timer is left to fire.
 */
export async function drive<T>(promise: Promise<T>, maxTimers = 100_000): Promise<T> {
  let settled = false;
  const tracked = promise.finally(() => {
    settled = true;
  });
  await vi.advanceTimersByTimeAsync(0);
  for (let fired = 0; !settled; fired++) {
    if (fired >= maxTimers || vi.getTimerCount() === 0) throw new Error('nothing left to wait for, and the promise is still pending');
    await vi.advanceTimersToNextTimerAsync();
  }
  return tracked;
}
