import { describe, expect, it, vi } from 'vitest';
import { SequencerError } from '../../src/domain/errors.ts';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';
import { useEngineHarness } from '../helpers/engine.harness.ts';

/** Whatever engine.start threw (or null). */
function thrownBy(start: () => unknown): unknown {
  try {
    start();
    return null;
  } catch (error) {
    return error;
  }
}

const circular: Record<string, unknown> = { steps: [delayStep(1)] };
circular.self = circular;

const BAD_INPUTS: [string, unknown][] = [
  ['undefined', undefined],
  ['null', null],
  ['a number', 42],
  ['a string', 'steps'],
  ['an array', [delayStep(1)]],
  ['an empty object', {}],
  ['steps that are not a list', { steps: 'x' }],
  ['a null step', { steps: [null] }],
  ['a step that is a number', { steps: [7] }],
  ['a null action', { steps: [{ action: null }] }],
  ['an action that is a string', { steps: [{ action: 'ON' }] }],
  ['an action type that is a number', { steps: [{ action: { type: 5 } }] }],
  ['a nested sequence without steps', { steps: [{ action: { type: 'sequence' } }] }],
  ['a nested sequence with both steps and template', { steps: [{ action: { type: 'sequence', template: 't', steps: [] } }] }],
  ['nested steps that are not a list', { steps: [{ action: { type: 'sequence', steps: 'x' } }] }],
  ['a template when no templates are configured', { steps: [{ action: { type: 'sequence', template: 'irrigate' } }] }],
  ['NaN and Infinity delays', { steps: [{ delay_seconds: Number.NaN }, { delay_seconds: Number.POSITIVE_INFINITY }] }],
  ['a circular object', circular],
  ['a __proto__ key', JSON.parse('{"steps":[{"delay_seconds":1}],"__proto__":{"polluted":true}}')],
  ['a huge list of bad steps', { steps: Array.from({ length: 500 }, () => ({ delay_seconds: -1 })) }],
];

describe('engine: bad definitions never throw anything but a SequencerError', () => {
  const h = useEngineHarness();

  it.each(BAD_INPUTS)('%s is refused with a 56xx SequencerError and starts nothing', (_, input) => {
    const error = thrownBy(() => h.engine.start(input));
    expect(error).toBeInstanceOf(SequencerError);
    const e = error as SequencerError;
    expect(e.code).toBeGreaterThanOrEqual(5600);
    expect(e.code).toBeLessThan(5700);
    expect(e.httpStatus).toBe(422);
    expect(h.engine.runningCount).toBe(0);
    expect(h.events.all).toEqual([]);
    expect(({}) as Record<string, unknown>).not.toHaveProperty('polluted');
  });

  it('the error carries every problem as details and names the first in its code and message', async () => {
    const error = thrownBy(() => h.engine.start(definition([delayStep(9999), { name: 'Nothing' }]))) as SequencerError;
    expect(error.code).toBe(5605);
    expect(error.message).toContain('steps[0].delay_seconds');
    expect(error.details.map((d) => [d.path, d.code])).toEqual([
      ['steps[0].delay_seconds', 5605],
      ['steps[1]', 5604],
    ]);
    expect(error.details.every((d) => typeof d.message === 'string' && d.message.length > 0)).toBe(true);
  });

  it('validate() answers every problem without starting anything, and the estimate when valid', async () => {
    expect(h.engine.validate(definition([delayStep(2), actuatorStep({ delay_before_seconds: 3 })]))).toMatchObject({ ok: true, estimatedSeconds: 5 });
    const result = h.engine.validate({ steps: [] });
    expect(result).toEqual({ ok: false, errors: [expect.objectContaining({ path: 'steps', code: 5601 })] });
    expect(h.engine.runningCount).toBe(0);
  });

  it('a refused start leaves the engine working', async () => {
    thrownBy(() => h.engine.start({ steps: [{ action: { type: 'teleport' } }] }));
    const { run_id } = h.engine.start(definition([actuatorStep()]));
    await vi.advanceTimersByTimeAsync(100);
    expect((await h.engine.get(run_id))?.status).toBe('completed');
  });
});
