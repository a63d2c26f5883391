/**
 * Conditions (SPEC 2.1) as an operator writes them: every problem is 5620 at its own JSON path, and
 * evaluation in three values, where a missing, old, bad or stale reading is unknown and unknown
 * never satisfies a condition.
 */
import { describe, expect, it } from 'vitest';
import type { Condition } from '../../src/conditions/condition.schema.ts';
import { describeCondition, evaluateCondition, type Reading } from '../../src/conditions/evaluate-condition.ts';
import { DEFAULT_LIMITS } from '../../src/domain/definition.schema.ts';
import { validateDefinition } from '../../src/domain/validate-definition.ts';
import { SimDriver } from '../../src/drivers/sim.driver.ts';
import { builtinExecutors } from '../../src/executors/builtin-executors.ts';
import { repeatExecutor } from '../../src/executors/repeat.executor.ts';
import { sequenceExecutor } from '../../src/executors/sequence.executor.ts';
import { actuatorStep, delayStep } from '../helpers/definition.builder.ts';

const actions = builtinExecutors(new SimDriver()).register(sequenceExecutor(async () => 'done')).register(repeatExecutor(async () => 'done'));
const soil = { esp_id: 'ESP_1', gpio: 34 };

function problems(steps: unknown[], more: Record<string, unknown> = {}) {
  const result = validateDefinition({ steps, ...more }, { limits: DEFAULT_LIMITS, actions });
  return result.ok ? [] : result.errors.map(({ path, code }) => ({ path, code }));
}

const waitFor = (condition: unknown, more: Record<string, unknown> = {}) => ({ name: 'Until moist', wait_for: { condition, ...more } });

