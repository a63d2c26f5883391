/**
 * The MQTT path against AutomationOne's firmware as its protocol document describes it (SPEC 9
 * and 10): a real server, a real Mosquitto, and the device emulator answering either exactly as
 * the firmware does (`--firmware`: no correlation id) or echoing the id (the default). The same
 * suite runs in both modes; an MQTT spy sees what crosses the broker.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Codes } from '../../src/domain/errors.ts';
import { DeviceEmulator, type ReceivedCommand } from '../../src/drivers/device-emulator.ts';
import type { EmergencyState } from '../../src/drivers/emulated-node.ts';
import type { EventEnvelope, SequenceEvents } from '../../src/events/event-types.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { findMosquitto, findMosquittoPasswd, MOSQUITTO_MISSING, startMosquitto, type MosquittoBroker } from '../helpers/mosquitto.ts';
import { act, client, mqttConfig, mqttSpy, until } from './mqtt-harness.ts';

const ESPS = Array.from({ length: 10 }, (_, i) => `ESP_${i}`);

type Mode = 'firmware' | 'echo';

interface DeviceView {
  esp_id: string;
  online: boolean;
  presence: string;
  last_seen_at: string | null;
  safe_mode: boolean;
  safe_mode_reason: string | null;
  actuators: { gpio: number; state: string | null; value: number | null; held_by_run: string | null; last_command: string | null; emergency: string | null }[];
}

function firmwareSuite(bin: string, mode: Mode): void {
  let broker: MosquittoBroker;
  let server: RunningServer;
  let emulator: DeviceEmulator;
  let user: ReturnType<typeof client>;
  const told: ReceivedCommand[] = [];
  const alerts: SequenceEvents['device_alert'][] = [];
  const logged: { level: number; msg: string; topic?: string; runs_failed?: string[] }[] = [];

  /** The answer's message as the emulator gives it in this mode. */
  const applied = (esp: string, gpio: number, said: string): RegExp | string =>
    mode === 'firmware' ? 'Command executed' : new RegExp(`^${esp} gpio ${gpio}: ${said} applied \\[[0-9a-f-]{36}\\]$`);

  /** A server on the broker (started before the nodes, so it hears their first heartbeat), then the nodes. */
  async function setUp(presence: { heartbeatIntervalSeconds?: number; missedHeartbeats?: number } = {}, heartbeatIntervalMs?: number): Promise<void> {
    const logger = await createLogger({ level: 'debug', destination: { write: (line: string) => void logged.push(JSON.parse(line)) } });
    server = await startServer(mqttConfig({ mqttUrl: broker.url, mqtt: { kaiserId: 'god', ...presence } }), { logger });
    user = client(server);
    server.services.engine.events.subscribe((event) => {
      if (event.type === 'device_alert') alerts.push((event as EventEnvelope<'device_alert'>).data);
    });
    emulator = new DeviceEmulator({ url: broker.url, espIds: ESPS, firmware: mode === 'firmware', latencyMs: 1, reconnectPeriodMs: 50, heartbeatIntervalMs });
    emulator.on('command', (command) => told.push(command));
    await emulator.start();
  }

  /** Resolves with the first device alert (already published or to come) that `match` accepts. */
  function alert(match: (a: SequenceEvents['device_alert']) => boolean): Promise<SequenceEvents['device_alert']> {
    return until(() => alerts.find(match));
  }

  async function devices(): Promise<DeviceView[]> {
    return ((await user.get('/api/v1/devices')).body as { devices: DeviceView[] }).devices;
  }

  async function device(espId: string): Promise<DeviceView | undefined> {
    return (await devices()).find((d) => d.esp_id === espId);
  }

  /** Resolves once the server has a step `index` of `runId` completed. */
  function stepDone(runId: string, index: number): Promise<unknown> {
    return until(async () => {
      const progress = (await user.get(`/api/v1/sequences/${runId}`)).body as { step_results: { success: boolean }[] };
      return progress.step_results[index]?.success ? true : undefined;
    });
  }

  function emergencyReached(espId: string, state: EmergencyState): Promise<void> {
    if (emulator.nodeState(espId).emergency === state) return Promise.resolve();
    return new Promise((resolve) => emulator.on('emergency', (id, now) => id === espId && now === state && resolve()));
  }

  beforeEach(async () => {
    told.length = 0;
    alerts.length = 0;
    logged.length = 0;
    broker = await startMosquitto(bin);
  });

  afterEach(async () => {
    await server?.close();
    await emulator?.close();
    await broker.close();
  });

  it('runs a sequence to the end, and GET /devices shows each actuator as the node reported it', async () => {
    await setUp();
    const progress = await user.run({
      sequence_id: 'lights',
      steps: [act('ESP_1', 5, 'ON'), act('ESP_1', 6, 'PWM', {}, 0.4), act('ESP_1', 5, 'OFF')],
    });

    expect(progress.status).toBe('completed');
    expect(progress.step_results.map((r) => r.message)).toEqual([
      expect.stringMatching(applied('ESP_1', 5, 'ON value=1 duration=0s')),
      expect.stringMatching(applied('ESP_1', 6, 'PWM value=0.4 duration=0s')),
      expect.stringMatching(applied('ESP_1', 5, 'OFF value=0 duration=0s')),
    ]);
    expect(told.map((c) => `${c.esp_id}:${c.gpio} ${c.command} ${c.value} ${c.correlation_id === '' ? 'no id' : 'id'}`)).toEqual(
      ['ESP_1:5 ON 1', 'ESP_1:6 PWM 0.4', 'ESP_1:5 OFF 0'].map((c) => `${c} ${mode === 'firmware' ? 'no id' : 'id'}`),
    );
    expect(emulator.state()).toEqual([
      { esp_id: 'ESP_1', gpio: 5, on: false, value: 0, last_command: 'OFF', commands: 2 },
      { esp_id: 'ESP_1', gpio: 6, on: true, value: 0.4, last_command: 'PWM', commands: 1 },
    ]);
    const esp1 = await device('ESP_1');
    expect(esp1).toMatchObject({ online: true, presence: 'online', safe_mode: false });
    expect(esp1?.actuators).toEqual([
      { gpio: 5, state: 'OFF', value: 0, held_by_run: null, last_command: 'OFF', emergency: 'normal', updated_at: expect.any(String) },
      { gpio: 6, state: 'ON', value: 0.4, held_by_run: null, last_command: 'PWM', emergency: 'normal', updated_at: expect.any(String) },
    ]);
    expect(server.services.mqtt?.unmatchedResponses).toBe(0);
    expect(server.services.mqtt?.malformedReports).toBe(0);
    expect(alerts).toEqual([]);
  });

  it('gives each of two commands in flight on two gpios of one node its own answer', async () => {
    await setUp();
    // GPIO 6's own protection stopped it: it refuses ON until the node resumes, GPIO 5 obeys.
    emulator.stopActuator('ESP_2', 6, 'runtime_protection', 'Actuator exceeded max runtime - emergency stopped');
    await alert((a) => a.type === 'runtime_protection');
    emulator.setBehaviour('ESP_2', { hold: true });
    const [five, six] = await Promise.all([user.start({ steps: [act('ESP_2', 5, 'ON')] }), user.start({ steps: [act('ESP_2', 6, 'ON')] })]);
    await until(() => (told.length === 2 ? true : undefined));
    expect(server.services.mqtt?.pendingCount).toBe(2);

    emulator.setBehaviour('ESP_2', { hold: false });
    const [on, refused] = await Promise.all([user.ended(five), user.ended(six)]);

    expect(on.status).toBe('completed');
    expect(on.step_results[0]?.message).toMatch(applied('ESP_2', 5, 'ON value=1 duration=0s'));
    expect(refused.status).toBe('failed');
    expect(refused.step_results[0]).toMatchObject({ success: false, error_code: Codes.STEP_FAILED });
    expect(refused.step_results[0]?.message).toMatch(/^Device ESP_2 refused ON on gpio 6: .*Actuator GPIO 6 is emergency stopped/);
    expect(emulator.state().filter((a) => a.esp_id === 'ESP_2').map((a) => [a.gpio, a.on])).toEqual([[5, true], [6, false]]);
    expect(server.services.mqtt?.unmatchedResponses).toBe(0);
  });

  it('counts an answer nobody waits for and changes nothing with it, not even the command waiting on that topic', async () => {
    await setUp();
    const spy = await mqttSpy(broker.url, []);
    const unmatched: string[] = [];
    server.services.mqtt?.on('unmatched', (topic) => unmatched.push(topic));
    try {
      emulator.setBehaviour('ESP_3', { hold: true });
      const runId = await user.start({ steps: [act('ESP_3', 5, 'ON')] });
      await until(() => (told.length === 1 ? true : undefined));

      const base = 'kaiser/god/esp/ESP_3/actuator';
      await spy.publish(`${base}/5/response`, { ts: 1735818000, gpio: 5, command: 'OFF', value: 0, duration: 0, success: false, message: 'stray OFF' });
      await spy.publish(`${base}/5/response`, { gpio: 5, command: 'ON', value: 1, success: false, message: 'not ours', correlation_id: 'another-system' });
      await spy.publish(`${base}/7/response`, { gpio: 7, command: 'ON', value: 1, duration: 0, success: false, message: 'nobody there' });
      await until(() => (unmatched.length === 3 ? true : undefined));

      expect(unmatched).toEqual([`${base}/5/response`, `${base}/5/response`, `${base}/7/response`]);
      expect(server.services.mqtt?.pendingCount).toBe(1);
      expect(((await user.get(`/api/v1/sequences/${runId}`)).body as { status: string; step_results: unknown[] })).toMatchObject({ status: 'running', step_results: [] });

      emulator.setBehaviour('ESP_3', { hold: false });
      const progress = await user.ended(runId);
      expect(progress.status).toBe('completed');
      expect(progress.step_results[0]?.message).toMatch(applied('ESP_3', 5, 'ON value=1 duration=0s'));
      expect(await user.metrics()).toMatch(/^sequencer_mqtt_unmatched_responses_total 3$/m);
      const debug = logged.filter((line) => line.msg === 'MQTT answer nobody waits for, ignored');
      expect(debug.map((line) => [line.level, line.topic])).toEqual([[20, `${base}/5/response`], [20, `${base}/5/response`], [20, `${base}/7/response`]]);
    } finally {
      await spy.close();
    }
  });

  it("fails the holding run's step with the node's alert, and its safe state turns the actuator OFF", async () => {
    await setUp();
    const runId = await user.start({ sequence_id: 'pump', steps: [act('ESP_4', 5, 'ON'), { name: 'Water', delay_seconds: 600 }] });
    await stepDone(runId, 0);
    expect(emulator.state()).toEqual([{ esp_id: 'ESP_4', gpio: 5, on: true, value: 1, last_command: 'ON', commands: 1 }]);
    expect((await device('ESP_4'))?.actuators[0]).toMatchObject({ gpio: 5, state: 'ON', held_by_run: runId });

    emulator.alert('ESP_4', 5, 'fault', 'Relay contact welded');
    const progress = await user.ended(runId);

    const message = 'Device alert: ESP_4 gpio 5: fault: Relay contact welded';
    expect(progress).toMatchObject({ status: 'failed', error_code: Codes.STEP_FAILED, error: message });
    expect(progress.step_results[1]).toMatchObject({ step_name: 'Water', success: false, error_code: Codes.STEP_FAILED, message });
    expect(progress.cleanup_results).toEqual([expect.objectContaining({ step_name: 'Safe state', success: true, message: 'Turned off ESP_4:5' })]);
    expect(emulator.state()).toEqual([{ esp_id: 'ESP_4', gpio: 5, on: false, value: 0, last_command: 'OFF', commands: 2 }]);
    expect(alerts).toEqual([{ esp_id: 'ESP_4', gpio: 5, type: 'fault', message: 'ESP_4 gpio 5: fault: Relay contact welded' }]);
    expect(await user.metrics()).toMatch(/^sequencer_device_alerts_total\{type="fault"\} 1$/m);
    expect(logged.filter((line) => line.msg.startsWith('device alert')).map((line) => [line.level, line.msg, line.runs_failed])).toEqual([
      [40, 'device alert: ESP_4 gpio 5: fault: Relay contact welded', [runId]],
    ]);
  });

  it('fails the holding run when the node reports OFF an actuator the run holds ON', async () => {
    await setUp();
    const runId = await user.start({ steps: [act('ESP_4', 6, 'ON'), { name: 'Vent', delay_seconds: 600 }] });
    await stepDone(runId, 0);

    emulator.override('ESP_4', 6, false);
    const progress = await user.ended(runId);

    expect(progress).toMatchObject({ status: 'failed', error_code: Codes.STEP_FAILED, error: 'Device alert: ESP_4 reports gpio 6 OFF, but it was told ON' });
    expect(alerts.map((a) => a.type)).toEqual(['status_mismatch']);
  });

  it('shows a node that stopped its heartbeat offline, and fails a command to it at once', async () => {
    await setUp({ heartbeatIntervalSeconds: 0.2, missedHeartbeats: 3 }, 100);
    await until(async () => ((await device('ESP_5'))?.online ? true : undefined));

    emulator.setBehaviour('ESP_5', { heartbeat: false });
    await alert((a) => a.esp_id === 'ESP_5' && a.type === 'offline');

    expect(await device('ESP_5')).toMatchObject({ online: false, presence: 'offline' });
    expect(((await user.health()).body as { devices: { offline: string[] } }).devices.offline).toContain('ESP_5');
    // A 30 s step timeout: only a refusal at once ends this run within the test's time.
    const progress = await user.run({ steps: [act('ESP_5', 5, 'ON', { timeout_seconds: 30 })] });
    expect(progress.status).toBe('failed');
    expect(progress.step_results[0]).toMatchObject({ success: false, error_code: Codes.STEP_FAILED });
    expect(progress.step_results[0]?.message).toMatch(/^Node ESP_5 is offline: no word from it for [\d.]+ s \(3 heartbeats missed at 0\.2 s\); ON not sent$/);
    expect(told.filter((c) => c.esp_id === 'ESP_5')).toEqual([]);

    emulator.setBehaviour('ESP_5', { heartbeat: true });
    await alert((a) => a.esp_id === 'ESP_5' && a.type === 'online');
  });

  it('sends the emergency broadcast with the operator\'s words, the nodes go to safe mode, and clearing brings them back', async () => {
    await setUp();
    const spy = await mqttSpy(broker.url, ['kaiser/broadcast/emergency', 'kaiser/god/esp/+/actuator/emergency', 'kaiser/god/esp/+/system/command', 'kaiser/god/esp/+/safe_mode']);
    try {
      const runId = await user.start({ steps: [act('ESP_6', 5, 'ON'), { delay_seconds: 600 }] });
      await stepDone(runId, 0);

      const stop = await user.post('/api/v1/emergency-stop', { reason: 'Leak in hall 2' });
      expect(stop.body).toMatchObject({ active: true, reason: 'Leak in hall 2', runs_cancelled: 1, actuators_off: 1, actuators_failed: [] });
      const broadcast = await spy.next('kaiser/broadcast/emergency');
      expect(broadcast.payload).toEqual({ action: 'stop_all', command: 'EMERGENCY_STOP', reason: 'Leak in hall 2', ts: expect.any(Number) });
      expect(Number.isInteger((broadcast.payload as { ts: number }).ts)).toBe(true);
      await emergencyReached('ESP_6', 'active');
      expect(emulator.nodeState('ESP_6')).toEqual({ emergency: 'active', safe_mode: true });
      await alert((a) => a.esp_id === 'ESP_6' && a.type === 'safe_mode');
      expect(await device('ESP_6')).toMatchObject({ safe_mode: true, safe_mode_reason: 'Leak in hall 2' });
      expect(((await user.health()).body as { devices: { safe_mode: string[] } }).devices.safe_mode).toContain('ESP_6');
      expect((await user.ended(runId)).status).toBe('cancelled');
      // The node refuses ON by itself, whatever the server does.
      const refused = await server.services.mqtt?.send(
        { esp_id: 'ESP_6', gpio: 5, command: 'ON', value: 1, duration_seconds: 0, correlation_id: 'probe-1' },
        { signal: new AbortController().signal, timeoutMs: 10_000 },
      );
      expect(refused).toMatchObject({ success: false, message: expect.stringContaining('Actuator GPIO 5 is emergency stopped') });

      const again = await user.post('/api/v1/emergency-stop', { reason: 'Pump 3 still running' });
      expect(again.body).toMatchObject({ active: true, reason: 'Leak in hall 2' });
      await spy.next('kaiser/broadcast/emergency', (p) => p.reason === 'Pump 3 still running');
      const latch = (await user.get('/api/v1/emergency-stop')).body as { history: { reason: string; at: string }[] };
      expect(latch.history.map((h) => h.reason)).toEqual(['Leak in hall 2', 'Pump 3 still running']);
      expect(latch.history.every((h) => !Number.isNaN(Date.parse(h.at)))).toBe(true);

      expect((await user.post('/api/v1/emergency-stop/clear')).body).toMatchObject({ active: false, history: [] });
      await spy.next('kaiser/god/esp/ESP_6/system/command', (p) => p.command === 'resume_operation');
      await emergencyReached('ESP_6', 'normal');
      expect(emulator.nodeState('ESP_6')).toEqual({ emergency: 'normal', safe_mode: false });
      for (const espId of ESPS) {
        // Each node gets its pair in order; the nodes' pairs go out side by side, so wait for each node's.
        await spy.next(`kaiser/god/esp/${espId}/system/command`, (p) => p.command === 'resume_operation');
        const clear = spy.seen.findIndex((m) => m.topic === `kaiser/god/esp/${espId}/actuator/emergency`);
        const resume = spy.seen.findIndex((m) => m.topic === `kaiser/god/esp/${espId}/system/command`);
        expect([spy.seen[clear]?.payload, spy.seen[resume]?.payload]).toEqual([{ command: 'clear_emergency' }, { command: 'resume_operation' }]);
        expect(clear).toBeLessThan(resume);
      }
      await spy.next('kaiser/god/esp/ESP_6/safe_mode', (p) => p.safe_mode_active === false);
      await until(async () => ((await device('ESP_6'))?.safe_mode === false ? true : undefined));

      const after = await user.run({ steps: [act('ESP_6', 5, 'ON'), act('ESP_6', 5, 'OFF')] });
      expect(after.status).toBe('completed');
    } finally {
      await spy.close();
    }
  });
}

