/**
 * Signals (SPEC 2.1 and 7) through the engine on fake timers: kept per run until it ends, a signal
 * that came before the wait satisfies it at once, one during the wait ends it, and a signal
 * touches only its own run.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Progress } from '../../src/domain/progress.ts';
import { SequencerError } from '../../src/domain/errors.ts';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { useEngineHarness } from '../helpers/engine.harness.ts';

const h = useEngineHarness({ latencyMs: 0 });
const untilFull = { name: 'Until full', wait_for: { condition: { signal: 'tank_full' }, timeout_seconds: 60 } };
const pumpOff = actuatorStep({ name: 'Pump OFF', action: { type: 'actuator_command', esp_id: 'ESP_1', gpio: 5, command: 'OFF' } });

async function refusal(promise: Promise<unknown>): Promise<SequencerError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(SequencerError);
  return error as SequencerError;
}

describe('a signal', () => {
  it('during the wait satisfies it: announced as sequence_signal, then the wait completes naming it', async () => {
    const { run_id } = h.engine.start(definition([untilFull, pumpOff]));
    await vi.advanceTimersByTimeAsync(5000);
    expect(await h.engine.signal(run_id, 'tank_full', { level_cm: 182 })).toEqual({ success: true, run_id, name: 'tank_full' });
    await vi.advanceTimersByTimeAsync(10);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed' });
    expect(h.events.types(run_id)).toEqual(['sequence_started', 'sequence_step', 'sequence_step', 'sequence_signal', 'sequence_step', 'sequence_step', 'sequence_step', 'sequence_completed']);
    expect(h.events.ofType('sequence_signal', run_id)[0]?.data).toEqual({ sequence_id: expect.any(String), run_id, name: 'tank_full', data: { level_cm: 182 } });
    const progress = (await h.engine.get(run_id)) as Progress;
    expect(progress.step_results[0]).toMatchObject({ success: true, message: 'signal tank_full received' });
  });

  it('received before the wait began satisfies it at once', async () => {
    const { run_id } = h.engine.start(definition([delayStep(10), untilFull, pumpOff]));
    await vi.advanceTimersByTimeAsync(1000);
    await h.engine.signal(run_id, 'tank_full');
    await vi.advanceTimersByTimeAsync(9010);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed' });
    expect(h.events.steps(run_id)).toEqual(['0:starting', '0:completed', '1:starting', '1:waiting', '1:completed', '2:starting', '2:completed']);
  });

  it('of another name leaves the wait waiting', async () => {
    const { run_id } = h.engine.start(definition([untilFull]));
    await h.engine.signal(run_id, 'tank_empty');
    await vi.advanceTimersByTimeAsync(1000);
    expect(((await h.engine.get(run_id)) as Progress).state).toBe('running.waiting');
  });

  it('touches only its own run: another run waiting for the same name goes on waiting', async () => {
    const a = h.engine.start(definition([untilFull], { sequence_id: 'a' }));
    const b = h.engine.start(definition([untilFull], { sequence_id: 'b' }));
    await vi.advanceTimersByTimeAsync(10);
    await h.engine.signal('a', 'tank_full');
    await vi.advanceTimersByTimeAsync(10);
    expect(h.events.completed(a.run_id)).toMatchObject({ status: 'completed' });
    expect(((await h.engine.get(b.run_id)) as Progress).state).toBe('running.waiting');
    expect(h.events.ofType('sequence_signal', b.run_id)).toEqual([]);
  });

  it('to a paused run is kept and satisfies its wait on resume', async () => {
    const { run_id } = h.engine.start(definition([untilFull]));
    await vi.advanceTimersByTimeAsync(10);
    await h.engine.pause(run_id);
    await h.engine.signal(run_id, 'tank_full');
    await vi.advanceTimersByTimeAsync(10);
    expect(((await h.engine.get(run_id)) as Progress).status).toBe('paused');
    await h.engine.resume(run_id);
    await vi.advanceTimersByTimeAsync(10);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed' });
  });

  it('to a run that has ended is refused with 409/5619; to an unknown run with 404/5611', async () => {
    const { run_id } = h.engine.start(definition([delayStep(1)]));
    await vi.advanceTimersByTimeAsync(1010);
    const ended = await refusal(h.engine.signal(run_id, 'x'));
    expect(ended.code).toBe(5619);
    expect(ended.message).toBe(`Run ${run_id} is completed; only a run that has not ended takes signals`);
    expect((await refusal(h.engine.signal('nobody', 'x'))).code).toBe(5611);
  });

  it('beyond the 100 a run keeps is refused with 409/5619 and changes nothing', async () => {
    const { run_id } = h.engine.start(definition([untilFull]));
    for (let i = 0; i < 100; i++) await h.engine.signal(run_id, `s${i}`);
    const refused = await refusal(h.engine.signal(run_id, 'tank_full'));
    expect([refused.code, refused.message]).toEqual([5619, `Run ${run_id} has received 100 signals already; it keeps no more`]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(((await h.engine.get(run_id)) as Progress).state).toBe('running.waiting');
    expect(h.events.ofType('sequence_signal', run_id)).toHaveLength(100);
  });

  it('reaches a wait inside a nested run in flight, and one kept before that run began', async () => {
    const nested = { name: 'Fill', action: { type: 'sequence', steps: [untilFull, { name: 'Then', wait_for: { condition: { signal: 'second' }, timeout_seconds: 60 } }] } };
    const { run_id } = h.engine.start(definition([nested]));
    await h.engine.signal(run_id, 'tank_full');
    await vi.advanceTimersByTimeAsync(10);
    expect(h.events.completed(run_id)).toBeUndefined();
    await h.engine.signal(run_id, 'second');
    await vi.advanceTimersByTimeAsync(10);
    expect(h.events.completed(run_id)).toMatchObject({ status: 'completed' });
  });
});
