import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AnyActorRef } from 'xstate';
import { SequencerError } from '../../src/domain/errors.ts';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { engineHarness, type HarnessOptions, useEngineHarness } from '../helpers/engine.harness.ts';

/** Starts a definition and returns the error it was refused with, or null. */
function refusal(start: () => unknown): unknown {
  try {
    start();
    return null;
  } catch (error) {
    return error;
  }
}

describe('engine: concurrency limit and generated ids', () => {
  let h: ReturnType<typeof engineHarness>;
  const setup = (options: HarnessOptions = {}) => (h = engineHarness(options));
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(async () => {
    await h.engine.close();
    vi.useRealTimers();
  });

  it('a burst of 100 starts in one tick against a limit of 20 admits exactly 20; the others get 5610', async () => {
    setup({ limits: { maxConcurrent: 20 } });
    const outcomes = Array.from({ length: 100 }, (_, i) => refusal(() => h.engine.start(definition([delayStep(10)], { sequence_id: `burst-${i}` }))));
    const refused = outcomes.filter((o) => o !== null);
    expect(outcomes.filter((o) => o === null)).toHaveLength(20);
    expect(refused).toHaveLength(80);
    for (const error of refused) expect(error).toBeInstanceOf(SequencerError);
    expect(refused.every((e) => (e as SequencerError).code === 5610 && (e as SequencerError).httpStatus === 409)).toBe(true);
    expect(h.engine.runningCount).toBe(20);
    expect(h.events.ofType('sequence_started')).toHaveLength(20);
    expect((await h.engine.list({ limit: 500, offset: 0 })).total).toBe(20);
  });

  it('a slot freed by an ended run admits the next start', async () => {
    setup({ limits: { maxConcurrent: 1 } });
    h.engine.start(definition([actuatorStep()]));
    expect(() => h.engine.start(definition([actuatorStep()]))).toThrow(expect.objectContaining({ code: 5610 }));
    await vi.advanceTimersByTimeAsync(100);
    expect(h.engine.runningCount).toBe(0);
    expect(h.engine.start(definition([actuatorStep()])).status).toBe('running');
  });

  it('30 starts without a sequence_id in one tick get 30 distinct seq-xxxxxxxx ids and 30 separate runs', async () => {
    setup();
    const started = Array.from({ length: 30 }, () => h.engine.start(definition([delayStep(1)])));
    const ids = started.map((s) => s.sequence_id);
    for (const id of ids) expect(id).toMatch(/^seq-[0-9a-f]{8}$/);
    expect(new Set(ids).size).toBe(30);
    expect(new Set(started.map((s) => s.run_id)).size).toBe(30);
    for (const s of started) expect((await h.engine.get(s.sequence_id))?.run_id).toBe(s.run_id);
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.events.ofType('sequence_completed').map((e) => e.data.run_id).sort()).toEqual(started.map((s) => s.run_id).sort());
  });

  it('start cost stays flat: runs are not children the registry copies on each spawn', async () => {
    const seen: { registry: AnyActorRef | null } = { registry: null };
    setup({
      inspect: (event) => {
        if (event.type === '@xstate.actor' && (event.actorRef as { logic?: { id?: string } }).logic?.id === 'registry') seen.registry = event.actorRef as AnyActorRef;
      },
    });
    for (let i = 0; i < 300; i++) h.engine.start(definition([delayStep(60)]));
    const registry = seen.registry;
    if (!registry) throw new Error('the registry actor was not seen');
    expect(registry.getSnapshot().value).toBe('active');
    expect(registry.getSnapshot().context.running).toBe(300);
    expect(Object.keys(registry.getSnapshot().children)).toEqual([]);
  });
});

