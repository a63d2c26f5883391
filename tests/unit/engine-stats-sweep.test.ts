import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Codes } from '../../src/domain/errors.ts';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { engineHarness } from '../helpers/engine.harness.ts';

describe('engine: ended runs leave memory', () => {
  let h: ReturnType<typeof engineHarness>;
  let dropped: string[];
  beforeEach(() => {
    vi.useFakeTimers();
    dropped = [];
    h = engineHarness({ onRunDropped: (id) => dropped.push(id) });
  });
  afterEach(async () => {
    await h.engine.close();
    vi.useRealTimers();
  });

  it('as soon as their history row is committed; get, lookups by sequence_id and controls then read the store', async () => {
    const early = h.engine.start(definition([actuatorStep()], { sequence_id: 'early' }));
    const waiting = h.engine.start(definition([delayStep(60)], { sequence_id: 'waiting' }));
    await vi.advanceTimersByTimeAsync(100);

    expect(dropped).toEqual([early.run_id]);
    const atEnd = await h.engine.get(early.run_id);
    expect(atEnd).toMatchObject({ run_id: early.run_id, status: 'completed', step_results: [{ success: true }] });
    expect(await h.engine.get('early')).toEqual(atEnd);
    expect(await h.engine.snapshot(early.run_id)).toBeNull();
    await expect(h.engine.pause(early.run_id)).rejects.toMatchObject({ code: Codes.INVALID_STATE });
    // A running run stays.
    expect(dropped).not.toContain(waiting.run_id);
    expect(await h.engine.snapshot(waiting.run_id)).toMatchObject({ status: 'active' });
  });

  it('a run cancelled while queued leaves memory too, and reads back as cancelled', async () => {
    h.engine.start(definition([delayStep(60)], { sequence_id: 'q', mode: 'queued' }));
    const queued = h.engine.start(definition([delayStep(1)], { sequence_id: 'q', mode: 'queued' }));
    await h.engine.cancel(queued.run_id, 'not today');
    await vi.advanceTimersByTimeAsync(10);
    expect(dropped).toEqual([queued.run_id]);
    expect(await h.engine.get(queued.run_id)).toMatchObject({ status: 'cancelled', error: 'not today' });
  });
});

describe('engine: the history of an engine given no store', () => {
  afterEach(() => vi.useRealTimers());

  it('keeps about the newest `historyRuns` ended runs (a tenth more at most), the oldest leave first', async () => {
    vi.useFakeTimers();
    const h = engineHarness({ latencyMs: 0, historyRuns: 10 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) {
        ids.push(h.engine.start(definition([actuatorStep()], { sequence_id: `r-${i}` })).run_id);
        await vi.advanceTimersByTimeAsync(5);
      }
      await vi.advanceTimersByTimeAsync(100);
      const page = await h.engine.list({ limit: 100, offset: 0 });
      expect(page.total).toBeGreaterThanOrEqual(10);
      expect(page.total).toBeLessThanOrEqual(11);
      expect(await h.engine.get(ids[0] as string)).toBeUndefined();
      expect(await h.engine.get(ids[29] as string)).toMatchObject({ status: 'completed' });
    } finally {
      await h.engine.close();
    }
  });
});

describe('engine: stats', () => {
  let h: ReturnType<typeof engineHarness>;
  beforeEach(() => {
    vi.useFakeTimers();
    h = engineHarness();
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
