import { afterEach, describe, expect, it } from 'vitest';
import { actuatorStep, expectError, fakeMqttDriver, testApp, type TestApp } from './api-harness.ts';

let t: TestApp;
afterEach(async () => {
  await t?.close();
});

const json = <T>(response: { body: string }) => JSON.parse(response.body) as T;

/** The value of one sample line of a Prometheus text exposition, 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('GET /health', () => {
  it('answers 200 ok with the driver, runs and emergency stop once the app is ready', async () => {
    t = await testApp();
    const response = await t.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(json(response)).toMatchObject({
      status: 'ok',
      runs_running: 0,
      driver: { kind: 'sim', ok: true },
      emergency_stop: false,
    });
  });

  it('answers 503 draining while the app shuts down, and refuses starts then', async () => {
    t = await testApp();
    t.app.lifecycle.phase = 'draining';
    const health = await t.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(503);
    expect(json(health)).toMatchObject({ status: 'draining' });
    const start = await t.inject({ method: 'POST', url: '/api/v1/sequences', payload: { steps: [{ delay_seconds: 0 }] } });
    const error = expectError(start, 503, 5630);
    expect(error.error.message).toBe('The server is shutting down');
    expect(t.services.engine.runningCount).toBe(0);
    // Reads still work while draining.
    expect((await t.inject({ method: 'GET', url: '/api/v1/sequences' })).statusCode).toBe(200);
  });

  it('reports an unhealthy driver', async () => {
    const driver = fakeMqttDriver({ ok: false, detail: 'broker unreachable' });
    t = await testApp({ driver: 'mqtt' }, { createDriver: async () => driver });
    const response = await t.inject({ method: 'GET', url: '/health' });
    expect(json(response)).toMatchObject({ driver: { kind: 'mqtt', ok: false, detail: 'broker unreachable' } });
  });
});

describe('GET /metrics', () => {
  it('counts runs by final status and actuator commands by result', async () => {
    t = await testApp();
    t.services.sim?.configure('ESP_BAD', { fail: true });
    const ok = json<{ run_id: string }>(await t.inject({ method: 'POST', url: '/api/v1/sequences', payload: { steps: [actuatorStep(), actuatorStep('ESP_A', 5, 'OFF')] } }));
    const bad = json<{ run_id: string }>(await t.inject({ method: 'POST', url: '/api/v1/sequences', payload: { steps: [actuatorStep('ESP_BAD', 1, 'OFF')] } }));
    await t.ended(ok.run_id);
    await t.ended(bad.run_id);

    const response = await t.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    const text = response.body;
    expect(sample(text, 'sequencer_runs_started_total')).toBe(2);
    expect(sample(text, 'sequencer_runs_ended_total{status="completed"}')).toBe(1);
    expect(sample(text, 'sequencer_runs_ended_total{status="failed"}')).toBe(1);
    expect(sample(text, 'sequencer_runs_running')).toBe(0);
    // Every command a node answered is counted once, whoever sent it (steps or the safe state).
    const commands = (espId: string) => t.services.sim?.devices().find((d) => d.esp_id === espId)?.commands ?? 0;
    expect(sample(text, 'sequencer_actuator_commands_total{result="ok"}')).toBe(commands('ESP_A'));
    expect(commands('ESP_A')).toBe(2);
    expect(sample(text, 'sequencer_actuator_commands_total{result="failed"}')).toBe(commands('ESP_BAD'));
    expect(commands('ESP_BAD')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'sequencer_step_duration_seconds_count{phase="steps",result="success"}')).toBe(2);
    expect(sample(text, 'sequencer_step_duration_seconds_count{phase="steps",result="failure"}')).toBe(1);
    expect(text).toContain('sequencer_ws_clients');
    expect(text).toContain('sequencer_event_lag_seconds_bucket');
  });

  it("shows the process and Node.js defaults beside the server's own families", async () => {
    t = await testApp();
    const response = await t.inject({ method: 'GET', url: '/metrics' });
    const text = response.body;
    for (const family of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds']) {
      expect(text).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
    }
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'sequencer_runs_started_total')).toBe(0);
    // Each family once: the process defaults are not repeated per server.
    const types = text.match(/^# TYPE \S+/gm) ?? [];
    expect(new Set(types).size).toBe(types.length);
  });

  it('shows the runs running at scrape time', async () => {
    t = await testApp();
    await t.inject({ method: 'POST', url: '/api/v1/sequences', payload: { steps: [{ delay_seconds: 600 }] } });
    const text = (await t.inject({ method: 'GET', url: '/metrics' })).body;
    expect(sample(text, 'sequencer_runs_running')).toBe(1);
  });
});

describe('GET /docs', () => {
  it('serves the UI and an OpenAPI document generated from the zod schemas', async () => {
    t = await testApp();
    const ui = await t.inject({ method: 'GET', url: '/docs' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');

    const doc = json<{ openapi: string; paths: Record<string, Record<string, any>> }>(await t.inject({ method: 'GET', url: '/docs/json' }));
    expect(doc.openapi).toBe('3.1.0');
    const start = doc.paths['/api/v1/sequences']?.post;
    const body = start.requestBody.content['application/json'].schema;
    expect(body.properties.steps.maxItems).toBe(50);
    expect(body.properties.steps.items.properties.delay_seconds.maximum).toBe(3600);
    expect(body.properties.context).toBeDefined();
    expect(Object.keys(start.responses)).toEqual(expect.arrayContaining(['202', '409', '422']));
    expect(start.responses['422'].content['application/json'].schema.properties.error.properties.details).toBeDefined();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/health', '/metrics', '/api/v1/sequences/{id}/cancel', '/api/v1/sim/devices/{esp_id}']),
    );
  });
});

describe('simulated devices', () => {
  it('lists nodes with their actuators after a run commanded them', async () => {
    t = await testApp();
    const { run_id } = json<{ run_id: string }>(await t.inject({ method: 'POST', url: '/api/v1/sequences', payload: { steps: [actuatorStep('ESP_LIST', 7)] } }));
    await t.ended(run_id);
    const response = await t.inject({ method: 'GET', url: '/api/v1/sim/devices' });
    expect(json(response)).toEqual({
      success: true,
      devices: [expect.objectContaining({ esp_id: 'ESP_LIST', commands: 1, actuators: [expect.objectContaining({ gpio: 7, on: true, value: 1 })] })],
    });
  });

  it('makes a node fail, and a run commanding it fails with the device message', async () => {
    t = await testApp();
    const put = await t.inject({ method: 'PUT', url: '/api/v1/sim/devices/ESP_F', payload: { fail: true, latency_ms: 1 } });
    expect(put.statusCode).toBe(200);
    expect(json(put)).toMatchObject({ success: true, device: { esp_id: 'ESP_F', fail: true, hang: false, latency_ms: 1 } });
    const { run_id } = json<{ run_id: string }>(await t.inject({ method: 'POST', url: '/api/v1/sequences', payload: { steps: [actuatorStep('ESP_F')] } }));
    const ended = await t.ended(run_id);
    expect(ended.data.status).toBe('failed');
    expect(ended.data.error).toContain('simulated failure');
  });

  it('rejects an unknown behaviour key, a wrong type and a missing body with 422', async () => {
    t = await testApp();
    const unknown = expectError(await t.inject({ method: 'PUT', url: '/api/v1/sim/devices/ESP_X', payload: { explode: true } }), 422, 5600);
    expect(unknown.error.details[0]?.path).toBe('explode');
    const wrong = expectError(await t.inject({ method: 'PUT', url: '/api/v1/sim/devices/ESP_X', payload: { latency_ms: 'slow' } }), 422, 5600);
    expect(wrong.error.details[0]?.path).toBe('latency_ms');
    expectError(await t.inject({ method: 'PUT', url: '/api/v1/sim/devices/ESP_X' }), 422, 5600);
  });

  it('do not exist with another driver', async () => {
    const driver = fakeMqttDriver({ ok: true, detail: 'connected' });
    t = await testApp({ driver: 'mqtt' }, { createDriver: async () => driver });
    expectError(await t.inject({ method: 'GET', url: '/api/v1/sim/devices' }), 404, 5652);
  });
});
