import { describe, expect, it, vi } from 'vitest';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { useEngineHarness } from '../helpers/engine.harness.ts';

describe('engine: starting and the events of a run', () => {
  const h = useEngineHarness();

  it('starting returns at once with status running, before any step has finished', async () => {
    const started = h.engine.start(definition([actuatorStep(), delayStep(5)], { sequence_id: 'irrigation' }));
    expect(started).toMatchObject({ success: true, sequence_id: 'irrigation', total_steps: 2, status: 'running' });
    expect(started.run_id).toMatch(/^run-/);
    expect(h.events.steps(started.run_id)).toEqual(['0:starting']);
    const progress = (await h.engine.get(started.run_id));
    expect(progress).toMatchObject({ status: 'running', state: 'running.executing', current_step: 0, step_results: [] });
  });

  it('gives each run an id that sorts after those of runs started before it (a UUIDv7)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(h.engine.start(definition([delayStep(1)], { sequence_id: `zone-${i}` })).run_id);
      await vi.advanceTimersByTimeAsync((i + 1) * 7_000);
    }
    for (const id of ids) expect(id).toMatch(/^run-[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
  });

  it('publishes sequence_started first, starting before completed per step, and one sequence_completed last', async () => {
    const { run_id } = h.engine.start(definition([actuatorStep(), delayStep(1), actuatorStep({ delay_before_seconds: 1 })]));
    await vi.advanceTimersByTimeAsync(5000);
    const types = h.events.types(run_id);
    expect(types[0]).toBe('sequence_started');
    expect(types[types.length - 1]).toBe('sequence_completed');
    expect(types.filter((t) => t === 'sequence_completed')).toHaveLength(1);
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:completed', '1:starting', '1:completed', '2:starting', '2:completed']);
    const all = h.events.of(run_id);
    expect(all[all.length - 1]?.type).toBe('sequence_completed');
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed', success: true, steps_completed: 3, steps_failed: 0, error: null, error_code: null });
  });

  it('numbers events with a seq that rises by exactly one and stamps when each happened', async () => {
    const start = Date.now();
    h.engine.start(definition([actuatorStep(), delayStep(2)]));
    h.engine.start(definition([actuatorStep({}, 'ESP_2')]));
    await vi.advanceTimersByTimeAsync(3000);
    const seqs = h.events.all.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    const stamps = h.events.all.map((e) => e.timestamp);
    expect([...stamps].sort((a, b) => a - b)).toEqual(stamps);
    expect(stamps[0]).toBe(start / 1000);
    expect(stamps[stamps.length - 1]).toBeCloseTo((start + 2020) / 1000, 3);
  });

  it('publishes a sequence_state event for every transition with the previous state', async () => {
    const { run_id } = h.engine.start(definition([delayStep(1)]));
    await vi.advanceTimersByTimeAsync(1000);
    const states = h.events.ofType('sequence_state', run_id).map((e) => [e.data.previous_state, e.data.state, e.data.event]);
    expect(states).toEqual([
      ['idle', 'running.delaying', 'START'],
      ['running.delaying', 'completed', 'WAKE'],
    ]);
  });

  it('reports progress percent on step events and 100 when the run completes', async () => {
    const { run_id } = h.engine.start(definition([actuatorStep(), actuatorStep()]));
    await vi.advanceTimersByTimeAsync(100);
    const completed = h.events.ofType('sequence_step', run_id).filter((e) => e.data.status === 'completed');
    expect(completed.map((e) => e.data.progress_percent)).toEqual([50, 100]);
    expect(await h.engine.get(run_id)).toMatchObject({ status: 'completed', progress_percent: 100, current_step_name: null, duration_seconds: 0.04 });
  });

  it('a websocket notification step publishes a notification event with its placeholders filled', async () => {
    const { run_id } = h.engine.start(
      definition([{ name: 'Tell', action: { type: 'notification', title: '{sequence_id}', message: 'Step {step_name} of {rule_name}', severity: 'warning' } }], {
        sequence_id: 'greenhouse',
      }),
      { context: { rule_name: 'Frost rule' } },
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(h.events.ofType('notification', run_id).map((e) => e.data)).toEqual([
      { sequence_id: 'greenhouse', run_id, title: 'greenhouse', message: 'Step Tell of Frost rule', severity: 'warning', step_name: 'Tell' },
    ]);
    expect((await h.engine.get(run_id))?.status).toBe('completed');
  });

  it('a listener that throws is reported and never stops the run', async () => {
    h.engine.events.subscribe(() => {
      throw new Error('bad listener');
    });
    const { run_id } = h.engine.start(definition([actuatorStep()]));
    await vi.advanceTimersByTimeAsync(100);
    expect((await h.engine.get(run_id))?.status).toBe('completed');
    expect(h.errors.some((e) => e.message === 'event listener failed')).toBe(true);
  });

  it('shows the estimated completion of a running run from its declared waits', async () => {
    const { run_id } = h.engine.start(definition([delayStep(10), delayStep(5, { delay_after_seconds: 2 })]));
    const progress = (await h.engine.get(run_id));
    expect(progress?.estimated_completion).toBe(new Date(Date.now() + 17_000).toISOString());
    expect(progress?.current_step_name).toBe('Wait 10 s');
  });

  it('keeps the start context on the run', async () => {
    const { run_id } = h.engine.start(definition([delayStep(1)]), {
      context: { rule_id: 'r-1', rule_name: 'Frost', triggered_by: 'rule', trigger_data: { t: -1 } },
    });
    expect(await h.engine.get(run_id)).toMatchObject({ rule_id: 'r-1', rule_name: 'Frost', context: { triggered_by: 'rule', trigger_data: { t: -1 } } });
  });

  it('gives the persisted XState snapshot of a run', async () => {
    const { run_id } = h.engine.start(definition([delayStep(10)]));
    expect(await h.engine.snapshot(run_id)).toMatchObject({ status: 'active', value: { running: 'delaying' } });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await h.engine.snapshot(run_id)).toMatchObject({ status: 'done', value: 'completed' });
    await expect(h.engine.snapshot('nope')).rejects.toThrow(expect.objectContaining({ code: 5611 }));
  });

  it('lists runs newest first with counts by status', async () => {
    const a = h.engine.start(definition([actuatorStep()]));
    // A millisecond apart: runs started in the same one are ordered by run_id, as the store keeps them.
    vi.setSystemTime(Date.now() + 1);
    const b = h.engine.start(definition([delayStep(100)]));
    await vi.advanceTimersByTimeAsync(100);
    const list = await h.engine.list({ limit: 10, offset: 0 });
    expect(list.items.map((p) => p.run_id)).toEqual([b.run_id, a.run_id]);
    expect(list).toMatchObject({ total: 2, running: 1, completed: 1, failed: 0 });
    expect((await h.engine.list({ limit: 10, offset: 0, running_only: true })).items.map((p) => p.run_id)).toEqual([b.run_id]);
    expect((await h.engine.list({ limit: 10, offset: 0, status: 'completed' })).items.map((p) => p.run_id)).toEqual([a.run_id]);
    expect((await h.engine.list({ limit: 1, offset: 1 })).items.map((p) => p.run_id)).toEqual([a.run_id]);
  });
});
