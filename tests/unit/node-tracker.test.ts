import { describe, expect, it } from 'vitest';
import type { ActuatorCommand } from '../../src/drivers/actuator-driver.ts';
import type { StatusPayload } from '../../src/drivers/firmware-payloads.ts';
import { NodeTracker } from '../../src/drivers/node-tracker.ts';

const MINUTE = 60_000;

function tracker(): NodeTracker {
  return new NodeTracker({ heartbeatIntervalMs: MINUTE, missedHeartbeats: 3 });
}

function cmd(command: ActuatorCommand['command'], gpio = 5, value = command === 'OFF' ? 0 : 1, duration_seconds = 0): ActuatorCommand {
  return { esp_id: 'ESP_1', gpio, command, value, duration_seconds, correlation_id: 'x' };
}

function status(state: boolean | string, extra: Partial<StatusPayload> = {}): StatusPayload {
  return { gpio: 5, type: 'relay', state, pwm: 0, runtime_ms: 0, emergency: 'normal', ...extra } as StatusPayload;
}

describe('node presence', () => {
  it('is unknown until a heartbeat, online while heard within 3 intervals, offline after, reported once each way', () => {
    const t = tracker();
    expect(t.presence('ESP_1', 0)).toBe('unknown');
    t.seen('ESP_1', 0);
    expect(t.presence('ESP_1', 10 * MINUTE)).toBe('unknown');

    expect(t.heartbeat('ESP_1', 0)).toBeNull();
    expect(t.presence('ESP_1', 3 * MINUTE)).toBe('online');
    expect(t.presence('ESP_1', 3 * MINUTE + 1)).toBe('offline');
    expect(t.sweep(3 * MINUTE)).toEqual([]);
    expect(t.sweep(3 * MINUTE + 1)).toEqual([
      { esp_id: 'ESP_1', gpio: null, type: 'offline', message: 'ESP_1 is offline: no word from it for 180 s (3 heartbeats missed at 60 s)', affects: [] },
    ]);
    expect(t.sweep(4 * MINUTE)).toEqual([]);

    // Any message is a sign of life, not only a heartbeat.
    expect(t.seen('ESP_1', 5 * MINUTE)).toEqual({ esp_id: 'ESP_1', gpio: null, type: 'online', message: 'ESP_1 is online again', affects: [] });
    expect(t.presence('ESP_1', 5 * MINUTE)).toBe('online');
    expect(t.seen('ESP_1', 5 * MINUTE)).toBeNull();
  });

  it("is offline at once when the broker publishes the node's last will, until it is heard again", () => {
    const t = tracker();
    t.heartbeat('ESP_1', 0);
    expect(t.lastWill('ESP_1', 'connection_lost')).toEqual({
      esp_id: 'ESP_1', gpio: null, type: 'offline', message: 'ESP_1 is offline: the broker published its last will (connection_lost)', affects: [],
    });
    expect(t.lastWill('ESP_1', undefined)).toBeNull();
    expect(t.presence('ESP_1', 1)).toBe('offline');
    expect(t.offlineReason('ESP_1', 1)).toBe('the broker published its last will (connection lost)');
    expect(t.sweep(1)).toEqual([]);
    expect(t.heartbeat('ESP_1', 2)?.type).toBe('online');
    expect(t.presence('ESP_1', 2)).toBe('online');
  });
});

