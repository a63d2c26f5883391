import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Progress } from '../../src/domain/progress.ts';
import { actuatorStep, definition, expectError, nextEvent, testApp, type TestApp } from './api-harness.ts';

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});
afterEach(async () => {
  await t.close();
});

const post = (url: string, payload?: unknown) =>
  t.inject({ method: 'POST', url, ...(payload === undefined ? {} : { payload: JSON.stringify(payload), headers: { 'content-type': 'application/json' } }) });
const get = (url: string) => t.inject({ method: 'GET', url });
const json = <T>(response: { body: string }) => JSON.parse(response.body) as T;

/** Starts a run that waits (a long delay) so it can be controlled. */
async function startWaiting(sequenceId = 'waiting'): Promise<string> {
  const response = await post('/api/v1/sequences', { sequence_id: sequenceId, steps: [{ name: 'Wait', delay_seconds: 600 }] });
  expect(response.statusCode).toBe(202);
  return json<{ run_id: string }>(response).run_id;
}

describe('POST /api/v1/sequences', () => {
  it('answers 202 at once and the run completes, commanding the device', async () => {
    const response = await post('/api/v1/sequences', definition('irrigation-zone-1'));
    expect(response.statusCode).toBe(202);
    const body = json<{ success: boolean; sequence_id: string; run_id: string; total_steps: number; status: string }>(response);
    expect(body).toEqual({ success: true, sequence_id: 'irrigation-zone-1', run_id: expect.stringMatching(/^run-/), total_steps: 2, status: 'running' });

    const ended = await t.ended(body.run_id);
    expect(ended.data.status).toBe('completed');
    const progress = json<Progress>(await get(`/api/v1/sequences/${body.run_id}`));
    expect(progress.status).toBe('completed');
    expect(progress.progress_percent).toBe(100);
    expect(progress.step_results.map((s) => s.success)).toEqual([true, true]);
    expect(t.services.sim?.actuator('ESP_A', 5)).toMatchObject({ on: false, last_command: 'OFF' });
  });

  it('answers before a slow device does: the run is still running after the 202', async () => {
    t.services.sim?.configure('ESP_SLOW', { hang: true });
    const response = await post('/api/v1/sequences', { steps: [actuatorStep('ESP_SLOW')] });
    expect(response.statusCode).toBe(202);
    const { run_id, sequence_id } = json<{ run_id: string; sequence_id: string }>(response);
    expect(sequence_id).toMatch(/^seq-[0-9a-f]{8}$/);
    expect(json<Progress>(await get(`/api/v1/sequences/${run_id}`)).status).toBe('running');
  });

  it('keeps the context of who started the run', async () => {
    const response = await post('/api/v1/sequences', {
      ...definition('ctx'),
      context: { rule_id: 'r-1', rule_name: 'Dry soil', triggered_by: 'rules-engine', trigger_data: { moisture: 12 } },
    });
    const { run_id } = json<{ run_id: string }>(response);
    await t.ended(run_id);
    const progress = json<Progress>(await get(`/api/v1/sequences/${run_id}`));
    expect(progress.rule_id).toBe('r-1');
    expect(progress.context).toEqual({ rule_id: 'r-1', rule_name: 'Dry soil', triggered_by: 'rules-engine', trigger_data: { moisture: 12 } });
  });

  it.each([
    ['no steps', { steps: [] }, 5601, 'steps'],
    ['51 steps', { steps: Array.from({ length: 51 }, () => ({ delay_seconds: 0 })) }, 5606, 'steps'],
    ['a step with neither action nor delay', { steps: [{ name: 'x' }] }, 5604, 'steps[0]'],
    ['a delay above 3600 s', { steps: [{ delay_seconds: 1 }, { delay_seconds: 4000 }] }, 5605, 'steps[1].delay_seconds'],
    ['an unknown action type', { steps: [{ action: { type: 'teleport' } }] }, 5603, 'steps[0].action.type'],
    ['an unknown step key', { steps: [{ delay_seconds: 1, bogus: 1 }] }, 5602, 'steps[0].bogus'],
    ['a bad actuator field', { steps: [{ action: { type: 'actuator_command', esp_id: 'E', gpio: 99, command: 'ON' } }] }, 5602, 'steps[0].action.gpio'],
    ['waiting above max_duration_seconds', { max_duration_seconds: 10, steps: [{ delay_seconds: 20 }] }, 5607, 'max_duration_seconds'],
    ['an array', [], 5600, ''],
    ['null', null, 5600, ''],
  ])('rejects %s with 422, the engine code and its path, and starts nothing', async (_name, body, code, path) => {
    const error = expectError(await post('/api/v1/sequences', body), 422, code);
    expect(error.error.details[0]).toMatchObject({ path, code });
    expect((await t.services.engine.list({ limit: 10, offset: 0 })).total).toBe(0);
  });

  it('reports every problem at once, context included', async () => {
    const body = { steps: [{ delay_seconds: 4000 }, { name: 'x' }], context: { rule_id: 7 } };
    const error = expectError(await post('/api/v1/sequences', body), 422, 5605);
    expect(error.error.details.map((d) => [d.path, d.code])).toEqual([
      ['steps[0].delay_seconds', 5605],
      ['steps[1]', 5604],
      ['context.rule_id', 5600],
    ]);
    expect(error.error.message).toContain('steps[0].delay_seconds');
  });

  it('locates unknown keys by their own path, in the definition and in its context', async () => {
    const body = { steps: [{ delay_seconds: 1, colour: 'red' }], surprise: true, context: { rule_id: 'r', rule_nmae: 'typo' } };
    const error = expectError(await post('/api/v1/sequences', body), 422, 5602);
    expect(error.error.details.map((d) => [d.path, d.code, d.message])).toEqual([
      ['steps[0].colour', 5602, 'unknown key'],
      ['surprise', 5600, 'unknown key'],
      ['context.rule_nmae', 5600, 'unknown key'],
    ]);
  });

  it('refuses a second run of a running single-mode sequence with 409/5610', async () => {
    await startWaiting('once');
    const error = expectError(await post('/api/v1/sequences', { sequence_id: 'once', steps: [{ delay_seconds: 1 }] }), 409, 5610);
    expect(error.error.name).toBe('SEQ_ALREADY_RUNNING');
  });
});

