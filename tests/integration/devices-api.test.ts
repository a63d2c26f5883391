/**
 * `GET /api/v1/devices` and the node presence of `/health` with the sim driver (the mqtt driver's
 * nodes are covered by mqtt-firmware.test.ts), and what a device alert does to the run holding
 * the actuator it concerns.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Codes } from '../../src/domain/errors.ts';
import { applyDeviceAlert } from '../../src/safety/device-faults.ts';
import { fakeMqttDriver, nextEvent, testApp, type TestApp } from './api-harness.ts';

let t: TestApp;

afterEach(async () => {
  await t.close();
});

const holdPump = { steps: [{ name: 'Pump on', action: { type: 'actuator_command', esp_id: 'ESP_A', gpio: 5, command: 'ON' } }, { name: 'Water', delay_seconds: 600 }] };

/** Starts a run that switches ESP_A:5 on and waits 600 s; resolves once it is in the wait. */
async function startHolding(): Promise<string> {
  // Waited for before the start: with the sim answering at once, the run may reach the wait before the POST is answered.
  const waiting = nextEvent(t.services, (e) => e.type === 'sequence_step' && (e.data as { step: number }).step === 1);
  const started = await t.inject({ method: 'POST', url: '/api/v1/sequences', payload: holdPump });
  await waiting;
  return started.json<{ run_id: string }>().run_id;
}

describe('GET /api/v1/devices', () => {
  it("shows every simulated node online with its actuators, the run holding each, and the last command", async () => {
    t = await testApp();
    expect((await t.inject({ method: 'GET', url: '/api/v1/devices' })).json()).toEqual({ success: true, devices: [] });
    const runId = await startHolding();

    const response = await t.inject({ method: 'GET', url: '/api/v1/devices' });
    expect(response.statusCode).toBe(200);
    const [node] = response.json<{ devices: Record<string, unknown>[] }>().devices;
    expect(node).toEqual({
      esp_id: 'ESP_A',
      online: true,
      presence: 'online',
      last_seen_at: expect.any(String),
      safe_mode: false,
      safe_mode_reason: null,
      actuators: [{ gpio: 5, state: 'ON', value: 1, held_by_run: runId, last_command: 'ON', emergency: null, updated_at: node?.last_seen_at }],
    });
    expect(Date.parse(node?.last_seen_at as string)).not.toBeNaN();
    expect((await t.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({ devices: { known: 1, online: 1, offline: [], safe_mode: [] } });

    await t.inject({ method: 'POST', url: `/api/v1/sequences/${runId}/cancel` });
    await t.ended(runId);
    const after = (await t.inject({ method: 'GET', url: '/api/v1/devices' })).json<{ devices: { actuators: unknown[] }[] }>();
    expect(after.devices[0]?.actuators).toEqual([expect.objectContaining({ gpio: 5, state: 'OFF', value: 0, held_by_run: null, last_command: 'OFF' })]);
  });

  it('answers an empty list for a driver that cannot list its nodes', async () => {
    t = await testApp({ driver: 'mqtt' }, { createDriver: async () => fakeMqttDriver({ ok: true, detail: 'fake' }) });
    expect((await t.inject({ method: 'GET', url: '/api/v1/devices' })).json()).toEqual({ success: true, devices: [] });
    expect((await t.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({ devices: { known: 0, online: 0, offline: [], safe_mode: [] } });
  });
});

describe('a device alert', () => {
  it("is published, fails the holding run's step with 5614 and the node's message, and its safe state turns the actuator OFF", async () => {
    t = await testApp();
    const runId = await startHolding();
    const alert = { esp_id: 'ESP_A', gpio: 5, type: 'overrun', message: 'ESP_A gpio 5: overrun: Max-Laufzeit überschritten', affects: [5] };

    expect(applyDeviceAlert(alert, t.services.safety.leases, t.services.engine)).toEqual([runId]);
    const ended = await t.ended(runId);

    expect(ended.data).toMatchObject({ status: 'failed', error_code: Codes.STEP_FAILED, error: `Device alert: ${alert.message}` });
    const progress = (await t.inject({ method: 'GET', url: `/api/v1/sequences/${runId}` })).json<{ step_results: unknown[]; cleanup_results: unknown[] }>();
    expect(progress.step_results[1]).toMatchObject({ step_name: 'Water', success: false, error_code: Codes.STEP_FAILED, message: `Device alert: ${alert.message}` });
    expect(progress.cleanup_results).toEqual([expect.objectContaining({ step_name: 'Safe state', success: true, message: 'Turned off ESP_A:5' })]);
    expect(t.services.sim?.actuator('ESP_A', 5)).toMatchObject({ on: false, last_command: 'OFF' });

    // Reported again (the node repeats its alert): the run is gone, nothing more fails.
    const again = nextEvent(t.services, (e) => e.type === 'device_alert');
    expect(applyDeviceAlert(alert, t.services.safety.leases, t.services.engine)).toEqual([]);
    expect((await again).data).toEqual({ esp_id: 'ESP_A', gpio: 5, type: 'overrun', message: alert.message });
  });

  it('fails a run holding two actuators of a node in safe mode once, and leaves runs on other nodes alone', async () => {
    t = await testApp();
    const inTheWait = nextEvent(t.services, (e) => e.type === 'sequence_step' && (e.data as { step: number }).step === 2);
    const both = (await t.inject({
      method: 'POST',
      url: '/api/v1/sequences',
      payload: {
        steps: [
          { action: { type: 'actuator_command', esp_id: 'ESP_A', gpio: 5, command: 'ON' } },
          { action: { type: 'actuator_command', esp_id: 'ESP_A', gpio: 6, command: 'ON' } },
          { delay_seconds: 600 },
        ],
      },
    })).json<{ run_id: string }>().run_id;
    await inTheWait;
    const alert = { esp_id: 'ESP_A', gpio: null, type: 'safe_mode', message: 'ESP_A entered safe mode: Boot loop', affects: [5, 6, 7] };
    expect(applyDeviceAlert(alert, t.services.safety.leases, t.services.engine)).toEqual([both]);
    expect((await t.ended(both)).data).toMatchObject({ status: 'failed', error: 'Device alert: ESP_A entered safe mode: Boot loop' });
  });
});
