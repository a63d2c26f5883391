import { describe, expect, it } from 'vitest';
import { Codes } from '../../src/domain/errors.ts';
import { checkParams, fillTemplate, findPlaceholders, sampleValues } from '../../src/templates/fill-template.ts';
import { ParamSpecSchema, TemplateBodySchema } from '../../src/templates/template.schema.ts';

/** A template body as stored, its param specs parsed (defaults filled in). */
function template(body: Record<string, unknown>) {
  return TemplateBodySchema.parse(body);
}

const flush = template({
  sequence_id: 'flush-{{zone}}',
  description: 'Flush zone {{zone}} for {{seconds}} s',
  params: {
    zone: { type: 'string', required: true, min: 1, max: 20 },
    gpio: { type: 'integer', required: true, min: 0, max: 39 },
    seconds: { type: 'number', default: 30, min: 1, max: 600 },
    notify: { type: 'boolean', default: true },
  },
  steps: [
    { name: 'Open {{zone}}', action: { type: 'actuator_command', esp_id: 'ESP_{{zone}}', gpio: '{{gpio}}', command: 'ON' } },
    { name: 'Flush', delay_seconds: '{{ seconds }}' },
    { name: 'Tell', action: { type: 'notification', channel: 'websocket', title: 'Flushed', message: '{{zone}}: {{seconds}} s, notify={{notify}}', leave: '{{notify}}' } },
  ],
});

describe('filling a template', () => {
  it('gives a whole-string placeholder the typed value: a number stays a number, a boolean a boolean', () => {
    const filled = fillTemplate(flush, { zone: 'A1', gpio: 5, seconds: 12.5 }) as { definition: any };
    expect(filled.definition.steps[0].action.gpio).toBe(5);
    expect(filled.definition.steps[1].delay_seconds).toBe(12.5);
    expect(filled.definition.steps[2].action.leave).toBe(true);
  });

  it('stringifies placeholders inside longer strings, anywhere in the definition', () => {
    const filled = fillTemplate(flush, { zone: 'A1', gpio: 5, seconds: 12.5, notify: false }) as { definition: any };
    expect(filled.definition.sequence_id).toBe('flush-A1');
    expect(filled.definition.description).toBe('Flush zone A1 for 12.5 s');
    expect(filled.definition.steps[0]).toMatchObject({ name: 'Open A1', action: { esp_id: 'ESP_A1' } });
    expect(filled.definition.steps[2].action.message).toBe('A1: 12.5 s, notify=false');
    expect(filled.definition).not.toHaveProperty('params');
  });

  it('fills parameters not given with their defaults', () => {
    const filled = fillTemplate(flush, { zone: 'B', gpio: 0 }) as { definition: any };
    expect(filled.definition.steps[1].delay_seconds).toBe(30);
    expect(filled.definition.steps[2].action.leave).toBe(true);
  });

  it('leaves out a field an optional parameter without value fills alone, and empties it inside a string', () => {
    const body = template({
      params: { note: { type: 'string' } },
      description: '{{note}}',
      steps: [{ name: 'Wait{{note}}', delay_seconds: 1 }],
    });
    const filled = fillTemplate(body, {}) as { definition: any };
    expect(filled.definition).not.toHaveProperty('description');
    expect(filled.definition.steps[0].name).toBe('Wait');
  });

  it('reports a missing required parameter as 5600 at params.<name>', () => {
    expect(fillTemplate(flush, { gpio: 5 })).toEqual({
      errors: [{ path: 'params.zone', code: Codes.INVALID_DEFINITION, message: "Missing required parameter 'zone' (string)" }],
    });
  });

  it.each([
    ['gpio', '5', "Parameter 'gpio' must be an integer, got string \"5\""],
    ['gpio', 2.5, "Parameter 'gpio' must be an integer, got number 2.5"],
    ['seconds', 'ten', "Parameter 'seconds' must be a number, got string \"ten\""],
    ['notify', 1, "Parameter 'notify' must be a boolean, got number 1"],
    ['zone', null, "Parameter 'zone' must be a string, got null"],
  ])('reports an ill-typed %s = %j as 5600 naming the parameter', (name, value, message) => {
    const params = { zone: 'A', gpio: 5, [name]: value };
    expect(fillTemplate(flush, params)).toEqual({ errors: [{ path: `params.${name}`, code: Codes.INVALID_DEFINITION, message }] });
  });

  it.each([
    ['gpio', 40, "Parameter 'gpio' must be at most 39, got 40"],
    ['gpio', -1, "Parameter 'gpio' must be at least 0, got -1"],
    ['seconds', 0.5, "Parameter 'seconds' must be at least 1, got 0.5"],
    ['zone', 'z'.repeat(21), `Parameter 'zone' must be at most 20 characters long, got "${'z'.repeat(21)}"`],
    ['zone', '', `Parameter 'zone' must be at least 1 character long, got ""`],
  ])('reports %s = %j outside min/max as 5600 naming the parameter', (name, value, message) => {
    const params = { zone: 'A', gpio: 5, [name]: value };
    expect(fillTemplate(flush, params)).toEqual({ errors: [{ path: `params.${name}`, code: Codes.INVALID_DEFINITION, message }] });
  });

  it('reports every problem at once, unknown parameters included', () => {
    const result = checkParams(flush.params, { zone: 7, gpoi: 5 });
    expect('errors' in result && result.errors.map((e) => e.path)).toEqual(['params.gpoi', 'params.zone', 'params.gpio']);
  });

  it('refuses params that are not an object', () => {
    for (const params of [null, [], 'zone=A', 3]) {
      expect(checkParams(flush.params, params)).toEqual({
        errors: [{ path: 'params', code: Codes.INVALID_DEFINITION, message: 'Parameters must be an object of name to value' }],
      });
    }
  });
});