describe('a status that contradicts what the node was told', () => {
  it('is reported once, for the gpio, when no command to it is in flight', () => {
    const t = tracker();
    t.commandSent(cmd('ON'), 0);
    expect(t.status('ESP_1', 5, status(true), 1, true)).toBeNull();
    t.commandAccepted(cmd('ON'), 0);
    expect(t.status('ESP_1', 5, status(true), 2, false)).toBeNull();
    // Reported while our OFF is still in flight: the status may be ahead of the answer.
    expect(t.status('ESP_1', 5, status(false), 3, true)).toBeNull();

    expect(t.status('ESP_1', 5, status('off', { emergency: 'active' }), 4, false)).toEqual({
      esp_id: 'ESP_1', gpio: 5, type: 'status_mismatch', message: 'ESP_1 reports gpio 5 OFF (emergency: active), but it was told ON', affects: [5],
    });
    expect(t.status('ESP_1', 5, status(false), 5, false)).toBeNull();
  });

  it('is reported the other way round too: ON while it was told OFF', () => {
    const t = tracker();
    t.commandAccepted(cmd('PWM', 5, 0), 0);
    expect(t.status('ESP_1', 5, status('on', { type: 'pwm', pwm: 128 }), 1, false)?.message).toBe('ESP_1 reports gpio 5 ON, but it was told OFF');
  });

  it("is not an OFF after the command's own duration ran out, but is one before", () => {
    const t = tracker();
    t.commandAccepted(cmd('ON', 5, 1, 10), 1000);
    expect(t.status('ESP_1', 5, status(false), 11_000, false)).toBeNull();
    t.commandAccepted(cmd('ON', 5, 1, 10), 20_000);
    expect(t.status('ESP_1', 5, status(false), 25_000, false)?.type).toBe('status_mismatch');
  });

  it('cannot be told after a TOGGLE of an unknown state, nor after a command that got no answer', () => {
    const t = tracker();
    t.commandAccepted(cmd('TOGGLE'), 0);
    expect(t.status('ESP_1', 5, status(true), 1, false)).toBeNull();
    t.commandAccepted(cmd('TOGGLE'), 2);
    expect(t.status('ESP_1', 5, status(true), 3, false)?.message).toBe('ESP_1 reports gpio 5 ON, but it was told OFF');
    t.commandLost(cmd('ON'));
    expect(t.status('ESP_1', 5, status(false), 4, false)).toBeNull();
  });
});

describe('alerts and safe mode', () => {
  it('reports an alert about one actuator for that gpio, and one about the whole node (gpio 255) for every actuator it has', () => {
    const t = tracker();
    t.commandSent(cmd('ON', 5), 0);
    t.commandSent(cmd('ON', 6), 0);
    expect(t.alert('ESP_1', { gpio: 5, type: 'runtime_protection', message: 'Actuator exceeded max runtime' })).toEqual({
      esp_id: 'ESP_1', gpio: 5, type: 'runtime_protection', message: 'ESP_1 gpio 5: runtime_protection: Actuator exceeded max runtime', affects: [5],
    });
    expect(t.alert('ESP_1', { gpio: 255, alert_type: 'config_invalid' })).toEqual({
      esp_id: 'ESP_1', gpio: null, type: 'config_invalid', message: 'ESP_1: config_invalid', affects: [5, 6],
    });
  });

  it('reports entering safe mode once, for every actuator of the node, and keeps the reason until it ends', () => {
    const t = tracker();
    t.commandSent(cmd('ON', 5), 0);
    expect(t.safeMode('ESP_1', { safe_mode_active: true, reason: 'Emergency stop triggered' })).toEqual({
      esp_id: 'ESP_1', gpio: null, type: 'safe_mode', message: 'ESP_1 entered safe mode: Emergency stop triggered', affects: [5],
    });
    expect(t.safeMode('ESP_1', { safe_mode_active: true })).toBeNull();
    expect(t.reports(0)[0]).toMatchObject({ safe_mode: true, safe_mode_reason: null });
    expect(t.safeMode('ESP_1', { safe_mode_active: false })).toBeNull();
    expect(t.reports(0)[0]).toMatchObject({ safe_mode: false, safe_mode_reason: null });
  });
});

describe('what GET /devices shows', () => {
  it("shows the node's reported state, else the state its last accepted command left, with the last command", () => {
    const t = tracker();
    t.heartbeat('ESP_2', 100);
    t.commandSent(cmd('PWM', 6, 0.4), 200);
    t.commandAccepted(cmd('PWM', 6, 0.4), 200);
    t.commandSent(cmd('ON', 5), 300);
    t.status('ESP_1', 5, status(true, { type: 'pwm', pwm: 51 }), 400, true);
    t.commandSent(cmd('OFF', 7), 500);
    expect(t.reportedOff('ESP_1', 5)).toBe(false);
    expect(t.nodeIds()).toEqual(['ESP_2', 'ESP_1']);
    expect(t.reports(1000)).toEqual([
      {
        esp_id: 'ESP_1', presence: 'unknown', last_seen_at: null, safe_mode: false, safe_mode_reason: null,
        actuators: [
          { gpio: 5, state: 'ON', value: 0.2, last_command: 'ON', emergency: 'normal', updated_at: 400 },
          { gpio: 6, state: 'ON', value: 0.4, last_command: 'PWM', emergency: null, updated_at: 200 },
          { gpio: 7, state: 'UNKNOWN', value: null, last_command: 'OFF', emergency: null, updated_at: 500 },
        ],
      },
      { esp_id: 'ESP_2', presence: 'online', last_seen_at: 100, safe_mode: false, safe_mode_reason: null, actuators: [] },
    ]);
  });
});
