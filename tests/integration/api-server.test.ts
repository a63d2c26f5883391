import { afterEach, describe, expect, it } from 'vitest';
import type { Progress } from '../../src/domain/progress.ts';
import { ConfigError } from '../../src/config/load-config.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { actuatorStep, endRecorder, isErrorBody, testConfig } from './api-harness.ts';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const TOKENS = [
  { token: 'viewer-token', role: 'viewer' as const },
  { token: 'operator-token', role: 'operator' as const },
];

async function call(path: string, init: { method?: string; token?: string; body?: unknown; authorization?: string } = {}) {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.authorization) headers.authorization = init.authorization;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${server?.url}${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

describe('startServer', () => {
  it('listens on a free port, runs a sequence started over HTTP to completion, and closes', async () => {
    server = await startServer(testConfig());
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const ended = endRecorder(server.services);
    const start = await call('/api/v1/sequences', { method: 'POST', body: { sequence_id: 'e2e', steps: [actuatorStep(), { delay_seconds: 0.05 }, actuatorStep('ESP_A', 5, 'OFF')] } });
    expect(start.status).toBe(202);
    const { run_id } = start.json() as { run_id: string };
    await ended(run_id);
    const progress = (await call(`/api/v1/sequences/${run_id}`)).json() as Progress;
    expect(progress).toMatchObject({ status: 'completed', progress_percent: 100, total_steps: 3 });
    expect(progress.step_results).toHaveLength(3);
  });

  it('refuses a non-loopback host without a token before building anything', async () => {
    await expect(startServer(testConfig({ host: '0.0.0.0' }))).rejects.toBeInstanceOf(ConfigError);
  });

  it('shuts down with a run in flight: health turns draining, close resolves, the port stops answering', async () => {
    server = await startServer(testConfig());
    server.services.sim?.configure('ESP_HANG', { hang: true });
    const start = await call('/api/v1/sequences', { method: 'POST', body: { steps: [actuatorStep('ESP_HANG')] } });
    expect(start.status).toBe(202);
    const { url, app } = server;
    const first = server.close();
    expect(app.lifecycle.phase).toBe('draining');
    expect(server.close()).toBe(first);
    await first;
    server = undefined;
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});

describe('bearer-token auth on a real port', () => {
  it('answers 401 without a token, with an unknown token and with a malformed header', async () => {
    server = await startServer(testConfig({ tokens: TOKENS }));
    for (const init of [{}, { token: 'wrong' }, { authorization: 'Basic b3BlcmF0b3ItdG9rZW4=' }, { authorization: 'Bearer' }]) {
      const response = await call('/api/v1/sequences', init);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      const body = response.json();
      expect(isErrorBody(body)).toBe(true);
      expect(body.error).toMatchObject({ code: 5650, name: 'SEQ_UNAUTHORIZED', message: 'Missing or invalid bearer token' });
    }
  });

  it('lets a viewer read but answers 403 when it tries to control', async () => {
    server = await startServer(testConfig({ tokens: TOKENS }));
    expect((await call('/api/v1/sequences', { token: 'viewer-token' })).status).toBe(200);
    expect((await call('/api/v1/sequences/stats', { token: 'viewer-token' })).status).toBe(200);
    const start = await call('/api/v1/sequences', { method: 'POST', token: 'viewer-token', body: { steps: [{ delay_seconds: 0 }] } });
    expect(start.status).toBe(403);
    expect(start.json().error).toMatchObject({ code: 5651, name: 'SEQ_FORBIDDEN', details: [{ path: 'headers.authorization', code: 5651 }] });
    expect(start.json().error.message).toContain('operator');
    expect(server.services.engine.runningCount).toBe(0);
    expect((await call('/api/v1/sim/devices/ESP_1', { method: 'PUT', token: 'viewer-token', body: { fail: true } })).status).toBe(403);
  });

  it('lets an operator start a run and a viewer watch it complete', async () => {
    server = await startServer(testConfig({ tokens: TOKENS }));
    const ended = endRecorder(server.services);
    const start = await call('/api/v1/sequences', { method: 'POST', token: 'operator-token', body: { steps: [actuatorStep()] } });
    expect(start.status).toBe(202);
    const { run_id } = start.json() as { run_id: string };
    await ended(run_id);
    const progress = await call(`/api/v1/sequences/${run_id}`, { token: 'viewer-token' });
    expect(progress.json()).toMatchObject({ run_id, status: 'completed' });
  });

  it('keeps /health and /docs open and /metrics behind a token', async () => {
    server = await startServer(testConfig({ tokens: TOKENS }));
    expect((await call('/health')).status).toBe(200);
    expect((await call('/docs/json')).status).toBe(200);
    expect((await call('/metrics')).status).toBe(401);
    expect((await call('/metrics', { token: 'viewer-token' })).status).toBe(200);
  });

  it('checks the token before telling whether a route exists', async () => {
    server = await startServer(testConfig({ tokens: TOKENS }));
    expect((await call('/api/v1/secret-admin')).status).toBe(401);
    expect((await call('/api/v1/secret-admin', { token: 'viewer-token' })).status).toBe(404);
  });
});
