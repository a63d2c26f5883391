/**
 * What `sequencer run` says about a step's time: the waits a definition gives each step, and the
 * elapsed and remaining time the bar shows for a delay and for a wait on a condition.
 */
import { describe, expect, it } from 'vitest';
import { stepLine, stepTime, timingOf } from '../../src/cli/progress-view.ts';
import { DEFAULT_LIMITS, definitionSchema } from '../../src/domain/definition.schema.ts';
import type { SequenceEvents } from '../../src/events/event-types.ts';

const definition = definitionSchema(DEFAULT_LIMITS).parse({
  steps: [
    { name: 'Wait', delay_seconds: 6 },
    { name: 'Pause', action: { type: 'delay', seconds: 4 } },
    { name: 'Valve', action: { type: 'actuator_command', esp_id: 'E', gpio: 1, command: 'ON' }, delay_before_seconds: 10, timeout_seconds: 5 },
    { name: 'Notify', action: { type: 'notification', message: 'x' } },
  ],
  cleanup_steps: [{ name: 'Drain', delay_seconds: 1, delay_after_seconds: 2 }],
});

const step = (over: Partial<SequenceEvents['sequence_step']>): SequenceEvents['sequence_step'] => ({
  sequence_id: 's',
  run_id: 'r',
  status: 'starting',
  phase: 'steps',
  step: 0,
  step_name: 'Wait',
  total_steps: 4,
  progress_percent: 0,
  success: null,
  message: '',
  duration_ms: null,
  error_code: null,
  attempt: 0,
  ...over,
});

describe('step timing', () => {
  it('adds up the waits of each step: its delay or delay action, and its delays before and after', () => {
    const timing = timingOf(definition);
    expect([0, 1, 2, 3].map((index) => timing('steps', index))).toEqual([
      { waitSeconds: 6, timeoutSeconds: 30 },
      { waitSeconds: 4, timeoutSeconds: 30 },
      { waitSeconds: 10, timeoutSeconds: 5 },
      { waitSeconds: 0, timeoutSeconds: 30 },
    ]);
    expect(timing('cleanup', 0)).toEqual({ waitSeconds: 3, timeoutSeconds: 30 });
    expect(timing('cleanup', 1)).toBeNull();
  });

  it('shows elapsed and remaining time of a wait, the time to give up of a wait on a condition, and elapsed time otherwise', () => {
    expect(stepTime(1_200, { waitSeconds: 6, timeoutSeconds: 30 }, false)).toBe('1.2 s elapsed, 4.8 s left');
    expect(stepTime(7_000, { waitSeconds: 6, timeoutSeconds: 30 }, false)).toBe('7.0 s elapsed, 0 ms left');
    expect(stepTime(2_500, { waitSeconds: 0, timeoutSeconds: 30 }, true)).toBe('waiting 2.5 s, gives up in 27.5 s');
    expect(stepTime(300, { waitSeconds: 0, timeoutSeconds: 30 }, false)).toBe('300 ms elapsed');
    expect(stepTime(300, null, false)).toBe('300 ms elapsed');
  });

  it('writes a line for every step event, a start with the wait it holds', () => {
    expect(stepLine(step({}), { waitSeconds: 6, timeoutSeconds: 30 })).toBe('start   1/4  Wait  (waits 6 s)');
    expect(stepLine(step({ step: 3, step_name: 'Notify' }), { waitSeconds: 0, timeoutSeconds: 30 })).toBe('start   4/4  Notify');
    expect(stepLine(step({ status: 'waiting' as 'starting', message: 'soil 31 % < 40 %' }))).toBe('waiting 1/4  Wait  soil 31 % < 40 %');
    expect(stepLine(step({ status: 'completed', success: true, message: 'Waited 6 s', duration_ms: 6000 }))).toBe('ok      1/4  Wait  Waited 6 s  6.0 s');
  });
});