describe('condition validation', () => {
  it('accepts every operator, signals and all / any / not three levels deep', () => {
    const leaves = [
      { sensor: soil, above: 40 },
      { sensor: soil, below: 10, max_age_seconds: 30 },
      { sensor: soil, at_least: 1 },
      { sensor: soil, at_most: 2 },
      { sensor: soil, equals: 1 },
      { sensor: soil, between: [20, 30] },
      { signal: 'tank_full' },
    ];
    expect(problems([waitFor({ all: [{ any: [{ not: leaves[0] }, ...leaves.slice(1, 3)] }, ...leaves.slice(3)] })])).toEqual([]);
  });

  it('reports each problem as 5620 at its own path, inside when, wait_for and repeat.until', () => {
    const steps = [
      actuatorStep({ when: { sensor: { esp_id: 'ESP_1', gpio: 300 }, above: 1 } }),
      waitFor({ all: [{ sensor: soil }, { sensor: soil, above: 1, below: 2 }, { signal: '' }, { colour: 'red' }, { sensor: soil, above: 1, extra: 1 }] }),
      waitFor({ not: { any: [{ not: { all: [{ signal: 'x' }] } }] } }),
      waitFor({ any: [] }),
      waitFor({ sensor: { esp_id: 'ESP/1', gpio: 1 }, between: [5, 1] }),
      { action: { type: 'repeat', steps: [delayStep(1)], count: 2, until: { signal: 'x', sensor: soil } } },
      waitFor('moist'),
    ];
    expect(problems(steps)).toEqual([
      { path: 'steps[0].when.sensor.gpio', code: 5620 },
      { path: 'steps[1].wait_for.condition.all[0]', code: 5620 },
      { path: 'steps[1].wait_for.condition.all[1]', code: 5620 },
      { path: 'steps[1].wait_for.condition.all[2].signal', code: 5620 },
      { path: 'steps[1].wait_for.condition.all[3]', code: 5620 },
      { path: 'steps[1].wait_for.condition.all[4].extra', code: 5620 },
      { path: 'steps[2].wait_for.condition.not.any[0].not', code: 5620 },
      { path: 'steps[3].wait_for.condition.any', code: 5620 },
      { path: 'steps[4].wait_for.condition.sensor.esp_id', code: 5620 },
      { path: 'steps[4].wait_for.condition.between', code: 5620 },
      { path: 'steps[6].wait_for.condition', code: 5620 },
      { path: 'steps[5].action.until', code: 5620 },
    ]);
  });

  it('allows 10 leaves and refuses the 11th at its path', () => {
    const leaf = { signal: 's' };
    expect(problems([waitFor({ any: Array(10).fill(leaf) })])).toEqual([]);
    expect(problems([waitFor({ any: Array(11).fill(leaf) })])).toEqual([{ path: 'steps[0].wait_for.condition.any[10]', code: 5620 }]);
  });

  it('checks the wait itself: a missing condition is 5620, its timing fields 5602, and it stands alone', () => {
    expect(problems([{ wait_for: { timeout_seconds: 10 } }])).toEqual([{ path: 'steps[0].wait_for.condition', code: 5620 }]);
    expect(problems([waitFor({ signal: 's' }, { timeout_seconds: 0, for_seconds: 3601, on_timeout: 'retry' })])).toEqual([
      { path: 'steps[0].wait_for.for_seconds', code: 5602 },
      { path: 'steps[0].wait_for.timeout_seconds', code: 5602 },
      { path: 'steps[0].wait_for.on_timeout', code: 5602 },
    ]);
    expect(problems([{ ...waitFor({ signal: 's' }), action: { type: 'delay', seconds: 1 }, timeout_seconds: 5, on_failure: 'continue' }])).toEqual([
      { path: 'steps[0].action', code: 5602 },
      { path: 'steps[0].timeout_seconds', code: 5602 },
      { path: 'steps[0].on_failure', code: 5602 },
    ]);
    expect(problems([delayStep(1)], { cleanup_steps: [waitFor({ signal: 's' })] })).toEqual([{ path: 'cleanup_steps[0].wait_for', code: 5602 }]);
  });

  it('counts a wait toward the declared waiting of 5607 with its timeout', () => {
    expect(problems([waitFor({ signal: 's' }, { timeout_seconds: 600 })], { max_duration_seconds: 600 })).toEqual([]);
    expect(problems([waitFor({ signal: 's' }, { timeout_seconds: 601 })], { max_duration_seconds: 600 })).toEqual([{ path: 'max_duration_seconds', code: 5607 }]);
  });

  it('checks a repeat: count or until, count within max_iterations, its steps one level deeper, counted once toward 50 steps', () => {
    const repeat = (more: Record<string, unknown>) => ({ name: 'Again', action: { type: 'repeat', steps: [delayStep(1), delayStep(1)], ...more } });
    expect(problems([repeat({ count: 3 })])).toEqual([]);
    expect(problems([repeat({})])).toEqual([{ path: 'steps[0].action.count', code: 5602 }]);
    expect(problems([repeat({ count: 11 })])).toEqual([{ path: 'steps[0].action.count', code: 5602 }]);
    expect(problems([repeat({ count: 2, max_iterations: 101 })])).toEqual([{ path: 'steps[0].action.max_iterations', code: 5602 }]);
    expect(problems([{ action: { type: 'repeat', count: 2, steps: [delayStep(5000)] } }])).toEqual([{ path: 'steps[0].action.steps[0].delay_seconds', code: 5605 }]);
    const body = Array.from({ length: 25 }, () => delayStep(1));
    const around = Array.from({ length: 24 }, () => delayStep(1));
    expect(problems([...around, { action: { type: 'repeat', count: 100, max_iterations: 100, steps: body } }])).toEqual([]);
    expect(problems([...around, delayStep(1), { action: { type: 'repeat', count: 2, steps: body } }])).toEqual([{ path: 'steps', code: 5606 }]);
  });
});

/** Evaluates `condition` with `readings` at `now` (ms) and the signals named. */
function evaluate(condition: Condition, readings: Reading[], now = 100_000, signals: string[] = []) {
  return evaluateCondition(condition, {
    readings: { reading: (esp, gpio) => readings.find((r) => r.esp_id === esp && r.gpio === gpio) },
    hasSignal: (name) => signals.includes(name),
    now,
  });
}

const reading = (value: number, at = 90_000, more: Partial<Reading> = {}): Reading => ({ esp_id: 'ESP_1', gpio: 34, value, unit: '%', quality: 'good', at, ...more });