describe('POST /api/v1/sequences/validate', () => {
  it('answers valid with the step count and the estimated duration, and starts nothing', async () => {
    const response = await post('/api/v1/sequences/validate', { steps: [{ delay_seconds: 5, delay_after_seconds: 2 }, actuatorStep()] });
    expect(response.statusCode).toBe(200);
    expect(json(response)).toEqual({ valid: true, errors: [], total_steps: 2, estimated_duration_seconds: 7 });
    expect(t.services.engine.runningCount).toBe(0);
  });

  it('answers 200 with every problem of an invalid definition', async () => {
    const response = await post('/api/v1/sequences/validate', { steps: [{ delay_seconds: -1 }, { action: { type: 'nope' } }] });
    expect(response.statusCode).toBe(200);
    const body = json<{ valid: boolean; errors: { path: string; code: number }[]; total_steps: number }>(response);
    expect(body.valid).toBe(false);
    expect(body.total_steps).toBe(0);
    expect(body.errors.map((e) => [e.path, e.code])).toEqual([
      ['steps[0].delay_seconds', 5605],
      ['steps[1].action.type', 5603],
    ]);
  });
});

describe('GET /api/v1/sequences', () => {
  async function completeRuns(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const { run_id } = json<{ run_id: string }>(await post('/api/v1/sequences', definition(`done-${i}`)));
      await t.ended(run_id);
      ids.push(run_id);
    }
    return ids;
  }

  it('lists runs newest first with totals, paged by limit and offset', async () => {
    const ids = await completeRuns(3);
    const waiting = await startWaiting();
    const all = json<{ sequences: Progress[]; total: number; running: number; completed: number; failed: number }>(await get('/api/v1/sequences'));
    expect(all.sequences.map((s) => s.run_id)).toEqual([waiting, ...ids.reverse()]);
    expect(all).toMatchObject({ total: 4, running: 1, completed: 3, failed: 0 });

    const page = json<{ sequences: Progress[]; total: number; limit: number; offset: number }>(await get('/api/v1/sequences?limit=2&offset=1'));
    expect(page.sequences.map((s) => s.run_id)).toEqual(ids.slice(0, 2));
    expect(page).toMatchObject({ total: 4, limit: 2, offset: 1 });
  });

  it('filters by status and by running_only', async () => {
    await completeRuns(2);
    const waiting = await startWaiting();
    const running = json<{ sequences: Progress[]; total: number }>(await get('/api/v1/sequences?running_only=true'));
    expect(running.sequences.map((s) => s.run_id)).toEqual([waiting]);
    const completed = json<{ sequences: Progress[]; total: number }>(await get('/api/v1/sequences?status=completed'));
    expect(completed.total).toBe(2);
    expect(completed.sequences.every((s) => s.status === 'completed')).toBe(true);
  });

  it.each([
    ['limit=0', 'query.limit'],
    ['limit=501', 'query.limit'],
    ['offset=-1', 'query.offset'],
    ['limit=abc', 'query.limit'],
    ['status=exploded', 'query.status'],
    ['running_only=maybe', 'query.running_only'],
    ['sort=asc', 'query.sort'],
  ])('rejects ?%s with 422/5600 at %s', async (query, path) => {
    const error = expectError(await get(`/api/v1/sequences?${query}`), 422, 5600);
    expect(error.error.details.map((d) => d.path)).toContain(path);
  });
});

