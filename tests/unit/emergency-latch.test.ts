import { describe, expect, it } from 'vitest';
import { EmergencyLatch, type LatchState } from '../../src/safety/emergency-latch.ts';

describe('EmergencyLatch', () => {
  it('starts released', () => {
    const latch = new EmergencyLatch();
    expect(latch.active).toBe(false);
    expect(latch.state()).toEqual({ active: false, reason: null, since: null });
  });

  it('trips with reason and time, and clears', () => {
    const latch = new EmergencyLatch();
    expect(latch.trip('flooding in zone 2', 1000)).toBe(true);
    expect(latch.active).toBe(true);
    expect(latch.state()).toEqual({ active: true, reason: 'flooding in zone 2', since: 1000 });
    expect(latch.clear(5000)).toBe(true);
    expect(latch.state()).toEqual({ active: false, reason: null, since: 5000 });
  });

  it('keeps the first stop when tripped again, and ignores a clear while released', () => {
    const changes: LatchState[] = [];
    const latch = new EmergencyLatch({ onChange: (s) => changes.push(s) });
    latch.trip('first', 1);
    expect(latch.trip('second', 2)).toBe(false);
    expect(latch.state()).toEqual({ active: true, reason: 'first', since: 1 });
    latch.clear(3);
    expect(latch.clear(4)).toBe(false);
    expect(changes).toEqual([
      { active: true, reason: 'first', since: 1 },
      { active: false, reason: null, since: 3 },
    ]);
  });

  it('survives a restart through the persisted state', () => {
    let stored: LatchState | undefined;
    new EmergencyLatch({ onChange: (s) => (stored = s) }).trip('pump stuck', 42);
    const revived = new EmergencyLatch({ initial: stored });
    expect(revived.active).toBe(true);
    expect(revived.state()).toEqual({ active: true, reason: 'pump stuck', since: 42 });
  });

  it('stays tripped when persisting fails, and reports the failure', () => {
    const latch = new EmergencyLatch({
      onChange: () => {
        throw new Error('disk full');
      },
    });
    expect(() => latch.trip('smoke', 7)).toThrow('disk full');
    expect(latch.active).toBe(true);
  });

  it('hands out copies, so callers cannot change the latch behind its back', () => {
    const latch = new EmergencyLatch();
    latch.trip('x', 1);
    const snapshot = latch.state() as { active: boolean };
    snapshot.active = false;
    expect(latch.active).toBe(true);
  });
});