describe('condition evaluation', () => {
  it.each([
    [{ above: 40 }, 41, 40],
    [{ below: 40 }, 39, 40],
    [{ at_least: 40 }, 40, 39.9],
    [{ at_most: 40 }, 40, 40.1],
    [{ equals: 1 }, 1, 0],
    [{ between: [20, 30] }, 30, 30.5],
  ])('%j holds at %d and not at %d', (operator, yes, no) => {
    const condition = { sensor: soil, ...operator } as Condition;
    expect(evaluate(condition, [reading(yes)]).truth).toBe('true');
    expect(evaluate(condition, [reading(no)]).truth).toBe('false');
  });

  it('names the value that satisfied it, and until when it stands without a new reading', () => {
    expect(evaluate({ sensor: soil, above: 40 }, [reading(41.2, Date.UTC(2026, 0, 1, 12, 3, 5))], Date.UTC(2026, 0, 1, 12, 3, 6))).toEqual({
      truth: 'true',
      until: Date.UTC(2026, 0, 1, 12, 5, 5),
      message: 'ESP_1:34 = 41.2 % at 12:03:05',
    });
  });

  it('is unknown without a reading, with one older than max_age_seconds, or of quality bad or stale', () => {
    const moist = { sensor: soil, above: 40 } as Condition;
    expect(evaluate(moist, [])).toMatchObject({ truth: 'unknown', until: null, message: 'ESP_1:34 has no reading' });
    expect(evaluate(moist, [reading(50, 0)], 120_000)).toMatchObject({ truth: 'unknown', message: expect.stringMatching(/older than 120 s$/) });
    expect(evaluate(moist, [reading(50, 0)], 119_999).truth).toBe('true');
    expect(evaluate({ ...moist, max_age_seconds: 5 } as Condition, [reading(50, 90_000)], 95_000).truth).toBe('unknown');
    expect(evaluate(moist, [reading(50, 90_000, { quality: 'bad' })]).truth).toBe('unknown');
    expect(evaluate(moist, [reading(50, 90_000, { quality: 'stale' })]).truth).toBe('unknown');
    expect(evaluate(moist, [reading(50, 90_000, { quality: 'fair' })]).truth).toBe('true');
  });

  it('combines in three values: unknown never satisfies, not of unknown is unknown', () => {
    const known = { sensor: soil, above: 40 } as Condition;
    const missing = { sensor: { esp_id: 'ESP_9', gpio: 1 }, above: 0 } as Condition;
    const r = [reading(50)];
    expect(evaluate({ not: missing }, r).truth).toBe('unknown');
    expect(evaluate({ all: [known, missing] }, r).truth).toBe('unknown');
    expect(evaluate({ any: [known, missing] }, r).truth).toBe('true');
    expect(evaluate({ all: [{ not: known }, missing] }, r).truth).toBe('false');
    expect(evaluate({ any: [{ not: known }, missing] }, r).truth).toBe('unknown');
    expect(evaluate({ not: known }, r).truth).toBe('false');
  });

  it('reads the signals the run received', () => {
    expect(evaluate({ signal: 'tank_full' }, [], 0, ['tank_full'])).toMatchObject({ truth: 'true', until: null, message: 'signal tank_full received' });
    expect(evaluate({ all: [{ signal: 'tank_full' }, { not: { signal: 'stop' } }] }, [], 0, ['tank_full']).truth).toBe('true');
    expect(evaluate({ signal: 'tank_full' }, [], 0, []).truth).toBe('false');
  });

  it('stands, by ageing, as long as its support: all until the first ages out, any until the last', () => {
    const a = { sensor: soil, above: 0 } as Condition;
    const b = { sensor: { esp_id: 'ESP_1', gpio: 35 }, above: 0 } as Condition;
    const r = [reading(1, 10_000), reading(1, 50_000, { gpio: 35 })];
    expect(evaluate({ all: [a, b] }, r).until).toBe(130_000);
    expect(evaluate({ any: [a, b] }, r).until).toBe(170_000);
    expect(evaluate({ any: [a, { signal: 'x' }] }, r, 100_000, ['x']).until).toBeNull();
  });

  it('describes a condition in words for the step that waits on it', () => {
    expect(describeCondition({ all: [{ sensor: soil, above: 40 }, { not: { signal: 'stop' } }] } as Condition)).toBe('ESP_1:34 above 40 and not (signal stop)');
  });
});
