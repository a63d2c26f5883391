import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/build-app.ts';
import { Codes } from '../../src/domain/errors.ts';
import { actuator, startHarness, wait, type SafetyHarness } from './safety-harness.ts';

const OPERATOR = { authorization: 'Bearer op-token' };
const VIEWER = { authorization: 'Bearer view-token' };

let h: SafetyHarness;
let app: FastifyInstance;

beforeEach(async () => {
  h = await startHarness({
    tokens: [
      { token: 'op-token', role: 'operator' },
      { token: 'view-token', role: 'viewer' },
    ],
  });
  app = await buildApp(h.services);
  await app.ready();
});

afterEach(async () => {
  await app.close();
  await h.close();
});

function stop(body: unknown, headers: Record<string, string> = OPERATOR) {
  return app.inject({ method: 'POST', url: '/api/v1/emergency-stop', headers, payload: body as object });
}

function startPump() {
  return app.inject({
    method: 'POST',
    url: '/api/v1/sequences',
    headers: OPERATOR,
    payload: { steps: [actuator('ESP_H', 5, 'ON'), wait(600)] },
  });
}

describe('POST /api/v1/emergency-stop', () => {
  it('stops the runs, drives the pump OFF, refuses starts with 403/5642 until cleared', async () => {
    const started = await startPump();
    expect(started.statusCode).toBe(202);
    const runId = started.json().run_id as string;
    await h.next('sequence_step', (d) => d.run_id === runId && d.step === 0 && d.status === 'completed');

    const res = await stop({ reason: 'valve stuck open' });

    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      success: true,
      active: true,
      reason: 'valve stuck open',
      runs_cancelled: 1,
      actuators_off: 1,
      actuators_failed: [],
    });
    expect(Date.parse(res.json().since)).not.toBeNaN();
    await h.ended(runId);
    expect(h.sim.actuator('ESP_H', 5)?.on).toBe(false);
    expect((await app.inject({ url: `/api/v1/sequences/${runId}`, headers: VIEWER })).json()).toMatchObject({ status: 'cancelled' });

    const refused = await startPump();
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toEqual({
      success: false,
      error: {
        code: Codes.SAFETY_BLOCKED,
        name: 'SEQ_SAFETY_BLOCKED',
        message: 'Start blocked: emergency stop is active (valve stuck open)',
        details: [],
      },
    });
    expect((await app.inject({ url: '/api/v1/emergency-stop', headers: VIEWER })).json()).toMatchObject({ active: true, reason: 'valve stuck open' });

    const cleared = await app.inject({ method: 'POST', url: '/api/v1/emergency-stop/clear', headers: OPERATOR });
    expect(cleared.statusCode).toBe(200);
    expect(cleared.json()).toMatchObject({ success: true, active: false, reason: null });
    expect((await startPump()).statusCode).toBe(202);
    expect(h.events.filter((e) => e.type === 'emergency_stop').map((e) => e.data)).toEqual([
      { active: true, reason: 'valve stuck open', runs_cancelled: 1, actuators_off: 1 },
      { active: false, reason: null, runs_cancelled: 0, actuators_off: 0 },
    ]);
  });

  it.each([
    ['no body', undefined],
    ['no reason', {}],
  ])('stops everything when pressed with %s, with no made-up reason: the run says "Cancelled: Emergency stop"', async (_what, body) => {
    const runId = (await startPump()).json().run_id as string;
    await h.next('sequence_step', (d) => d.run_id === runId && d.step === 0 && d.status === 'completed');
    const res = await stop(body);

    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ success: true, active: true, reason: null, history: [{ reason: null }] });
    expect(h.services.safety.latch.active).toBe(true);
    expect((await h.ended(runId)).error).toBe('Cancelled: Emergency stop');
  });

  it.each([
    ['an empty reason', { reason: '' }],
    ['a reason over 500 characters', { reason: 'x'.repeat(501) }],
    ['a reason that is not a string', { reason: 42 }],
    ['an unknown key', { reason: 'ok', force: true }],
  ])('refuses %s with 422/5600 and stops nothing', async (_what, body) => {
    const res = await stop(body);

    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ success: false, error: { code: Codes.INVALID_DEFINITION, name: 'SEQ_INVALID_DEFINITION' } });
    expect(h.services.safety.latch.active).toBe(false);
  });

  it('is for operators only: 401 without a token, 403 for a viewer, and the latch stays as it was', async () => {
    const anonymous = await stop({ reason: 'test' }, {});
    const viewer = await stop({ reason: 'test' }, VIEWER);
    const viewerClear = await app.inject({ method: 'POST', url: '/api/v1/emergency-stop/clear', headers: VIEWER });

    expect([anonymous.statusCode, viewer.statusCode, viewerClear.statusCode]).toEqual([401, 403, 403]);
    expect(viewer.json().success).toBe(false);
    expect(h.services.safety.latch.active).toBe(false);
    expect((await app.inject({ url: '/api/v1/emergency-stop' })).statusCode).toBe(401);
  });
});

describe('POST /api/v1/sequences over the start rate limit', () => {
  it('answers 429 with code 5641 and says when to retry', async () => {
    await app.close();
    await h.close();
    h = await startHarness({ rate_limits: { starts_per_second: 1 } });
    app = await buildApp(h.services);

    const first = await app.inject({ method: 'POST', url: '/api/v1/sequences', payload: { steps: [wait(1)] } });
    const second = await app.inject({ method: 'POST', url: '/api/v1/sequences', payload: { steps: [wait(1)] } });

    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(429);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.json().error).toMatchObject({ code: Codes.RATE_LIMITED, name: 'SEQ_RATE_LIMITED', message: 'Start rate limit exceeded (1/s)' });
  });
});
