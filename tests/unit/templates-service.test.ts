import { afterEach, describe, expect, it } from 'vitest';
import { Codes, SequencerError } from '../../src/domain/errors.ts';
import { SimDriver } from '../../src/drivers/sim.driver.ts';
import { Engine } from '../../src/engine/engine.ts';
import { builtinExecutors } from '../../src/executors/builtin-executors.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import { TemplateService, type TemplateStore } from '../../src/templates/template-service.ts';

const closers: (() => unknown)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A template service wired to an engine the way `createServices` wires them. */
function setup(store: TemplateStore | null = null) {
  let clock = 1_700_000_000_000;
  const service: TemplateService = new TemplateService({ store, validate: (definition) => engine.validate(definition), now: () => clock++ });
  const engine = new Engine({ executors: builtinExecutors(new SimDriver(1)), templates: service });
  closers.push(() => engine.close());
  return { service, engine };
}

/** The SequencerError a call throws. */
async function thrown(call: () => unknown): Promise<SequencerError> {
  try {
    await call();
  } catch (error) {
    if (error instanceof SequencerError) return error;
    throw error;
  }
  throw new Error('expected a SequencerError');
}

const plain = (name = 'Wait') => ({ steps: [{ name, delay_seconds: 1 }] });
const calls = (template: string, params: Record<string, unknown> = {}) => ({
  steps: [{ name: `Run ${template}`, action: { type: 'sequence', template, params } }],
});

describe('template CRUD', () => {
  it('stores version 1, then one more on each PUT, and shows the latest', async () => {
    const { service } = setup();
    expect(await service.put('flush', plain('first'))).toMatchObject({ name: 'flush', version: 1 });
    expect(await service.put('flush', plain('second'))).toMatchObject({ name: 'flush', version: 2 });
    expect(service.get('flush')).toMatchObject({ version: 2, body: plain('second') });
    expect(service.list()).toEqual([
      { name: 'flush', version: 2, updated_at: new Date(1_700_000_000_001).toISOString(), description: null, params: {} },
    ]);
  });

  it('deletes a template: reading or deleting it again is 404/5611, and a new PUT starts at version 1', async () => {
    const { service } = setup();
    await service.put('flush', plain());
    await service.put('flush', plain());
    await service.delete('flush');
    expect(await thrown(() => service.get('flush'))).toMatchObject({ code: Codes.NOT_FOUND, httpStatus: 404, message: "Template 'flush' not found" });
    expect(await thrown(() => service.delete('flush'))).toMatchObject({ code: Codes.NOT_FOUND, httpStatus: 404 });
    expect((await service.put('flush', plain())).version).toBe(1);
  });

  it('keeps templates in the store when there is one', async () => {
    const store = openSqliteStore(':memory:');
    closers.push(() => store.close());
    const { service } = setup(store);
    await service.put('b', { description: 'second', ...plain() });
    await service.put('a', plain());
    await service.put('a', plain());
    expect((await store.getTemplate('a'))?.version).toBe(2);
    expect(service.list().map((t) => [t.name, t.version, t.description])).toEqual([['a', 2, null], ['b', 1, 'second']]);
  });

  it('refuses a name outside [A-Za-z0-9_.-]{1,100}', async () => {
    const { service } = setup();
    for (const name of ['', 'a b', 'x'.repeat(101), 'zone/1']) {
      expect(await thrown(() => service.put(name, plain()))).toMatchObject({ code: Codes.INVALID_DEFINITION, details: [{ path: 'name' }] });
    }
  });
});