describe('GET /api/v1/sequences/stats', () => {
  it('counts completed and failed runs of the last hour and names the failing step', async () => {
    const ok = json<{ run_id: string }>(await post('/api/v1/sequences', definition('good')));
    await t.ended(ok.run_id);
    t.services.sim?.configure('ESP_BAD', { fail: true });
    const bad = json<{ run_id: string }>(await post('/api/v1/sequences', { sequence_id: 'bad', steps: [{ name: 'Open bad valve', action: { type: 'actuator_command', esp_id: 'ESP_BAD', gpio: 1, command: 'ON' } }] }));
    expect((await t.ended(bad.run_id)).data.status).toBe('failed');

    const response = await get('/api/v1/sequences/stats');
    expect(response.statusCode).toBe(200);
    expect(json(response)).toMatchObject({
      success: true,
      total_sequences: 2,
      running: 0,
      completed_last_hour: 1,
      failed_last_hour: 1,
      most_common_failure_step: 'Open bad valve',
    });
  });
});

describe('GET /api/v1/sequences/{id}, /snapshot and /definition', () => {
  it('finds a run by run_id and the newest run by sequence_id', async () => {
    const first = json<{ run_id: string }>(await post('/api/v1/sequences', definition('twice')));
    await t.ended(first.run_id);
    const second = json<{ run_id: string }>(await post('/api/v1/sequences', definition('twice')));
    await t.ended(second.run_id);
    expect(json<Progress>(await get(`/api/v1/sequences/${first.run_id}`)).run_id).toBe(first.run_id);
    expect(json<Progress>(await get('/api/v1/sequences/twice')).run_id).toBe(second.run_id);
  });

  it('answers 404/5611 for an unknown id', async () => {
    expectError(await get('/api/v1/sequences/nobody'), 404, 5611);
    expectError(await get('/api/v1/sequences/nobody/snapshot'), 404, 5611);
  });

  it('returns the definition a run was started with, as sent, while it runs and after it ended', async () => {
    const sent = { sequence_id: 'as-sent', description: 'Water zone 3', steps: [{ name: 'Open', action: { type: 'actuator', esp_id: 'ESP_A', gpio: 3, command: 'ON' } }, { delay_seconds: 600 }] };
    const { run_id } = json<{ run_id: string }>(await post('/api/v1/sequences', { ...sent, context: { rule_id: 'r-3' } }));
    const running = await get(`/api/v1/sequences/${run_id}/definition`);
    expect(running.statusCode).toBe(200);
    // No default filled in (mode, priority, timeouts), the alias kept, the context apart from it.
    expect(json(running)).toEqual({ success: true, run_id, sequence_id: 'as-sent', definition: sent });
    await post(`/api/v1/sequences/${run_id}/cancel`);
    await t.ended(run_id);
    expect(json(await get('/api/v1/sequences/as-sent/definition'))).toEqual({ success: true, run_id, sequence_id: 'as-sent', definition: sent });
    // A generated sequence_id is part of the definition the run ran under.
    const generated = json<{ run_id: string; sequence_id: string }>(await post('/api/v1/sequences', { steps: [{ delay_seconds: 0 }] }));
    await t.ended(generated.run_id);
    const kept = json<{ definition: unknown }>(await get(`/api/v1/sequences/${generated.run_id}/definition`));
    expect(kept.definition).toEqual({ steps: [{ delay_seconds: 0 }], sequence_id: generated.sequence_id });
    expectError(await get('/api/v1/sequences/nobody/definition'), 404, 5611);
  });

  it("returns the running actor's persisted snapshot", async () => {
    const runId = await startWaiting();
    const response = await get(`/api/v1/sequences/${runId}/snapshot`);
    expect(response.statusCode).toBe(200);
    expect(json(response)).toMatchObject({ status: 'active', value: { running: 'delaying' } });
  });
});

