import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_BODY_LIMIT } from '../../src/api/build-app.ts';
import { expectError, testApp, type TestApp } from './api-harness.ts';

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});
afterEach(async () => {
  await t.close();
});

const postRaw = (url: string, payload: string, contentType?: string) =>
  t.inject({ method: 'POST', url, payload, headers: contentType ? { 'content-type': contentType } : {} });

describe('malformed requests get the SPEC 4 body with code 5600 and a 4xx', () => {
  it('answers 400 to a body that is not JSON', async () => {
    const error = expectError(await postRaw('/api/v1/sequences', '{"steps": [', 'application/json'), 400, 5600);
    expect(error.error.name).toBe('SEQ_INVALID_DEFINITION');
    expect(error.error.message).toBe('Request body is not valid JSON');
  });

  it('answers 400 to JSON that tries prototype poisoning', async () => {
    expectError(await postRaw('/api/v1/sequences', '{"__proto__": {"admin": true}, "steps": []}', 'application/json'), 400, 5600);
  });

  it('answers 415 to a content type other than JSON, and to a body without one', async () => {
    const error = expectError(await postRaw('/api/v1/sequences', 'steps=1', 'application/x-www-form-urlencoded'), 415, 5600);
    expect(error.error.message).toContain('application/json');
    expectError(await postRaw('/api/v1/sequences', '{"steps":[]}', 'text/plain'), 415, 5600);
    expectError(await postRaw('/api/v1/sequences', '{"steps":[]}'), 415, 5600);
  });

  it('answers 413 to a body above the limit and starts nothing', async () => {
    const huge = JSON.stringify({ description: 'x'.repeat(DEFAULT_BODY_LIMIT), steps: [{ delay_seconds: 1 }] });
    expectError(await postRaw('/api/v1/sequences', huge, 'application/json'), 413, 5600);
    expect(t.services.engine.runningCount).toBe(0);
  });

  it('answers 404 with "Route not found" to an unknown route', async () => {
    const error = expectError(await t.inject({ method: 'GET', url: '/api/v1/nothing-here' }), 404, 5652);
    expect(error.error.name).toBe('SEQ_ROUTE_NOT_FOUND');
    expect(error.error.message).toBe('Route not found: GET /api/v1/nothing-here');
  });

  it('answers 405 with an Allow header to a wrong method on a known route', async () => {
    const response = await t.inject({ method: 'DELETE', url: '/api/v1/sequences/some-run' });
    expectError(response, 405, 5652);
    expect(response.headers.allow).toBe('GET');
    const put = await t.inject({ method: 'PUT', url: '/api/v1/sequences' });
    expectError(put, 405, 5652);
    expect(put.headers.allow).toBe('GET, POST');
  });

  it('answers 400 to a malformed URL', async () => {
    expectError(await t.inject({ method: 'GET', url: '/api/v1/sequences/%E0%A4%A' }), 400, 5600);
  });

  it('answers 414 to an over-long id rather than looking it up', async () => {
    const error = expectError(await t.inject({ method: 'GET', url: `/api/v1/sequences/${'a'.repeat(150)}` }), 414, 5600);
    expect(error.error.message).toBe('A path parameter is too long');
  });

  it('answers 400 to a body nested deeper than 64 levels and starts nothing', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const body = `{"steps":[{"delay_seconds":1}],"context":{"trigger_data":${deep}}}`;
    const error = expectError(await postRaw('/api/v1/sequences', body, 'application/json'), 400, 5600);
    expect(error.error.message).toContain('nested deeper than 64');
    expect(t.services.engine.runningCount).toBe(0);
  });

  it('answers 400 to invalid UTF-8 inside a JSON string and starts nothing', async () => {
    const body = Buffer.concat([Buffer.from('{"sequence_id":"zone-'), Buffer.from([0xc3, 0x28]), Buffer.from('","steps":[{"delay_seconds":1}]}')]);
    const response = await t.inject({ method: 'POST', url: '/api/v1/sequences', payload: body, headers: { 'content-type': 'application/json' } });
    const error = expectError(response, 400, 5600);
    expect(error.error.message).toBe('Request body is not valid UTF-8');
    expect(t.services.engine.runningCount).toBe(0);
  });

  it('answers a body of 100,000 bad steps with a small 422: the first 100 problems, then one that counts the rest', async () => {
    const body = JSON.stringify({ steps: Array.from({ length: 100_000 }, () => ({})) });
    const response = await postRaw('/api/v1/sequences', body, 'application/json');
    expect(response.body.length).toBeLessThan(20_000);
    const { details } = expectError(response, 422, 5606).error;
    expect(details).toHaveLength(101);
    expect(details[0]).toEqual({ path: 'steps', code: 5606, message: expect.any(String) });
    expect(details[1]).toEqual({ path: 'steps[0]', code: 5604, message: "Step requires either 'action', 'delay_seconds' or 'wait_for'" });
    expect(details[100]).toEqual({ path: '', code: 5606, message: '99901 more problems not listed (only the first 100 are)' });
  });

  it('validates a body of 100,000 bad steps with the same cap', async () => {
    const body = JSON.stringify({ steps: Array.from({ length: 100_000 }, () => ({})) });
    const response = await postRaw('/api/v1/sequences/validate', body, 'application/json');
    expect(response.statusCode).toBe(200);
    const { valid, errors } = response.json() as { valid: boolean; errors: { message: string }[] };
    expect([valid, errors.length, errors.at(-1)?.message]).toEqual([false, 101, '99901 more problems not listed (only the first 100 are)']);
  });

  it('accepts trigger data nested as deep as a real rule engine sends it', async () => {
    const data = JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`);
    const response = await postRaw('/api/v1/sequences', JSON.stringify({ steps: [{ delay_seconds: 0 }], context: { trigger_data: data } }), 'application/json');
    expect(response.statusCode).toBe(202);
  });
});

describe('faults of the server itself', () => {
  it('answer 500/5631 without leaking the cause', async () => {
    t.services.engine.stats = () => {
      throw new Error('disk on fire at /var/lib/secret');
    };
    const error = expectError(await t.inject({ method: 'GET', url: '/api/v1/sequences/stats' }), 500, 5631);
    expect(error.error.message).toBe('Internal sequence error');
  });
});