describe('checks at PUT', () => {
  it('refuses a bad parameter schema with the path of the problem', async () => {
    const { service } = setup();
    const error = await thrown(() => service.put('t', { params: { gpio: { type: 'integer', default: 'five' } }, ...plain() }));
    expect(error).toMatchObject({ code: Codes.INVALID_DEFINITION, httpStatus: 422 });
    expect(error.details).toEqual([{ path: 'params.gpio.default', code: Codes.INVALID_DEFINITION, message: 'The default must be of type integer' }]);
  });

  it('refuses a placeholder that names no parameter, and a nested template named by a parameter', async () => {
    const { service } = setup();
    await service.put('flush', plain());
    const error = await thrown(() =>
      service.put('t', {
        params: { which: { type: 'string', default: 'flush' } },
        steps: [{ name: 'Zone {{zone}}', delay_seconds: 1 }, { action: { type: 'sequence', template: '{{which}}' } }],
      }),
    );
    expect(error.details).toEqual([
      { path: 'steps[0].name', code: Codes.INVALID_DEFINITION, message: "Placeholder '{{zone}}' names no parameter of 'params'" },
      { path: 'steps[1].action.template', code: Codes.INVALID_DEFINITION, message: 'A nested template must be named literally, not by a parameter' },
    ]);
  });

  it('refuses a definition that cannot be valid with the validator codes and paths', async () => {
    const { service } = setup();
    const error = await thrown(() => service.put('t', { steps: [{ action: { type: 'teleport' } }, { delay_seconds: 4000 }] }));
    expect(error.details.map((d) => [d.path, d.code])).toEqual([
      ['steps[1].delay_seconds', Codes.INVALID_DELAY],
      ['steps[0].action.type', Codes.INVALID_ACTION_TYPE],
    ]);
    expect(() => service.get('t')).toThrow(SequencerError);
  });

  it('leaves to the start what only the parameter values decide', async () => {
    const { service } = setup();
    // No stand-in can be valid for every field here (timeout_seconds >= 1, mode is an enum): only the values tell.
    const stored = await service.put('t', {
      mode: '{{mode}}',
      params: { t: { type: 'number', required: true }, mode: { type: 'string', required: true } },
      steps: [{ name: 'Ping', timeout_seconds: '{{t}}', action: { type: 'notification', channel: 'websocket', title: 'x', message: 'y' } }],
    });
    expect(stored.version).toBe(1);
    const error = await thrown(() => service.instantiate('t', { t: 0, mode: 'queued' }));
    expect(error).toMatchObject({ code: Codes.INVALID_STEP, httpStatus: 422 });
    expect(error.details).toEqual([
      { path: 'steps[0].timeout_seconds', code: Codes.INVALID_STEP, message: expect.stringContaining("(from parameter 't')") },
    ]);
    expect(service.instantiate('t', { t: 5, mode: 'queued' }).definition).toMatchObject({ mode: 'queued', steps: [{ timeout_seconds: 5 }] });
  });
});

