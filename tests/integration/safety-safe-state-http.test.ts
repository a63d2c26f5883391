/**
 * The bounded safe state over the wire (SPEC 10): a run whose device hangs ends failed once the
 * step timeout and the safe-state timeout have passed, with a `safety_alert` on the stream, the
 * metric and `safe_state: "failed"`; the actuator's lease stays with the run until an operator's
 * OFF is confirmed by the device.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/server-config.ts';
import { connect, startTestServer, type TestClient, type TestServer } from './ws-harness.ts';

let server: TestServer;
let client: TestClient;

beforeEach(async () => {
  server = await startTestServer({ safety: { ...defaultConfig().safety, safe_state_timeout_seconds: 0.2 } });
  client = await connect(server.wsUrl());
});

afterEach(async () => {
  client.ws.close();
  await server.close();
});

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${server.base}/api/v1${path}`, { ...init, headers: { 'content-type': 'application/json', ...init.headers } });

describe('a run whose device hangs', () => {
  it('ends failed with safe_state failed and a safety_alert; an operator OFF releases the lease once the device answers', async () => {
    await api('/sim/devices/ESP_HANG', { method: 'PUT', body: JSON.stringify({ hang: true }) });
    const { run_id } = await server.start({
      sequence_id: 'hanging-valve',
      steps: [{ name: 'Open valve', action: { type: 'actuator_command', esp_id: 'ESP_HANG', gpio: 5, command: 'ON' }, timeout_seconds: 1 }],
    });

    await client.completed(run_id);
    const types = client.of(run_id).map((m) => m.type).filter((type) => type !== 'sequence_state' && type !== 'sequence_step');
    expect(types).toEqual(['sequence_started', 'sequence_error', 'sequence_stopping', 'safety_alert', 'sequence_completed']);
    expect(client.of(run_id).find((m) => m.type === 'safety_alert')?.data).toEqual({
      sequence_id: 'hanging-valve',
      run_id,
      esp_id: 'ESP_HANG',
      gpio: 5,
      error_code: 5643,
      message: 'ESP_HANG:5 could not be confirmed OFF: no answer within 0.2 s',
    });
    const progress = await (await api(`/sequences/${run_id}`)).json();
    expect(progress).toMatchObject({ status: 'failed', error_code: 5615, failed_step: 0, safe_state: 'failed', safe_state_at: expect.any(String) });
    expect(await (await fetch(`${server.base}/metrics`)).text()).toMatch(/^sequencer_safety_alerts_total 1$/m);
    const held = (await (await api('/devices')).json()) as { devices: { esp_id: string; actuators: object[] }[] };
    expect(held.devices.find((d) => d.esp_id === 'ESP_HANG')?.actuators).toEqual([
      { gpio: 5, state: 'UNKNOWN', value: null, held_by_run: run_id, last_command: null, emergency: null, updated_at: null },
    ]);

    const refused = await api('/devices/ESP_HANG/actuators/5/off', { method: 'POST' });
    expect([refused.status, ((await refused.json()) as { error: object }).error]).toEqual([
      409,
      expect.objectContaining({ code: 5643, message: `ESP_HANG:5 could not be confirmed OFF: no answer within 0.2 s; its lease stays with run ${run_id}` }),
    ]);

    await api('/sim/devices/ESP_HANG', { method: 'PUT', body: JSON.stringify({ hang: false }) });
    const released = await api('/devices/ESP_HANG/actuators/5/off', { method: 'POST' });
    expect([released.status, await released.json()]).toEqual([200, { success: true, esp_id: 'ESP_HANG', gpio: 5, released_from_run: run_id }]);
    const devices = (await (await api('/devices')).json()) as { devices: { esp_id: string; actuators: object[] }[] };
    expect(devices.devices.find((d) => d.esp_id === 'ESP_HANG')?.actuators).toMatchObject([{ gpio: 5, state: 'OFF', held_by_run: null }]);
  });
});
