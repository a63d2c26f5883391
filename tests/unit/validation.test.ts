import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type DefinitionLimits } from '../../src/domain/definition.schema.ts';
import { formatPath, validateDefinition, type TemplateResolver } from '../../src/domain/validate-definition.ts';
import { SimDriver } from '../../src/drivers/sim.driver.ts';
import { builtinExecutors } from '../../src/executors/builtin-executors.ts';
import { sequenceExecutor } from '../../src/executors/sequence.executor.ts';
import { actuatorStep, definition, delayStep } from '../helpers/definition.builder.ts';

const actions = builtinExecutors(new SimDriver()).register(sequenceExecutor(async () => 'done'));

function problems(input: unknown, options: { limits?: DefinitionLimits; templates?: TemplateResolver } = {}) {
  const result = validateDefinition(input, { limits: options.limits ?? DEFAULT_LIMITS, actions, templates: options.templates });
  return result.ok ? [] : result.errors.map(({ path, code }) => ({ path, code }));
}

describe('definition validation: one code per problem, with its JSON path', () => {
  it('accepts a valid definition and fills the defaults', () => {
    const result = validateDefinition(definition([actuatorStep(), delayStep(5, { delay_after_seconds: 2 })]), { limits: DEFAULT_LIMITS, actions });
    expect(result).toMatchObject({
      ok: true,
      estimatedSeconds: 7,
      definition: { type: 'sequence', abort_on_failure: true, max_duration_seconds: 3600, mode: 'single', priority: 100, cleanup_steps: [] },
    });
  });

  it('5600: a malformed top-level field, or something that is not an object', () => {
    expect(problems(definition([delayStep(1)], { mode: 'sometimes' }))).toEqual([{ path: 'mode', code: 5600 }]);
    expect(problems(definition([delayStep(1)], { max_duration_seconds: 0 }))).toEqual([{ path: 'max_duration_seconds', code: 5600 }]);
    expect(problems(definition([delayStep(1)], { surprise: true }))).toEqual([{ path: 'surprise', code: 5600 }]);
    expect(problems(null)).toEqual([{ path: '', code: 5600 }]);
    expect(problems('steps')).toEqual([{ path: '', code: 5600 }]);
  });

  it('names each unknown key by its own path, with the code of where it sits', () => {
    const input = definition([delayStep(1, { colour: 'red' }), actuatorStep({ action: { type: 'delay', seconds: 1, extra: 1 } })], { surprise: true, also: 1 });
    expect(problems(input)).toEqual(expect.arrayContaining([
      { path: 'surprise', code: 5600 },
      { path: 'also', code: 5600 },
      { path: 'steps[0].colour', code: 5602 },
      { path: 'steps[1].action.extra', code: 5602 },
    ]));
  });

  it('5601: a sequence without steps', () => {
    expect(problems({ steps: [] })).toEqual([{ path: 'steps', code: 5601 }]);
    expect(problems({ description: 'no steps at all' })).toEqual([{ path: 'steps', code: 5601 }]);
    expect(problems({ steps: 'three' })).toEqual([{ path: 'steps', code: 5602 }]);
  });

  it('5602: a malformed step field or action payload', () => {
    expect(problems(definition([delayStep(1, { timeout_seconds: 0 })]))).toEqual([{ path: 'steps[0].timeout_seconds', code: 5602 }]);
    expect(problems(definition([delayStep(1, { retry_count: 11 })]))).toEqual([{ path: 'steps[0].retry_count', code: 5602 }]);
    expect(problems(definition([delayStep(1), actuatorStep({ action: { type: 'actuator', esp_id: 'E', gpio: 40, command: 'ON' } })]))).toEqual([
      { path: 'steps[1].action.gpio', code: 5602 },
    ]);
    expect(problems(definition([actuatorStep({ action: { type: 'actuator', esp_id: 'E', gpio: 1, command: 'PWM' } })]))).toEqual([
      { path: 'steps[0].action.value', code: 5602 },
    ]);
    expect(problems(definition([{ action: { type: 'notification', channel: 'webhook', message: 'hi' } }]))).toEqual([
      { path: 'steps[0].action.target', code: 5602 },
    ]);
  });

  it('5603: an action type that no executor handles, internal types included', () => {
    expect(problems(definition([delayStep(1), delayStep(1), { action: { type: 'teleport' } }]))).toEqual([{ path: 'steps[2].action.type', code: 5603 }]);
    expect(problems(definition([{ action: { type: 'safe_state' } }]))).toEqual([{ path: 'steps[0].action.type', code: 5603 }]);
  });

  it('5604: a step with neither action nor delay_seconds', () => {
    expect(problems(definition([delayStep(1), { name: 'Nothing' }]))).toEqual([{ path: 'steps[1]', code: 5604 }]);
  });

  it('5605: a delay field outside 0..3600 s, delay actions included', () => {
    expect(problems(definition([delayStep(1), delayStep(1), delayStep(1), delayStep(3601)]))).toEqual([{ path: 'steps[3].delay_seconds', code: 5605 }]);
    expect(problems(definition([delayStep(1, { delay_before_seconds: -1 })]))).toEqual([{ path: 'steps[0].delay_before_seconds', code: 5605 }]);
    expect(problems(definition([delayStep(1, { delay_after_seconds: 4000 })]))).toEqual([{ path: 'steps[0].delay_after_seconds', code: 5605 }]);
    expect(problems(definition([{ action: { type: 'delay', seconds: -1 } }]))).toEqual([{ path: 'steps[0].action.seconds', code: 5605 }]);
  });

  it('5606: more steps than the limit', () => {
    expect(problems({ steps: Array.from({ length: 51 }, () => delayStep(1)) })).toEqual([{ path: 'steps', code: 5606 }]);
    expect(problems({ steps: Array.from({ length: 3 }, () => delayStep(1)) }, { limits: { ...DEFAULT_LIMITS, maxSteps: 2 } })).toEqual([
      { path: 'steps', code: 5606 },
    ]);
  });

  it('5607: declared waiting above max_duration_seconds, delay actions included', () => {
    expect(problems(definition([delayStep(20), { action: { type: 'delay', seconds: 20 } }], { max_duration_seconds: 30 }))).toEqual([
      { path: 'max_duration_seconds', code: 5607 },
    ]);
    expect(problems(definition([delayStep(30)], { max_duration_seconds: 30 }))).toEqual([]);
  });

  it('5607: delay_seconds beside an action waits nothing, so it does not count', () => {
    expect(problems(definition([actuatorStep({ delay_seconds: 60 })], { max_duration_seconds: 30 }))).toEqual([]);
  });

  it('5607: the server maximum caps the definition maximum', () => {
    expect(problems(definition([delayStep(100)], { max_duration_seconds: 600 }), { limits: { ...DEFAULT_LIMITS, maxDurationSeconds: 60 } })).toEqual([
      { path: 'max_duration_seconds', code: 5607 },
    ]);
  });

  it('5618: nesting deeper than 3 levels, at the path of the too-deep action', () => {
    const wrap = (inner: Record<string, unknown>) => ({ action: { type: 'sequence', steps: [inner] } });
    expect(problems(definition([wrap(wrap(delayStep(1)))]))).toEqual([]);
    expect(problems(definition([wrap(wrap(wrap(delayStep(1))))]))).toEqual([{ path: 'steps[0].action.steps[0].action.steps[0].action', code: 5618 }]);
  });

  it('5618: a template that reaches itself', () => {
    const templates: TemplateResolver = {
      resolve: (name) => ({ definition: { steps: [{ action: { type: 'sequence', template: name } }] } }),
    };
    expect(problems(definition([{ action: { type: 'sequence', template: 'loop' } }]), { templates })).toEqual([
      { path: 'steps[0].action.steps[0].action.steps[0].action', code: 5618 },
    ]);
  });

  it('reports template problems at the path of the nested action', () => {
    const templates: TemplateResolver = { resolve: () => ({ errors: [{ path: 'params.zone', code: 5600, message: 'missing' }] }) };
    expect(problems(definition([{ action: { type: 'sequence', template: 'zone' } }]), { templates })).toEqual([
      { path: 'steps[0].action.params.zone', code: 5600 },
    ]);
  });

  it('reports problems inside nested inline sequences with their full path', () => {
    expect(problems(definition([{ action: { type: 'sequence', steps: [delayStep(1), delayStep(9999)] } }]))).toEqual([
      { path: 'steps[0].action.steps[1].delay_seconds', code: 5605 },
    ]);
  });

  it('reports every problem at once', () => {
    const bad = {
      mode: 'often',
      steps: [delayStep(5000), { name: 'Nothing' }, { action: { type: 'teleport' } }, actuatorStep({ action: { type: 'actuator', esp_id: 'E', gpio: 99, command: 'ON' } })],
      cleanup_steps: [{ delay_before_seconds: 1 }],
    };
    expect(problems(bad)).toEqual(
      expect.arrayContaining([
        { path: 'mode', code: 5600 },
        { path: 'steps[0].delay_seconds', code: 5605 },
        { path: 'steps[1]', code: 5604 },
        { path: 'steps[2].action.type', code: 5603 },
        { path: 'steps[3].action.gpio', code: 5602 },
        { path: 'cleanup_steps[0]', code: 5604 },
      ]),
    );
  });

  it('formats zod paths as SPEC 3 shows them', () => {
    expect(formatPath(['steps', 3, 'delay_seconds'])).toBe('steps[3].delay_seconds');
    expect(formatPath([])).toBe('');
  });
});