describe('circular references', () => {
  it('refuses a template that calls itself (A -> A) with 5618', async () => {
    const { service } = setup();
    const error = await thrown(() => service.put('A', calls('A')));
    expect(error).toMatchObject({ code: Codes.CIRCULAR_REFERENCE, httpStatus: 422 });
    expect(error.message).toContain('A -> A');
    expect(error.details).toEqual([{ path: 'steps[0].action.template', code: Codes.CIRCULAR_REFERENCE, message: "Template 'A' reaches itself: A -> A" }]);
  });

  it('refuses A -> B -> A and keeps the stored version', async () => {
    const { service } = setup();
    await service.put('A', plain());
    await service.put('B', calls('A'));
    const error = await thrown(() => service.put('A', calls('B')));
    expect(error.code).toBe(Codes.CIRCULAR_REFERENCE);
    expect(error.message).toBe("Invalid template 'A': Template 'A' reaches itself: A -> B -> A (steps[0].action.template)");
    expect(service.get('A')).toMatchObject({ version: 1, body: plain() });
  });

  it('refuses A -> B -> C -> A', async () => {
    const { service } = setup();
    await service.put('A', plain());
    await service.put('C', calls('A'));
    await service.put('B', calls('C'));
    const error = await thrown(() => service.put('A', calls('B')));
    expect(error.code).toBe(Codes.CIRCULAR_REFERENCE);
    expect(error.details[0]?.message).toBe("Template 'A' reaches itself: A -> B -> C -> A");
  });

  it('finds a call hidden in an inline nested sequence or a cleanup step', async () => {
    const { service } = setup();
    await service.put('A', plain());
    await service.put('B', { steps: [{ delay_seconds: 1 }], cleanup_steps: [{ action: { type: 'sequence', steps: [{ action: { type: 'sequence', template: 'A' } }] } }] });
    const error = await thrown(() => service.put('A', calls('B')));
    expect(error.details[0]).toMatchObject({ path: 'steps[0].action.template', code: Codes.CIRCULAR_REFERENCE, message: expect.stringContaining('A -> B -> A') });
    const inline = await thrown(() => service.put('C', { steps: [{ action: { type: 'sequence', steps: [{ action: { type: 'sequence', template: 'C' } }] } }] }));
    expect(inline.details[0]).toMatchObject({ path: 'steps[0].action.steps[0].action.template', code: Codes.CIRCULAR_REFERENCE });
  });

  it('refuses nesting deeper than 3 through templates with 5618', async () => {
    const { service } = setup();
    await service.put('D', plain());
    await service.put('C', calls('D'));
    await service.put('B', calls('C'));
    const error = await thrown(() => service.put('A', calls('B')));
    expect(error.code).toBe(Codes.CIRCULAR_REFERENCE);
    expect(error.details[0]?.message).toBe('Nesting deeper than 3 levels');
  });

  it('refuses at validation a cycle that reached the store behind the service, with the chain', async () => {
    const store = openSqliteStore(':memory:');
    closers.push(() => store.close());
    const { service, engine } = setup(store);
    await service.put('A', plain());
    await service.put('B', calls('A'));
    // Written behind the service's back (an older version's store, read again at the next start).
    await store.putTemplate('A', calls('B'), Date.now());
    await service.load();
    const result = engine.validate(calls('B'));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors).toEqual([
      { path: 'steps[0].action.template', code: Codes.CIRCULAR_REFERENCE, message: "Template 'B' reaches itself: B -> A -> B" },
    ]);
  });
});

describe('starting from a template', () => {
  const dose = {
    sequence_id: 'dose-{{zone}}',
    params: { zone: { type: 'integer', required: true, min: 1, max: 8 }, ml: { type: 'number', default: 50 } },
    steps: [{ name: 'Dose {{ml}} ml', action: { type: 'actuator_command', esp_id: 'ESP_DOSE', gpio: '{{zone}}', command: 'ON' } }],
  };

  it('fills, validates and names the version it came from', async () => {
    const { service } = setup();
    await service.put('dose', dose);
    await service.put('dose', dose);
    const instance = service.instantiate('dose', { zone: 3 });
    expect(instance.template).toEqual({ name: 'dose', version: 2 });
    expect(instance.definition).toMatchObject({ sequence_id: 'dose-3', mode: 'single', steps: [{ name: 'Dose 50 ml', action: { gpio: 3 } }] });
  });

  it('is 404/5611 for an unknown template and 422/5600 naming a bad parameter', async () => {
    const { service } = setup();
    await service.put('dose', dose);
    expect(await thrown(() => service.instantiate('nope', {}))).toMatchObject({ code: Codes.NOT_FOUND, httpStatus: 404 });
    const error = await thrown(() => service.instantiate('dose', { zone: 9 }));
    expect(error).toMatchObject({ code: Codes.INVALID_DEFINITION, httpStatus: 422, details: [{ path: 'params.zone', message: "Parameter 'zone' must be at most 8, got 9" }] });
  });

  it('checks nested template calls at validation, with paths inside the calling step', async () => {
    const { service, engine } = setup();
    await service.put('dose', dose);
    const missing = engine.validate(calls('nope'));
    expect(!missing.ok && missing.errors).toEqual([{ path: 'steps[0].action.template', code: Codes.INVALID_DEFINITION, message: "Template 'nope' not found" }]);
    const badParam = engine.validate(calls('dose', { zone: 'three' }));
    expect(!badParam.ok && badParam.errors).toEqual([
      { path: 'steps[0].action.params.zone', code: Codes.INVALID_DEFINITION, message: `Parameter 'zone' must be an integer, got string "three"` },
    ]);
    expect(engine.validate(calls('dose', { zone: 2 })).ok).toBe(true);
  });
});
