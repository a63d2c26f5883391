/**
 * The wake queue: every run's deadline under one timer. Runs are woken at their deadlines, in
 * deadline order, once each; moving a run's deadline or taking it out of the queue is honoured.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WakeQueue, type Wakeable } from '../../src/engine/wake-queue.ts';
import { useEngineFakeTimers } from '../helpers/fake-clock.ts';

interface Item extends Wakeable {
  name: string;
}

const item = (name: string): Item => ({ name, armedAt: null, slot: -1 });

describe('the wake queue', () => {
  beforeEach(() => useEngineFakeTimers());
  afterEach(() => vi.useRealTimers());

  function queue(): { wakes: WakeQueue<Item>; woken: string[] } {
    const woken: string[] = [];
    const wakes = new WakeQueue<Item>(() => Date.now(), (i) => woken.push(`${i.name}@${Date.now() - start}`));
    return { wakes, woken };
  }
  let start = 0;

  it('wakes many runs at their deadlines, in order, with one timer pending at most', async () => {
    start = Date.now();
    const { wakes, woken } = queue();
    // 200 runs with deadlines in a scrambled order, some sharing one.
    const items = Array.from({ length: 200 }, (_, i) => item(`r${i}`));
    const at = (i: number) => ((i * 37) % 100) * 10 + 10;
    items.forEach((it, i) => wakes.set(it, start + at(i)));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(woken).toHaveLength(200);
    const times = woken.map((w) => Number(w.split('@')[1]));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(woken).toContain(`r1@${at(1)}`);
    expect(items.every((it) => it.armedAt === null && it.slot === -1)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('wakes a run whose deadline moved at the new one, and never a run taken out', async () => {
    start = Date.now();
    const { wakes, woken } = queue();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(item) as [Item, Item, Item, Item];
    wakes.set(a, start + 100);
    wakes.set(b, start + 200);
    wakes.set(c, start + 300);
    wakes.set(d, start + 400);
    wakes.set(d, start + 50);
    wakes.set(a, start + 500);
    wakes.set(b, null);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(woken).toEqual(['d@50', 'c@300', 'a@500']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('wakes a run queued again for the present from its own wake-up once more, by a timer of its own', async () => {
    start = Date.now();
    const woken: string[] = [];
    const again = item('again');
    const wakes: WakeQueue<Item> = new WakeQueue<Item>(
      () => Date.now(),
      (i) => {
        woken.push(`${i.name}@${Date.now() - start}`);
        if (woken.length < 3) {
          const before = woken.length;
          wakes.set(i, Date.now());
          // Not woken within this wake-up (a run that moves nothing would spin): by the next timer.
          expect(woken).toHaveLength(before);
          expect(vi.getTimerCount()).toBe(1);
        }
      },
    );
    wakes.set(again, start + 10);
    await vi.advanceTimersByTimeAsync(20);
    expect(woken.map((w) => w.split('@')[0])).toEqual(['again', 'again', 'again']);
    expect(woken[0]).toBe('again@10');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('still wakes the runs due with one whose wake-up threw, at the next timer', async () => {
    start = Date.now();
    const woken: string[] = [];
    const wakes = new WakeQueue<Item>(
      () => Date.now(),
      (i) => {
        woken.push(i.name);
        if (woken.length === 1) throw new Error('defect');
      },
    );
    for (const name of ['a', 'b', 'c', 'd']) wakes.set(item(name), start + 10);
    await expect(vi.advanceTimersByTimeAsync(10)).rejects.toThrow('defect');
    await vi.advanceTimersByTimeAsync(10);
    expect(woken.sort()).toEqual(['a', 'b', 'c', 'd']);
  });
});