describe('placeholders and stand-in values', () => {
  it('finds every placeholder with its JSON path and whether it is the whole string', () => {
    const { params: _params, ...definition } = flush;
    expect(findPlaceholders(definition)).toEqual([
      { path: 'sequence_id', name: 'zone', whole: false },
      { path: 'description', name: 'zone', whole: false },
      { path: 'description', name: 'seconds', whole: false },
      { path: 'steps[0].name', name: 'zone', whole: false },
      { path: 'steps[0].action.esp_id', name: 'zone', whole: false },
      { path: 'steps[0].action.gpio', name: 'gpio', whole: true },
      { path: 'steps[1].delay_seconds', name: 'seconds', whole: true },
      { path: 'steps[2].action.message', name: 'zone', whole: false },
      { path: 'steps[2].action.message', name: 'seconds', whole: false },
      { path: 'steps[2].action.message', name: 'notify', whole: false },
      { path: 'steps[2].action.leave', name: 'notify', whole: true },
    ]);
  });

  it('picks stand-ins inside the bounds: the default when there is one', () => {
    const spec = template({
      params: {
        a: { type: 'integer', min: 2.5, max: 9 },
        b: { type: 'number', max: -3 },
        c: { type: 'string', min: 3 },
        d: { type: 'string', max: 0 },
        e: { type: 'boolean' },
        f: { type: 'number', default: 7 },
      },
      steps: [],
    }).params;
    expect(Object.fromEntries(sampleValues(spec))).toEqual({ a: 3, b: -3, c: 'xxx', d: '', e: false, f: 7 });
  });
});

describe('the parameter schema', () => {
  it.each([
    [{ type: 'integer', default: 'five' }, 'default', 'The default must be of type integer'],
    [{ type: 'number', default: 50, max: 10 }, 'default', 'The default must be at most 10, got 50'],
    [{ type: 'number', min: 5, max: 1 }, 'min', 'min (5) is above max (1)'],
    [{ type: 'boolean', min: 0 }, 'min', 'A boolean parameter takes no min or max'],
  ])('refuses %j', (spec, field, message) => {
    const result = ParamSpecSchema.safeParse(spec);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]).toMatchObject({ path: [field], message });
  });

  it('refuses a parameter type it does not know and a name placeholders cannot spell', () => {
    expect(ParamSpecSchema.safeParse({ type: 'date' }).success).toBe(false);
    expect(TemplateBodySchema.safeParse({ params: { 'zone-id': { type: 'string' } } }).success).toBe(false);
  });
});
