/**
 * The template routes of SPEC 7 over the real app: CRUD with versions kept in a SQLite file,
 * parameter errors, the version a run records, cycles refused at PUT, and the documented
 * flush-zone example started for three zones.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Codes } from '../../src/domain/errors.ts';
import { drive, removeDir, startApp, tempDir, useEngineFakeTimers, type AppHarness } from './templates-app.harness.ts';

const FLUSH_ZONE = JSON.parse(readFileSync(new URL('../../docs/examples/flush-zone.template.json', import.meta.url), 'utf8')) as Record<string, unknown>;

let h: AppHarness;
let dir: string;

beforeEach(async () => {
  dir = tempDir();
  h = await startApp({ dbDir: dir });
});

afterEach(async () => {
  await h.close();
  vi.useRealTimers();
  removeDir(dir);
});

const plain = (name = 'Wait') => ({ steps: [{ name, delay_seconds: 1 }] });
const calls = (template: string) => ({ steps: [{ action: { type: 'sequence', template } }] });

describe('template CRUD', () => {
  it('creates version 1, replaces it as version 2, shows it, deletes it, then answers 404/5611', async () => {
    const created = await h.api('PUT', '/sequence-templates/flush-zone', FLUSH_ZONE);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ success: true, name: 'flush-zone', version: 1 });

    const replaced = await h.api('PUT', '/sequence-templates/flush-zone', { ...FLUSH_ZONE, max_duration_seconds: 1500 });
    expect(replaced.status).toBe(200);
    expect(replaced.body.version).toBe(2);

    const shown = await h.api('GET', '/sequence-templates/flush-zone');
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ name: 'flush-zone', version: 2, template: { ...FLUSH_ZONE, max_duration_seconds: 1500 } });

    const list = await h.api('GET', '/sequence-templates');
    expect(list.body.total).toBe(1);
    expect(list.body.templates[0]).toMatchObject({
      name: 'flush-zone',
      version: 2,
      description: FLUSH_ZONE.description,
      params: { zone: { type: 'integer', required: true, min: 1, max: 64 } },
    });

    expect((await h.api('DELETE', '/sequence-templates/flush-zone')).body).toMatchObject({ success: true });
    const gone = await h.api('GET', '/sequence-templates/flush-zone');
    expect(gone.status).toBe(404);
    expect(gone.body.error).toMatchObject({ code: Codes.NOT_FOUND, name: 'SEQ_NOT_FOUND' });
    expect((await h.api('DELETE', '/sequence-templates/flush-zone')).status).toBe(404);
    expect((await h.api('POST', '/sequence-templates/flush-zone/start', { params: { zone: 1, esp_id: 'ESP_Z1' } })).status).toBe(404);
  });

  it('keeps templates and their versions in the store across a restart of the server', async () => {
    await h.api('PUT', '/sequence-templates/flush-zone', FLUSH_ZONE);
    await h.api('PUT', '/sequence-templates/flush-zone', FLUSH_ZONE);
    await h.close();
    h = await startApp({ dbDir: dir });
    expect((await h.api('GET', '/sequence-templates/flush-zone')).body.version).toBe(2);
    expect((await h.api('PUT', '/sequence-templates/flush-zone', FLUSH_ZONE)).body.version).toBe(3);
  });

  it('refuses a malformed name or body with a 4xx in the one error shape', async () => {
    const badName = await h.api('PUT', '/sequence-templates/zone%201', plain());
    expect(badName.status).toBe(422);
    expect(badName.body.error).toMatchObject({ code: Codes.INVALID_DEFINITION, details: [{ path: 'params.name' }] });
    const longName = await h.api('PUT', `/sequence-templates/${'x'.repeat(101)}`, plain());
    expect(longName.status).toBe(414);
    expect(longName.body.error.code).toBe(Codes.INVALID_DEFINITION);

    const badSpec = await h.api('PUT', '/sequence-templates/t', { params: { zone: { type: 'date' } }, ...plain() });
    expect(badSpec.status).toBe(422);
    expect(badSpec.body.error.details[0]).toMatchObject({ path: 'params.zone.type', code: Codes.INVALID_DEFINITION });

    const notAnObject = await h.api('PUT', '/sequence-templates/t', [plain()]);
    expect(notAnObject.status).toBe(422);
    expect((await h.api('GET', '/sequence-templates/t')).status).toBe(404);
  });

  it.each([
    ['A -> A', [['A', calls('A')]]],
    ['A -> B -> A', [['A', plain()], ['B', calls('A')], ['A', calls('B')]]],
    ['A -> B -> C -> A', [['A', plain()], ['C', calls('A')], ['B', calls('C')], ['A', calls('B')]]],
  ] as const)('refuses the cycle %s at PUT with 422/5618 and the chain in the message', async (chain, puts) => {
    const answers = [];
    for (const [name, body] of puts) answers.push(await h.api('PUT', `/sequence-templates/${name}`, body));
    const last = answers[answers.length - 1];
    expect(answers.slice(0, -1).map((a) => a?.status)).toEqual(answers.slice(0, -1).map(() => 201));
    expect(last?.status).toBe(422);
    expect(last?.body.error).toMatchObject({ code: Codes.CIRCULAR_REFERENCE, name: 'SEQ_CIRCULAR_REFERENCE' });
    expect(last?.body.error.message).toContain(chain);
    expect(last?.body.error.details[0]).toMatchObject({ path: 'steps[0].action.template', code: Codes.CIRCULAR_REFERENCE });
  });
});

describe('starting from a template', () => {
  beforeEach(async () => {
    expect((await h.api('PUT', '/sequence-templates/flush-zone', FLUSH_ZONE)).status).toBe(201);
  });

  const startZone = (params: unknown, extra: Record<string, unknown> = {}) =>
    h.api('POST', '/sequence-templates/flush-zone/start', { params, ...extra });

  it.each([
    ['a missing required parameter', { esp_id: 'ESP_Z1' }, 'params.zone', "Missing required parameter 'zone' (integer)"],
    ['an ill-typed parameter', { zone: '1', esp_id: 'ESP_Z1' }, 'params.zone', `Parameter 'zone' must be an integer, got string "1"`],
    ['a parameter above max', { zone: 1, esp_id: 'ESP_Z1', flush_seconds: 1000 }, 'params.flush_seconds', "Parameter 'flush_seconds' must be at most 900, got 1000"],
    ['a parameter below min', { zone: 0, esp_id: 'ESP_Z1' }, 'params.zone', "Parameter 'zone' must be at least 1, got 0"],
    ['an unknown parameter', { zone: 1, esp_id: 'ESP_Z1', zones: 2 }, 'params.zones', "Unknown parameter 'zones'"],
  ])('refuses %s with 422/5600 naming it, and starts nothing', async (_what, params, path, message) => {
    const answer = await startZone(params);
    expect(answer.status).toBe(422);
    expect(answer.body.error).toMatchObject({ code: Codes.INVALID_DEFINITION, details: [{ path, code: Codes.INVALID_DEFINITION, message }] });
    expect(answer.body.error.message).toContain(message);
    expect((await h.api('GET', '/sequences')).body.total).toBe(0);
  });

  it('names the parameter when its value makes the definition invalid', async () => {
    const answer = await startZone({ zone: 1, esp_id: 'ESP_Z1', severity: 'urgent' });
    expect(answer.status).toBe(422);
    expect(answer.body.error.details).toEqual([
      { path: 'steps[5].action.severity', code: Codes.INVALID_STEP, message: expect.stringContaining("(from parameter 'severity')") },
    ]);
  });

  it('records on the run the template name and the version it came from, with the context given', async () => {
    const first = await startZone({ zone: 1, esp_id: 'ESP_Z1' }, { context: { rule_id: 'r-7', rule_name: 'Nightly flush', triggered_by: 'rule' } });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ success: true, sequence_id: 'flush-zone-1', status: 'running', total_steps: 6, template: { name: 'flush-zone', version: 1 } });

    expect((await h.api('PUT', '/sequence-templates/flush-zone', FLUSH_ZONE)).body.version).toBe(2);
    const second = await startZone({ zone: 2, esp_id: 'ESP_Z2' });

    const p1 = (await h.api('GET', `/sequences/${first.body.run_id}`)).body;
    const p2 = (await h.api('GET', `/sequences/${second.body.run_id}`)).body;
    expect(p1).toMatchObject({ template: { name: 'flush-zone', version: 1 }, rule_id: 'r-7', rule_name: 'Nightly flush', context: { triggered_by: 'rule' } });
    expect(p2.template).toEqual({ name: 'flush-zone', version: 2 });

    // The version is kept with the run: it is still there after a restart of the server.
    await h.close();
    h = await startApp({ dbDir: dir, config: { recovery: 'abort' } });
    const stored = (await h.api('GET', `/sequences/${first.body.run_id}`)).body;
    expect(stored.template).toEqual({ name: 'flush-zone', version: 1 });
  });

  it('starts the documented example for three zones, each flushing its own valves', async () => {
    await h.close();
    useEngineFakeTimers();
    h = await startApp();
    await h.api('PUT', '/sequence-templates/flush-zone', FLUSH_ZONE);

    const zones = [1, 2, 3];
    const started = [];
    for (const zone of zones) started.push(await startZone({ zone, esp_id: `ESP_ZONE${zone}`, flush_seconds: 30 + zone }));
    expect(started.map((s) => [s.status, s.body.sequence_id])).toEqual(zones.map((z) => [202, `flush-zone-${z}`]));

    const ended = await drive(Promise.all(started.map((s) => h.ended(s.body.run_id))));
    expect(ended.map((p) => p.status)).toEqual(['completed', 'completed', 'completed']);
    expect(ended[1].step_results.map((r: { step_name: string }) => r.step_name)).toEqual([
      'Open drain of zone 2',
      'Open inlet of zone 2',
      'Flush for 32 s',
      'Close inlet',
      'Let the lines drain',
      'Tell the operator',
    ]);
    for (const zone of zones) {
      const device = h.sim.devices().find((d) => d.esp_id === `ESP_ZONE${zone}`);
      expect(device?.commands).toBe(4);
      expect(device?.actuators.map((a) => [a.gpio, a.on, a.last_command])).toEqual([[5, false, 'OFF'], [6, false, 'OFF']]);
    }
    const notices = h.events.filter((e) => e.type === 'notification').map((e) => (e.data as { title: string }).title);
    expect(notices.sort()).toEqual(['Zone 1 flushed', 'Zone 2 flushed', 'Zone 3 flushed']);
  });
});
