import { describe, expect, it, vi } from 'vitest';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { useEngineHarness } from '../helpers/engine.harness.ts';

describe('engine: shutdown', () => {
  const h = useEngineHarness({ limits: { sweepIntervalMs: 1000 } });

  it('close() stops the sweep and every run timer, and leaves the runs non-terminal', async () => {
    const waiting = h.engine.start(definition([delayStep(60)]));
    const acting = h.engine.start(definition([actuatorStep()]));
    h.driver.configure('ESP_H', { hang: true });
    const hanging = h.engine.start(definition([actuatorStep({}, 'ESP_H')]));
    await vi.advanceTimersByTimeAsync(5);
    expect(vi.getTimerCount()).toBeGreaterThan(1);
    await h.engine.close();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(120_000);
    for (const { run_id } of [waiting, acting, hanging]) {
      expect((await h.engine.get(run_id))?.status).toBe('running');
      expect(h.events.completed(run_id)).toBeUndefined();
    }
    expect(h.errors).toEqual([]);
  });

  it('close() can be called twice', async () => {
    h.engine.start(definition([delayStep(60)]));
    await h.engine.close();
    await expect(h.engine.close()).resolves.toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('after close a start is refused with 5630 and status 503', async () => {
    await h.engine.close();
    expect(() => h.engine.start(definition([delayStep(1)]))).toThrow(expect.objectContaining({ code: 5630, httpStatus: 503 }));
  });
});