const mosquittoBin = findMosquitto();
describe.skipIf(!mosquittoBin)(`AutomationOne firmware over a real mosquitto${mosquittoBin ? '' : ` (skipped: ${MOSQUITTO_MISSING})`}`, () => {
  describe('emulator in --firmware mode (no correlation_id)', () => firmwareSuite(mosquittoBin as string, 'firmware'));
  describe('emulator in the default mode (echoes the correlation_id)', () => firmwareSuite(mosquittoBin as string, 'echo'));
});

/** The ACL docs/mqtt.md tells AutomationOne operators to add for Sequencer (the block after `<!-- acl -->`). */
function documentedAcl(): string {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'mqtt.md'), 'utf8');
  const block = /<!-- acl -->\n```\n([\s\S]*?)```/.exec(doc);
  if (!block) throw new Error('docs/mqtt.md has no ACL block after <!-- acl -->');
  return block[1] as string;
}

const passwdBin = findMosquittoPasswd();
describe.skipIf(!mosquittoBin || !passwdBin)('an AutomationOne broker with users and the ACL docs/mqtt.md gives', () => {
  it('lets Sequencer drive the nodes, see their reports, stop them and clear them with nothing more than that ACL', async () => {
    const acl = `${documentedAcl()}\nuser nodes\ntopic readwrite kaiser/#\n`;
    const broker = await startMosquitto(mosquittoBin as string, { users: { sequencer: 's3cret', nodes: 'esp' }, acl });
    const server = await startServer(mqttConfig({ mqttUrl: broker.url, mqtt: { kaiserId: 'god', username: 'sequencer', password: 's3cret' } }));
    const asNodes = broker.url.replace('mqtt://', 'mqtt://nodes:esp@');
    const emulator = new DeviceEmulator({ url: asNodes, espIds: ['ESP_1'], firmware: true, latencyMs: 1 });
    const node = await mqttSpy(asNodes, []);
    const alerts: string[] = [];
    server.services.engine.events.subscribe((e) => e.type === 'device_alert' && alerts.push((e.data as { type: string }).type));
    const esp = (id: string) => server.services.devices.nodes().find((n) => n.esp_id === id);
    try {
      expect(server.services.driver.health()).toEqual({ ok: true, detail: `connected to ${broker.url}` });
      await emulator.start();
      const user = client(server);
      await until(() => (esp('ESP_1')?.presence === 'online' ? true : undefined));
      expect((await user.run({ steps: [act('ESP_1', 5, 'ON'), act('ESP_1', 5, 'OFF')] })).status).toBe('completed');
      // `emergency` comes only from the node's status.
      await until(() => (esp('ESP_1')?.actuators[0]?.emergency === 'normal' ? true : undefined));

      await user.post('/api/v1/emergency-stop', { reason: 'ACL check' });
      await until(() => (emulator.nodeState('ESP_1').safe_mode && esp('ESP_1')?.safe_mode ? true : undefined));
      await until(() => (alerts.includes('emergency_stop') ? true : undefined));
      await user.post('/api/v1/emergency-stop/clear');
      await until(() => (emulator.nodeState('ESP_1').emergency === 'normal' ? true : undefined));

      await node.publish('kaiser/god/esp/ESP_2/sensor/4/data', { gpio: 4, value: 21.5 });
      await node.publish('kaiser/god/esp/ESP_3/sensor/batch', { sensors: [{ gpio: 34, value: 7.2 }] });
      await node.publish('kaiser/god/esp/ESP_1/status', { status: 'offline', reason: 'connection_lost' });
      await until(() => (esp('ESP_2') && esp('ESP_3') && esp('ESP_1')?.presence === 'offline' ? true : undefined));
      expect(server.services.mqtt?.malformedReports).toBe(0);
    } finally {
      await node.close();
      await emulator.close();
      await server.close();
      await broker.close();
    }
  });
});