describe('engine: start modes', () => {
  const h = useEngineHarness();

  it('single: a second start while the first runs is refused with 409/5610', async () => {
    h.engine.start(definition([delayStep(10)], { sequence_id: 'zone-1' }));
    const error = refusal(() => h.engine.start(definition([delayStep(10)], { sequence_id: 'zone-1' })));
    expect(error).toMatchObject({ code: 5610, httpStatus: 409 });
  });

  it('single: the same sequence_id starts again once the first run ended', async () => {
    h.engine.start(definition([actuatorStep()], { sequence_id: 'zone-1' }));
    await vi.advanceTimersByTimeAsync(100);
    expect(h.engine.start(definition([actuatorStep()], { sequence_id: 'zone-1' })).status).toBe('running');
  });

  it('parallel: two runs side by side with their own run_id; get by sequence_id gives the newest', async () => {
    const first = h.engine.start(definition([delayStep(10)], { sequence_id: 'fan', mode: 'parallel' }));
    const second = h.engine.start(definition([delayStep(10)], { sequence_id: 'fan', mode: 'parallel' }));
    expect(first.run_id).not.toBe(second.run_id);
    expect((await h.engine.get('fan'))?.run_id).toBe(second.run_id);
    expect((await h.engine.get(first.run_id))?.status).toBe('running');
    expect(h.engine.runningCount).toBe(2);
  });

  it('queued: the second run waits pending and starts when the first ends', async () => {
    const first = h.engine.start(definition([delayStep(2)], { sequence_id: 'pump', mode: 'queued' }));
    const second = h.engine.start(definition([delayStep(2)], { sequence_id: 'pump', mode: 'queued' }));
    expect(second.status).toBe('pending');
    expect((await h.engine.get(second.run_id))?.status).toBe('pending');
    expect(h.events.ofType('sequence_started', second.run_id)).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2000);
    expect((await h.engine.get(first.run_id))?.status).toBe('completed');
    expect((await h.engine.get(second.run_id))?.status).toBe('running');
    const order = h.events.all.filter((e) => e.type === 'sequence_completed' || e.type === 'sequence_started').map((e) => `${e.type}:${(e.data as { run_id: string }).run_id}`);
    expect(order.indexOf(`sequence_completed:${first.run_id}`)).toBeLessThan(order.indexOf(`sequence_started:${second.run_id}`));
    await vi.advanceTimersByTimeAsync(2000);
    expect((await h.engine.get(second.run_id))?.status).toBe('completed');
  });

  it('queued: at most 10 runs wait; the 11th is refused with 409/5610', async () => {
    h.engine.start(definition([delayStep(2)], { sequence_id: 'pump', mode: 'queued' }));
    for (let i = 0; i < 10; i++) expect(h.engine.start(definition([delayStep(2)], { sequence_id: 'pump', mode: 'queued' })).status).toBe('pending');
    const error = refusal(() => h.engine.start(definition([delayStep(2)], { sequence_id: 'pump', mode: 'queued' })));
    expect(error).toMatchObject({ code: 5610, httpStatus: 409 });
  });

  it('queued: a waiting run can be cancelled and never starts', async () => {
    h.engine.start(definition([delayStep(2)], { sequence_id: 'pump', mode: 'queued' }));
    const waiting = h.engine.start(definition([delayStep(2)], { sequence_id: 'pump', mode: 'queued' }));
    await h.engine.cancel(waiting.run_id, 'not needed');
    expect((await h.engine.get(waiting.run_id))?.status).toBe('cancelled');
    expect(h.events.completed(waiting.run_id)).toMatchObject({ status: 'cancelled', error: 'not needed', error_code: 5612 });
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.events.ofType('sequence_started', waiting.run_id)).toHaveLength(0);
  });

  it('restart: the running run is cancelled with reason "restarted" and the new one starts after it ended', async () => {
    const old = h.engine.start(definition([delayStep(60)], { sequence_id: 'light', mode: 'restart' }));
    const fresh = h.engine.start(definition([delayStep(1)], { sequence_id: 'light', mode: 'restart' }));
    await vi.advanceTimersByTimeAsync(0);
    expect(await h.engine.get(old.run_id)).toMatchObject({ status: 'cancelled', error: 'Cancelled: restarted' });
    expect(h.events.ofType('sequence_cancelled', old.run_id).map((e) => e.data.reason)).toEqual(['restarted']);
    expect((await h.engine.get(fresh.run_id))?.status).toBe('running');
    const order = h.events.all.map((e) => `${e.type}:${(e.data as { run_id?: string }).run_id}`);
    expect(order.indexOf(`sequence_completed:${old.run_id}`)).toBeLessThan(order.indexOf(`sequence_started:${fresh.run_id}`));
    expect((await h.engine.get('light'))?.run_id).toBe(fresh.run_id);
  });

  it('restart: a run still waiting from an earlier restart is superseded by the newest one', async () => {
    h.driver.configure('ESP_SLOW', { latency_ms: 500 });
    const old = h.engine.start(definition([delayStep(60)], { sequence_id: 'light', mode: 'restart', cleanup_steps: [actuatorStep({}, 'ESP_SLOW')] }));
    const second = h.engine.start(definition([delayStep(1)], { sequence_id: 'light', mode: 'restart' }));
    const third = h.engine.start(definition([delayStep(1)], { sequence_id: 'light', mode: 'restart' }));
    expect(await h.engine.get(second.run_id)).toMatchObject({ status: 'cancelled' });
    await vi.advanceTimersByTimeAsync(600);
    expect((await h.engine.get(old.run_id))?.status).toBe('cancelled');
    expect(h.events.ofType('sequence_started', second.run_id)).toHaveLength(0);
    expect((await h.engine.get(third.run_id))?.status).toBe('running');
  });
});