describe('POST /api/v1/sequences/{id}/cancel', () => {
  it('cancels with the reason of the body, and the run ends cancelled', async () => {
    const runId = await startWaiting();
    const cancelled = nextEvent(t.services, (e) => e.type === 'sequence_cancelled');
    const response = await post(`/api/v1/sequences/${runId}/cancel`, { reason: 'rain expected' });
    expect(response.statusCode).toBe(200);
    expect(json(response)).toMatchObject({ success: true, reason: 'rain expected' });
    expect((await cancelled).data).toMatchObject({ run_id: runId, reason: expect.stringContaining('rain expected') });
    expect((await t.ended(runId)).data.status).toBe('cancelled');
  });

  it('takes the reason from ?reason= and works without a body', async () => {
    const runId = await startWaiting();
    const response = await t.inject({ method: 'POST', url: `/api/v1/sequences/${runId}/cancel?reason=manual%20stop` });
    expect(json(response)).toMatchObject({ success: true, reason: 'manual stop' });
  });

  it('accepts an empty JSON body and uses the default reason', async () => {
    const runId = await startWaiting();
    const response = await t.inject({ method: 'POST', url: `/api/v1/sequences/${runId}/cancel`, headers: { 'content-type': 'application/json' }, payload: '' });
    expect(response.statusCode).toBe(200);
    expect(json<{ reason: string }>(response).reason).toBe('Cancelled by operator');
  });

  it('answers 404 for an unknown run and 409 for a run that has ended', async () => {
    expectError(await post('/api/v1/sequences/ghost/cancel', {}), 404, 5611);
    const { run_id } = json<{ run_id: string }>(await post('/api/v1/sequences', definition('short')));
    await t.ended(run_id);
    expectError(await post(`/api/v1/sequences/${run_id}/cancel`, {}), 409, 5619);
  });

  it('rejects a reason that is not a string', async () => {
    const runId = await startWaiting();
    const error = expectError(await post(`/api/v1/sequences/${runId}/cancel`, { reason: 42 }), 422, 5600);
    expect(error.error.details[0]?.path).toBe('reason');
  });
});

