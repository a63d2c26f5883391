/**
 * `POST /sequences/batch` (SPEC 7): each item is admitted or refused on its own, in the order
 * sent, exactly as `POST /sequences` would answer it (validation, start modes, the start rate
 * limit); the envelope itself is checked first, and a body over 1000 items starts nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Codes } from '../../src/domain/errors.ts';
import { isErrorBody, testApp, type TestApp } from './api-harness.ts';

const HOLD = { name: 'Hold', delay_seconds: 3600 };
let t: TestApp;

afterEach(async () => {
  await t.close();
});

async function batch(sequences: unknown, extra: Record<string, unknown> = {}) {
  const response = await t.inject({ method: 'POST', url: '/api/v1/sequences/batch', payload: { sequences, ...extra } });
  return { status: response.statusCode, body: response.json(), headers: response.headers };
}

describe('POST /sequences/batch', () => {
  it('answers every item in order: valid ones start, invalid ones carry their own error and path', async () => {
    t = await testApp();
    const { status, body } = await batch([
      { sequence_id: 'zone-1', steps: [HOLD], context: { rule_name: 'Morning', triggered_by: 'rules' } },
      { sequence_id: 'zone-2', steps: [{ name: 'Too long', delay_seconds: 5000 }] },
      'not a definition',
      { sequence_id: 'zone-3', steps: [{ delay_seconds: 0 }] },
      { sequence_id: 'zone-4', steps: [HOLD], context: { rule_name: 'x', colour: 'red' } },
    ]);

    expect(status).toBe(207);
    expect(body.results.map((r: { index: number; status: number }) => [r.index, r.status])).toEqual([[0, 202], [1, 422], [2, 422], [3, 202], [4, 422]]);
    expect(body.results[0]).toMatchObject({ sequence_id: 'zone-1', total_steps: 1, run_status: 'running' });
    expect(body.results[1].error).toMatchObject({ code: Codes.INVALID_DELAY, name: 'SEQ_INVALID_DELAY', details: [{ path: 'steps[0].delay_seconds', code: Codes.INVALID_DELAY }] });
    expect(body.results[2].error.code).toBe(Codes.INVALID_DEFINITION);
    expect(body.results[4].error.details).toEqual([{ path: 'context.colour', code: Codes.INVALID_DEFINITION, message: 'unknown key' }]);
    expect(body.results[1].run_id).toBeUndefined();

    const first = await t.inject({ method: 'GET', url: `/api/v1/sequences/${body.results[0].run_id}` });
    expect(first.json()).toMatchObject({ sequence_id: 'zone-1', status: 'running', rule_name: 'Morning', context: { triggered_by: 'rules' } });
    expect((await t.ended(body.results[3].run_id)).data.status).toBe('completed');
    expect((await t.inject({ method: 'GET', url: '/api/v1/sequences/zone-2' })).statusCode).toBe(404);
  });

  it('applies the start modes item by item, including to earlier items of the same batch', async () => {
    t = await testApp();
    const { body } = await batch([
      { sequence_id: 'valve', steps: [HOLD] },
      { sequence_id: 'valve', steps: [HOLD] },
      { sequence_id: 'valve', mode: 'queued', steps: [HOLD] },
      { sequence_id: 'mist', mode: 'parallel', steps: [HOLD] },
      { sequence_id: 'mist', mode: 'parallel', steps: [HOLD] },
    ]);

    expect(body.results.map((r: { status: number }) => r.status)).toEqual([202, 409, 202, 202, 202]);
    expect(body.results[1].error).toMatchObject({ code: Codes.ALREADY_RUNNING, name: 'SEQ_ALREADY_RUNNING' });
    expect(body.results[1].error.message).toContain(body.results[0].run_id);
    expect(body.results[2].run_status).toBe('pending');
    expect(body.results[3].run_id).not.toBe(body.results[4].run_id);
  });

  it('refuses items over the start rate limit with 429/5641 and says when to retry; an invalid item takes no start', async () => {
    t = await testApp({ rate_limits: { starts_per_second: 2, commands_per_second: 0, commands_per_esp_per_second: 0 } });
    const { status, body, headers } = await batch([
      { steps: [HOLD] },
      { steps: [] },
      { steps: [HOLD] },
      { steps: [HOLD] },
    ]);

    expect(status).toBe(207);
    expect(body.results.map((r: { status: number }) => r.status)).toEqual([202, 422, 202, 429]);
    expect(body.results[1].error.code).toBe(Codes.EMPTY_STEPS);
    expect(body.results[3].error).toMatchObject({ code: Codes.RATE_LIMITED, name: 'SEQ_RATE_LIMITED' });
    expect(Number(headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('refuses a body over 1000 items with 422 at path sequences, starting nothing', async () => {
    t = await testApp();
    const items = Array.from({ length: 1001 }, (_, i) => ({ sequence_id: `bulk-${i}`, steps: [{ delay_seconds: 0 }] }));
    const { status, body } = await batch(items);

    expect(status).toBe(422);
    expect(isErrorBody(body)).toBe(true);
    expect(body.error.details).toEqual([expect.objectContaining({ path: 'sequences', code: Codes.INVALID_DEFINITION })]);
    expect(t.services.engine.runningCount).toBe(0);
    expect((await t.inject({ method: 'GET', url: '/api/v1/sequences/bulk-0' })).statusCode).toBe(404);
  });

  it('refuses an empty batch, a missing list and an unknown key with 422 and their paths', async () => {
    t = await testApp();
    expect((await batch([])).body.error.details[0].path).toBe('sequences');
    const missing = await t.inject({ method: 'POST', url: '/api/v1/sequences/batch', payload: { steps: [HOLD] } });
    expect(missing.statusCode).toBe(422);
    expect(missing.json().error.details.map((d: { path: string }) => d.path).sort()).toEqual(['sequences', 'steps']);
    const extra = await batch([{ steps: [HOLD] }], { priority: 1 });
    expect([extra.status, extra.body.error.details[0].path]).toEqual([422, 'priority']);
    expect(t.services.engine.runningCount).toBe(0);
  });
});
