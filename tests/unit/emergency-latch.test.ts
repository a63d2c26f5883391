import { describe, expect, it } from 'vitest';
import { EmergencyLatch, MAX_HISTORY, type LatchPress, type LatchState } from '../../src/safety/emergency-latch.ts';

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

  it('adds the reason of every stop pressed while latched to its history, with its time, and empties it when cleared', () => {
    const histories: LatchPress[][] = [];
    const latch = new EmergencyLatch({ onHistory: (h) => histories.push(h) });
    expect(latch.history()).toEqual([]);
    latch.trip('Leak in hall 2', 1000);
    expect(latch.trip('Pump 3 still running', 4000)).toBe(false);
    expect(latch.state()).toEqual({ active: true, reason: 'Leak in hall 2', since: 1000 });
    expect(latch.history()).toEqual([
      { reason: 'Leak in hall 2', at: 1000 },
      { reason: 'Pump 3 still running', at: 4000 },
    ]);
    latch.clear(9000);
    expect(latch.history()).toEqual([]);
    latch.trip('Smoke', 10_000);
    expect(histories).toEqual([
      [{ reason: 'Leak in hall 2', at: 1000 }],
      [{ reason: 'Leak in hall 2', at: 1000 }, { reason: 'Pump 3 still running', at: 4000 }],
      [],
      [{ reason: 'Smoke', at: 10_000 }],
    ]);
  });

  it('brings its history back after a restart, or the one reason of a latch stored before histories existed', () => {
    const initial = { active: true, reason: 'first', since: 5 };
    const history = [{ reason: 'first', at: 5 }, { reason: 'second', at: 6 }];
    expect(new EmergencyLatch({ initial, history }).history()).toEqual(history);
    expect(new EmergencyLatch({ initial }).history()).toEqual([{ reason: 'first', at: 5 }]);
    expect(new EmergencyLatch({ initial: { active: false, reason: null, since: 5 }, history }).history()).toEqual([]);
  });

  it('keeps the first press and the latest ones when a stuck button presses it without end', () => {
    const latch = new EmergencyLatch();
    for (let i = 0; i < MAX_HISTORY + 50; i++) latch.trip(`press ${i}`, i);
    const history = latch.history();
    expect(history).toHaveLength(MAX_HISTORY);
    expect(history[0]).toEqual({ reason: 'press 0', at: 0 });
    expect(history[1]).toEqual({ reason: 'press 51', at: 51 });
    expect(history.at(-1)).toEqual({ reason: `press ${MAX_HISTORY + 49}`, at: MAX_HISTORY + 49 });
  });
});