describe('POST /api/v1/sequences/{id}/pause and /resume', () => {
  it('pauses and resumes a run, and refuses what its state does not allow with 409', async () => {
    const runId = await startWaiting();
    const paused = await post(`/api/v1/sequences/${runId}/pause`);
    expect(paused.statusCode).toBe(200);
    expect(json<Progress>(paused)).toMatchObject({ run_id: runId, status: 'paused' });
    expectError(await post(`/api/v1/sequences/${runId}/pause`), 409, 5619);

    const resumed = await post(`/api/v1/sequences/${runId}/resume`);
    expect(json<Progress>(resumed).status).toBe('running');
    expectError(await post(`/api/v1/sequences/${runId}/resume`), 409, 5619);
  });

  it('pauses with the outputs held or off as the body says, and refuses another word with 422 at its path', async () => {
    const response = await post('/api/v1/sequences', { sequence_id: 'valve', steps: [{ action: { type: 'actuator_command', esp_id: 'ESP_P', gpio: 5, command: 'ON' } }, { delay_seconds: 600 }] });
    const runId = json<{ run_id: string }>(response).run_id;
    await expect.poll(async () => json<Progress>(await get(`/api/v1/sequences/${runId}`)).state).toBe('running.delaying');

    const error = expectError(await post(`/api/v1/sequences/${runId}/pause`, { outputs: 'sideways' }), 422, 5600);
    expect(error.error.details[0]?.path).toBe('outputs');
    expect(json<Progress>(await post(`/api/v1/sequences/${runId}/pause`, { outputs: 'hold' })).state).toBe('paused.held');
    expect(t.services.sim?.actuator('ESP_P', 5)?.on).toBe(true);
    await post(`/api/v1/sequences/${runId}/resume`);
    expect(json<Progress>(await post(`/api/v1/sequences/${runId}/pause`)).state).toBe('paused.off');
    await expect.poll(() => t.services.sim?.actuator('ESP_P', 5)?.on).toBe(false);
  });

  it('answers 404/5611 for an unknown run', async () => {
    expectError(await post('/api/v1/sequences/ghost/pause'), 404, 5611);
    expectError(await post('/api/v1/sequences/ghost/resume'), 404, 5611);
  });
});

describe('POST /api/v1/sequences/{id}/redrive', () => {
  it('answers 202 with a new run of the rest that names the one it redrives; 422 at from_step, 409 and 404 as it must', async () => {
    await t.inject({ method: 'PUT', url: '/api/v1/sim/devices/ESP_F', payload: { fail: true } });
    const steps = [{ name: 'Prime', delay_seconds: 0.01 }, { name: 'Close', action: { type: 'actuator_command', esp_id: 'ESP_F', gpio: 1, command: 'OFF' } }];
    const failed = json<{ run_id: string }>(await post('/api/v1/sequences', { sequence_id: 'to-redrive', steps })).run_id;
    await t.ended(failed);
    await t.inject({ method: 'PUT', url: '/api/v1/sim/devices/ESP_F', payload: { fail: false } });

    expect(expectError(await post(`/api/v1/sequences/${failed}/redrive`, { from_step: -1 }), 422, 5600).error.details[0]?.path).toBe('from_step');
    expect(expectError(await post(`/api/v1/sequences/${failed}/redrive`, { from_step: 2 }), 422, 5600).error.details[0]?.path).toBe('from_step');
    const response = await post(`/api/v1/sequences/${failed}/redrive`);
    expect(response.statusCode).toBe(202);
    const started = json<{ run_id: string }>(response);
    expect(started).toEqual({ success: true, sequence_id: 'to-redrive', run_id: expect.stringMatching(/^run-/), total_steps: 2, status: 'running', redrive_of: failed });
    await t.ended(started.run_id);
    expect(json<Progress>(await get(`/api/v1/sequences/${started.run_id}`))).toMatchObject({ status: 'completed', redrive_of: failed, step_results: [{ step_index: 1, step_name: 'Close' }] });

    expectError(await post(`/api/v1/sequences/${started.run_id}/redrive`), 409, 5619);
    expectError(await post('/api/v1/sequences/ghost/redrive'), 404, 5611);
  });
});
