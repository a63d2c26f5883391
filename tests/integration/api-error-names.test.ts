/**
 * Every refusal names its own case (SPEC 4): the code, its registry name and the message describe
 * what happened, never a name borrowed from another code.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/domain/errors.ts';
import { expectError, testApp, type TestApp } from './api-harness.ts';

const OPERATOR = { authorization: 'Bearer op-token' };
const VIEWER = { authorization: 'Bearer view-token' };

let t: TestApp;
beforeEach(async () => {
  t = await testApp({ tokens: [{ token: 'op-token', role: 'operator' }, { token: 'view-token', role: 'viewer' }] });
});
afterEach(async () => {
  await t.close();
});

const post = (url: string, payload?: object, headers = OPERATOR) =>
  t.inject({ method: 'POST', url, headers: payload ? { ...headers, 'content-type': 'application/json' } : headers, payload });

/** Starts a run that waits a minute. */
async function startWaiting(): Promise<string> {
  const started = await post('/api/v1/sequences', { steps: [{ delay_seconds: 60 }] });
  return started.json<{ run_id: string }>().run_id;
}

/** The refusal, checked for its status, code and the registry's name of that code. */
function refusal(response: { statusCode: number; body: string }, status: number, code: number, name: string) {
  const body = expectError(response, status, code);
  expect(ERRORS.get(code)?.name).toBe(name);
  expect(body.error.name).toBe(name);
  return body.error;
}

describe('the name of every refusal matches its case', () => {
  it('pausing a paused run is 409/5619 SEQ_INVALID_STATE "Run ... is paused"', async () => {
    const runId = await startWaiting();
    expect((await post(`/api/v1/sequences/${runId}/pause`)).statusCode).toBe(200);
    const error = refusal(await post(`/api/v1/sequences/${runId}/pause`), 409, 5619, 'SEQ_INVALID_STATE');
    expect(error.message).toMatch(new RegExp(`^Run ${runId} is paused`));
  });

  it('resuming a running run is 409/5619 SEQ_INVALID_STATE "Run ... is running"', async () => {
    const runId = await startWaiting();
    const error = refusal(await post(`/api/v1/sequences/${runId}/resume`), 409, 5619, 'SEQ_INVALID_STATE');
    expect(error.message).toMatch(new RegExp(`^Run ${runId} is running`));
  });

  it('cancelling a run that ended is 409/5619 SEQ_INVALID_STATE "Run ... is completed"', async () => {
    const runId = (await post('/api/v1/sequences', { steps: [{ delay_seconds: 0 }] })).json<{ run_id: string }>().run_id;
    await t.ended(runId);
    const error = refusal(await post(`/api/v1/sequences/${runId}/cancel`, {}), 409, 5619, 'SEQ_INVALID_STATE');
    expect(error.message).toMatch(new RegExp(`^Run ${runId} is completed`));
  });

  it('an unknown route is 404/5652 SEQ_ROUTE_NOT_FOUND, and a wrong method 405/5652', async () => {
    refusal(await t.inject({ method: 'GET', url: '/api/v1/nothing-here', headers: OPERATOR }), 404, 5652, 'SEQ_ROUTE_NOT_FOUND');
    refusal(await t.inject({ method: 'DELETE', url: '/api/v1/sequences', headers: OPERATOR }), 405, 5652, 'SEQ_ROUTE_NOT_FOUND');
  });

  it('a missing or unknown token is 401/5650 SEQ_UNAUTHORIZED', async () => {
    refusal(await t.inject({ method: 'GET', url: '/api/v1/sequences' }), 401, 5650, 'SEQ_UNAUTHORIZED');
    refusal(await t.inject({ method: 'GET', url: '/api/v1/sequences', headers: { authorization: 'Bearer nope' } }), 401, 5650, 'SEQ_UNAUTHORIZED');
  });

  it('a viewer that tries to control is 403/5651 SEQ_FORBIDDEN, and nothing starts', async () => {
    refusal(await post('/api/v1/sequences', { steps: [{ delay_seconds: 1 }] }, VIEWER), 403, 5651, 'SEQ_FORBIDDEN');
    expect(t.services.engine.runningCount).toBe(0);
  });
});
