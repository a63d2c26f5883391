/**
 * A closed loop end to end with nothing but the server (SPEC 2.1, 9.1): a real server on a free
 * port with the sim driver, a simulated moisture sensor that rises while its valve is ON, a run
 * started over REST and watched over the WebSocket; and signals over REST.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, startTestServer, type TestClient, type TestServer } from './ws-harness.ts';

let server: TestServer;
let client: TestClient;

beforeEach(async () => {
  server = await startTestServer();
  client = await connect(server.wsUrl());
});

afterEach(async () => {
  client.ws.close();
  await server.close();
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.base}/api/v1${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const valve = (command: 'ON' | 'OFF') => ({ name: `Valve ${command}`, action: { type: 'actuator_command', esp_id: 'ESP_Z', gpio: 5, command } });

describe('irrigate until moist on the sim', () => {
  it('opens the valve, waits while the soil moistens, goes on once it reads above 40 % and closes the valve', async () => {
    const sensor = await call('PUT', '/sim/sensors/ESP_Z/34', { value: 35, unit: '%', follows: { esp_id: 'ESP_Z', gpio: 5, rate_per_second: 10 } });
    expect(sensor.status).toBe(200);
    const { run_id } = await server.start({
      sequence_id: 'zone-z',
      steps: [valve('ON'), { name: 'Until moist', wait_for: { condition: { sensor: { esp_id: 'ESP_Z', gpio: 34 }, above: 40 }, timeout_seconds: 30 } }, valve('OFF')],
    });
    const done = await client.completed(run_id);
    expect(done.data).toMatchObject({ status: 'completed', steps_completed: 3 });
    const steps = client.of(run_id).filter((m) => m.type === 'sequence_step').map((m) => m.data as { step: number; status: string; message: string });
    expect(steps.map((s) => `${s.step}:${s.status}`)).toEqual(['0:starting', '0:completed', '1:starting', '1:waiting', '1:completed', '2:starting', '2:completed']);
    expect(steps[3]?.message).toBe('waiting for ESP_Z:34 above 40');
    const states = client.of(run_id).filter((m) => m.type === 'sequence_state').map((m) => (m.data as { state: string }).state);
    expect(states).toContain('running.waiting');

    const progress = await call('GET', `/sequences/${run_id}`);
    const waited = progress.body.step_results[1];
    expect(waited).toMatchObject({ step_name: 'Until moist', success: true, skipped: false });
    const value = Number(/^ESP_Z:34 = ([\d.]+) % at \d\d:\d\d:\d\d$/.exec(waited.message)?.[1]);
    expect(value).toBeGreaterThan(40);
    const devices = await call('GET', '/sim/devices');
    expect(JSON.stringify(devices.body)).toContain('"on":false');
    expect(server.services.sim?.actuator('ESP_Z', 5)).toMatchObject({ on: false });
  });
});

describe('POST /sequences/{id}/signal', () => {
  const untilFull = { name: 'Until full', wait_for: { condition: { signal: 'tank_full' }, timeout_seconds: 30 } };

  it('answers {success, run_id, name}, announces sequence_signal on the stream and ends the wait', async () => {
    const { run_id } = await server.start({ sequence_id: 'tank', steps: [untilFull] });
    await client.waitFor((m) => m.type === 'sequence_step' && (m.data as { status: string }).status === 'waiting');
    const answer = await call('POST', '/sequences/tank/signal', { name: 'tank_full', data: { level_cm: 182 } });
    expect(answer).toEqual({ status: 200, body: { success: true, run_id, name: 'tank_full' } });
    const signal = await client.waitFor((m) => m.type === 'sequence_signal');
    expect(signal.data).toEqual({ sequence_id: 'tank', run_id, name: 'tank_full', data: { level_cm: 182 } });
    expect((await client.completed(run_id)).data).toMatchObject({ status: 'completed' });

    const ended = await call('POST', `/sequences/${run_id}/signal`, { name: 'tank_full' });
    expect(ended.status).toBe(409);
    expect(ended.body.error).toMatchObject({ code: 5619, name: 'SEQ_INVALID_STATE' });
  });

  it('refuses a bad body with 422/5600 at its path and an unknown run with 404/5611', async () => {
    const { run_id } = await server.start({ sequence_id: 'tank', steps: [untilFull] });
    const tooLong = await call('POST', `/sequences/${run_id}/signal`, { name: 'x'.repeat(65) });
    expect(tooLong.status).toBe(422);
    expect(tooLong.body.error.details).toEqual([expect.objectContaining({ path: 'name', code: 5600 })]);
    const empty = await call('POST', `/sequences/${run_id}/signal`, { name: '' });
    expect(empty.status).toBe(422);
    const extra = await call('POST', `/sequences/${run_id}/signal`, { name: 'a', colour: 'red' });
    expect(extra.body.error.details).toEqual([expect.objectContaining({ path: 'colour' })]);
    const unknown = await call('POST', '/sequences/nobody/signal', { name: 'a' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe(5611);
  });
});
