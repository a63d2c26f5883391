import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { engineHarness } from '../helpers/engine.harness.ts';

describe('engine: retention sweep', () => {
  let h: ReturnType<typeof engineHarness>;
  let dropped: string[];
  beforeEach(() => {
    vi.useFakeTimers();
    dropped = [];
    h = engineHarness({ limits: { retentionMs: 10_000, sweepIntervalMs: 3000 }, onRunDropped: (id) => dropped.push(id) });
  });
  afterEach(async () => {
    await h.engine.close();
    vi.useRealTimers();
  });

  it("terminal runs leave memory on the registry's timer once their retention has passed; get then reads the store", async () => {
    const early = h.engine.start(definition([actuatorStep()], { sequence_id: 'early' }));
    await vi.advanceTimersByTimeAsync(4000);
    const late = h.engine.start(definition([actuatorStep()], { sequence_id: 'late' }));
    await vi.advanceTimersByTimeAsync(100);
    expect((await h.engine.get(early.run_id))?.status).toBe('completed');
    // early ended at 20 ms: its retention ends at 10.02 s, the next sweep after that is at 12 s.
    const before = await h.engine.get(early.run_id);
    await vi.advanceTimersByTimeAsync(12_000 - 4100 - 1);
    expect(await h.engine.snapshot(early.run_id)).toMatchObject({ status: 'done', value: 'completed' });
    expect(dropped).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(dropped).toEqual([early.run_id]);
    // Its actor is gone; its history answers from the store, as it was.
    expect(await h.engine.snapshot(early.run_id)).toBeNull();
    expect(await h.engine.get(early.run_id)).toEqual(before);
    expect((await h.engine.get('early'))?.run_id).toBe(early.run_id);
    expect((await h.engine.get(late.run_id))?.status).toBe('completed');
    await vi.advanceTimersByTimeAsync(3000);
    expect(dropped).toEqual([early.run_id, late.run_id]);
    expect((await h.engine.list({ limit: 10, offset: 0 })).total).toBe(2);
  });

  it('never sweeps a run that has not ended', async () => {
    const { run_id } = h.engine.start(definition([delayStep(60)]));
    await vi.advanceTimersByTimeAsync(30_000);
    expect(h.engine.sweep(Date.now() + 1_000_000)).toBe(0);
    expect((await h.engine.get(run_id))?.status).toBe('running');
  });

  it('sweep(now) drops exactly the runs whose retention has passed and says how many', async () => {
    const a = h.engine.start(definition([actuatorStep()]));
    const b = h.engine.start(definition([actuatorStep({}, 'ESP_2')]));
    await vi.advanceTimersByTimeAsync(100);
    expect(h.engine.sweep(Date.now() + 5000)).toBe(0);
    expect(h.engine.sweep(Date.now() + 10_000)).toBe(2);
    expect(dropped).toEqual([a.run_id, b.run_id]);
    expect(await h.engine.snapshot(a.run_id)).toBeNull();
    expect((await h.engine.get(b.run_id))?.status).toBe('completed');
  });
});

describe('engine: stats', () => {
  let h: ReturnType<typeof engineHarness>;
  beforeEach(() => {
    vi.useFakeTimers();
    h = engineHarness({ limits: { retentionMs: 4 * 3_600_000 } });
    h.driver.configure('ESP_BAD', { fail: true });
  });
  afterEach(async () => {
    await h.engine.close();
    vi.useRealTimers();
  });

  it('before any run every count is zero and there is no average', async () => {
    expect(await h.engine.stats()).toEqual({
      total_sequences: 0,
      running: 0,
      completed_last_hour: 0,
      failed_last_hour: 0,
      average_duration_seconds: null,
      longest_sequence_id: null,
      most_common_failure_step: null,
    });
  });

  it('counts total, running, completed and failed in the last hour, and the average duration', async () => {
    h.engine.start(definition([delayStep(2)], { sequence_id: 'short' }));
    h.engine.start(definition([delayStep(4)], { sequence_id: 'long' }));
    h.engine.start(definition([delayStep(1), actuatorStep({ name: 'Open vent' }, 'ESP_BAD')], { sequence_id: 'broken' }));
    h.engine.start(definition([delayStep(600)], { sequence_id: 'still-running' }));
    await vi.advanceTimersByTimeAsync(5000);
    expect(await h.engine.stats()).toEqual({
      total_sequences: 4,
      running: 1,
      completed_last_hour: 2,
      failed_last_hour: 1,
      average_duration_seconds: (2 + 4 + 1.02) / 3,
      longest_sequence_id: 'long',
      most_common_failure_step: 'Open vent',
    });
  });

  it('runs that ended more than an hour ago leave the hourly counts but stay in the total', async () => {
    h.engine.start(definition([actuatorStep()]));
    h.engine.start(definition([actuatorStep({}, 'ESP_BAD')]));
    await vi.advanceTimersByTimeAsync(100);
    expect(await h.engine.stats()).toMatchObject({ completed_last_hour: 1, failed_last_hour: 1 });
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(await h.engine.stats()).toMatchObject({ total_sequences: 2, completed_last_hour: 0, failed_last_hour: 0, average_duration_seconds: null });
  });
});
