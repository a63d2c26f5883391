/**
 * Whole sequences through a real server with `--driver mqtt`, a real broker (the embedded aedes
 * one, and a Mosquitto the test starts when the binary exists) and the device emulator playing
 * the ESP32 nodes: what the nodes were told, what the runs report, and what /health and /metrics
 * show when the broker goes away and comes back.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Codes } from '../../src/domain/errors.ts';
import { EmbeddedBrokerMqttDriver } from '../../src/drivers/create-driver.ts';
import { DeviceEmulator, type ReceivedCommand } from '../../src/drivers/device-emulator.ts';
import { startEmbeddedBroker } from '../../src/drivers/embedded-broker.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { createServices } from '../../src/services.ts';
import { startAedes, type BrokerHarness } from '../helpers/embedded-broker.harness.ts';
import { findMosquitto, freePort, MOSQUITTO_MISSING, startMosquitto } from '../helpers/mosquitto.ts';
import { act, client, mqttConfig, startMqttRig, type MqttRig } from './mqtt-harness.ts';


const ESPS = Array.from({ length: 10 }, (_, i) => `ESP_${i}`);
const UNREACHABLE = /^MQTT broker unreachable \(mqtt:\/\/127\.0\.0\.1:\d+\): /;

function sequenceSuite(makeBroker: () => Promise<BrokerHarness>): void {
  let broker: BrokerHarness;
  let emulator: DeviceEmulator;
  let server: RunningServer;
  let user: ReturnType<typeof client>;
  let rig: MqttRig;
  const told: ReceivedCommand[] = [];

  beforeEach(async () => {
    told.length = 0;
    broker = await makeBroker();
    rig = await startMqttRig(broker.url, { espIds: ESPS, latencyMs: 1, reconnectPeriodMs: 50 }, (e) => e.on('command', (command) => told.push(command)));
    ({ emulator, server, user } = rig);
  });

  afterEach(async () => {
    await rig.close();
    await broker.close();
  });

  it('turns actuators on and off through the nodes, and the run completes', async () => {
    const progress = await user.run({
      sequence_id: 'lights',
      steps: [act('ESP_1', 5, 'ON'), act('ESP_2', 6, 'PWM', {}, 0.4), act('ESP_1', 5, 'OFF')],
    });

    expect(progress.status).toBe('completed');
    expect(progress.step_results.map((r) => r.message)).toEqual([
      expect.stringMatching(/^ESP_1 gpio 5: ON value=1 duration=0s applied \[.+\]$/),
      expect.stringMatching(/^ESP_2 gpio 6: PWM value=0\.4 duration=0s applied \[.+\]$/),
      expect.stringMatching(/^ESP_1 gpio 5: OFF value=0 duration=0s applied \[.+\]$/),
    ]);
    expect(told.map((c) => `${c.esp_id}:${c.gpio} ${c.command} ${c.value}`)).toEqual(['ESP_1:5 ON 1', 'ESP_2:6 PWM 0.4', 'ESP_1:5 OFF 0']);
    expect(emulator.state()).toEqual([
      { esp_id: 'ESP_1', gpio: 5, on: false, value: 0, last_command: 'OFF', commands: 2 },
      { esp_id: 'ESP_2', gpio: 6, on: true, value: 0.4, last_command: 'PWM', commands: 1 },
    ]);
    const health = await user.health();
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', driver: { kind: 'mqtt', ok: true, detail: `connected to ${broker.url}` } });
  });

  it("fails the step with the node's message when a node answers failure, and the run follows its policy", async () => {
    emulator.setBehaviour('ESP_2', { fail: true });
    const refused = /^Device ESP_2 refused ON on gpio 4: ESP_2 gpio 4: ON value=1 duration=0s failed: simulated failure \[.+\]$/;

    const goesOn = await user.run({
      sequence_id: 'goes-on',
      steps: [act('ESP_1', 5, 'ON'), act('ESP_2', 4, 'ON', { on_failure: 'continue' }), act('ESP_1', 5, 'OFF')],
    });
    expect(goesOn.status).toBe('completed');
    expect(goesOn.step_results.map((r) => [r.success, r.error_code])).toEqual([[true, null], [false, Codes.STEP_FAILED], [true, null]]);
    expect(goesOn.step_results[1]?.message).toMatch(refused);

    const aborts = await user.run({ sequence_id: 'aborts', steps: [act('ESP_3', 5, 'ON'), act('ESP_2', 4, 'ON'), act('ESP_3', 6, 'ON')] });
    expect(aborts.status).toBe('failed');
    expect(aborts.error_code).toBe(Codes.STEP_FAILED);
    expect(aborts.step_results).toHaveLength(2);
    expect(aborts.step_results[1]?.message).toMatch(refused);
    // The safe state turned ESP_3:5 off again; ESP_2 keeps refusing, so its OFF is reported failed.
    expect(aborts.cleanup_results[0]?.message).toMatch(/^Turned off ESP_3:5; could not confirm OFF: ESP_2:4: .*simulated failure/);
    expect(emulator.state().filter((a) => a.esp_id === 'ESP_3')).toEqual([
      { esp_id: 'ESP_3', gpio: 5, on: false, value: 0, last_command: 'OFF', commands: 2 },
    ]);
  });

  it('fails the step of a silent node with 5615 at its timeout, and the run goes on as its policy says', async () => {
    emulator.setBehaviour('ESP_3', { silent: true });
    const progress = await user.run({
      sequence_id: 'silent',
      steps: [act('ESP_3', 2, 'ON', { timeout_seconds: 1, on_failure: 'continue' }), act('ESP_1', 5, 'ON')],
    });

    expect(progress.status).toBe('completed');
    expect(progress.step_results.map((r) => [r.success, r.error_code])).toEqual([[false, Codes.STEP_TIMEOUT], [true, null]]);
    expect(told.map((c) => `${c.esp_id}:${c.gpio} ${c.command}`)).toEqual(['ESP_3:2 ON', 'ESP_1:5 ON']);
    expect(emulator.state().map((a) => `${a.esp_id}:${a.gpio}`)).toEqual(['ESP_1:5']);
    expect(server.services.mqtt?.pendingCount).toBe(0);
  });

  it('fails steps at once when the broker dies mid-run, then reconnects when it returns and runs again', async () => {
    emulator.setBehaviour('ESP_5', { silent: true });
    const inFlight = new Promise<void>((resolve) => emulator.on('command', (c) => c.esp_id === 'ESP_5' && resolve()));
    const runId = await user.start({
      sequence_id: 'broker-dies',
      // 30 s step timeouts: only a fast failure ends this run before the test's own timeout.
      steps: [
        act('ESP_1', 5, 'ON', { timeout_seconds: 30 }),
        act('ESP_5', 6, 'ON', { timeout_seconds: 30, on_failure: 'continue' }),
        act('ESP_1', 7, 'ON', { timeout_seconds: 30 }),
      ],
    });
    await inFlight;
    await broker.kill();
    const progress = await user.ended(runId);

    expect(progress.status).toBe('failed');
    expect(progress.error_code).toBe(Codes.STEP_FAILED);
    const [first, waiting, next] = progress.step_results;
    expect(first?.success).toBe(true);
    expect(waiting).toMatchObject({ success: false, error_code: Codes.STEP_FAILED });
    expect(waiting?.message).toMatch(UNREACHABLE);
    expect(waiting?.message).toMatch(/connection lost while waiting for the answer/);
    expect(next).toMatchObject({ success: false, error_code: Codes.STEP_FAILED, message: expect.stringMatching(UNREACHABLE) });
    expect(progress.cleanup_results[0]).toMatchObject({ step_name: 'Safe state', success: false });
    expect(progress.cleanup_results[0]?.message).toMatch(/^Could not confirm OFF: .*MQTT broker unreachable/);

    const down = await user.health();
    expect(down.status).toBe(200);
    expect(down.body).toMatchObject({ status: 'ok', driver: { kind: 'mqtt', ok: false, detail: expect.stringMatching(/^not connected to mqtt:\/\/127\.0\.0\.1:\d+/) } });
    const metrics = await user.metrics();
    expect(metrics).toMatch(/^sequencer_mqtt_disconnects_total 1$/m);
    expect(metrics).toMatch(/^sequencer_actuator_commands_total\{result="error"\} [1-9]/m);

    await broker.restart();
    await Promise.all([server.services.mqtt?.whenConnected(), emulator.whenReady()]);
    expect((await user.health()).body).toMatchObject({ driver: { ok: true, detail: `connected to ${broker.url}` } });
    const again = await user.run({ sequence_id: 'broker-back', steps: [act('ESP_1', 5, 'OFF'), act('ESP_1', 7, 'OFF')] });
    expect(again.status).toBe('completed');
    expect(emulator.state().filter((a) => a.esp_id === 'ESP_1')).toEqual([
      { esp_id: 'ESP_1', gpio: 5, on: false, value: 0, last_command: 'OFF', commands: 2 },
      { esp_id: 'ESP_1', gpio: 7, on: false, value: 0, last_command: 'OFF', commands: 1 },
    ]);
  });

  it('correlates a burst of 500 commands from 50 parallel runs with their own answers', async () => {
    // Run r drives 5 GPIOs of one node, twice each, with a value no other command carries.
    const value = (r: number, i: number): number => (r * 10 + i + 1) / 1000;
    const gpio = (r: number, i: number): number => 5 * Math.floor(r / 10) + (i % 5);
    const esp = (r: number): string => ESPS[r % 10] as string;
    const runIds = await Promise.all(
      Array.from({ length: 50 }, (_, r) =>
        user.start({
          sequence_id: `burst-${r}`,
          steps: Array.from({ length: 10 }, (_, i) => act(esp(r), gpio(r, i), 'PWM', {}, value(r, i))),
        }),
      ),
    );
    const runs = await Promise.all(runIds.map((runId) => user.ended(runId)));

    const correlationIds = new Set<string>();
    runs.forEach((progress, r) => {
      expect(progress.status).toBe('completed');
      progress.step_results.forEach((result, i) => {
        const [, cid] = /\[(.+)\]$/.exec(result.message) ?? [];
        correlationIds.add(cid as string);
        expect(result.message).toBe(`${esp(r)} gpio ${gpio(r, i)}: PWM value=${value(r, i)} duration=0s applied [${cid}]`);
      });
    });
    expect(correlationIds.size).toBe(500);
    const actuators = emulator.state();
    expect(actuators).toHaveLength(250);
    for (let r = 0; r < 50; r++) {
      for (let i = 5; i < 10; i++) {
        expect(actuators).toContainEqual({ esp_id: esp(r), gpio: gpio(r, i), on: true, value: value(r, i), last_command: 'PWM', commands: 2 });
      }
    }
    expect(server.services.mqtt?.unmatchedResponses).toBe(0);
    expect(await user.metrics()).toMatch(/^sequencer_actuator_commands_total\{result="ok"\} 500$/m);
  });
}

describe('sequences over mqtt through an embedded aedes broker given by --mqtt-url', () => {
  sequenceSuite(startAedes);
});

const mosquittoBin = findMosquitto();
describe.skipIf(!mosquittoBin)(`sequences over mqtt through a real mosquitto${mosquittoBin ? '' : ` (skipped: ${MOSQUITTO_MISSING})`}`, () => {
  sequenceSuite(() => startMosquitto(mosquittoBin as string));
});

describe('--driver mqtt without --mqtt-url', () => {
  it('runs its own broker on --mqtt-port, drives the nodes through it, and frees the port on close', async () => {
    const port = await freePort();
    const server = await startServer(mqttConfig({ mqttPort: port, mqtt: { kaiserId: 'farm' } }));
    const emulator = new DeviceEmulator({ url: `mqtt://127.0.0.1:${port}`, kaiserId: 'farm', espIds: ['ESP_1'], latencyMs: 0 });
    try {
      expect(server.services.mqtt).toBeInstanceOf(EmbeddedBrokerMqttDriver);
      expect(server.services.mqtt?.health()).toEqual({ ok: true, detail: `connected to mqtt://127.0.0.1:${port}` });
      await emulator.start();
      const progress = await client(server).run({ steps: [act('ESP_1', 5, 'ON'), act('ESP_1', 5, 'OFF')] });
      expect(progress.status).toBe('completed');
      expect(emulator.state()).toEqual([{ esp_id: 'ESP_1', gpio: 5, on: false, value: 0, last_command: 'OFF', commands: 2 }]);

      await expect(startServer(mqttConfig({ mqttPort: port }))).rejects.toThrow(
        /^embedded MQTT broker cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE.*pass --mqtt-url to use a broker already listening there/,
      );
    } finally {
      await emulator.close();
      await server.close();
    }
    const reused = await startEmbeddedBroker({ port });
    await reused.close();
  });

  it('stops its broker again when the server cannot start', async () => {
    const busy = createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    const mqttPort = await freePort();
    try {
      const starting = createServices(mqttConfig({ mqttPort, inspect: true }), { inspectPort: (busy.address() as { port: number }).port });
      await expect(starting).rejects.toThrow(/inspector relay cannot listen .*EADDRINUSE/);
    } finally {
      busy.close();
    }
    const reused = await startEmbeddedBroker({ port: mqttPort });
    await reused.close();
  });

  it("connects to an external broker with the configuration's credentials", async () => {
    const aedes = await Aedes.createBroker({
      authenticate: (_client, username, password, done) => done(null, username === 'sequencer' && password?.toString() === 's3cret'),
    });
    const clientIds: string[] = [];
    aedes.on('client', (c) => clientIds.push(c.id));
    const tcp = createServer(aedes.handle).listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    const url = `mqtt://127.0.0.1:${(tcp.address() as { port: number }).port}`;
    const server = await startServer(mqttConfig({ mqttUrl: url, mqtt: { kaiserId: 'god', username: 'sequencer', password: 's3cret', clientId: 'sequencer-test' } }));
    try {
      expect(server.services.mqtt?.health()).toEqual({ ok: true, detail: `connected to ${url}` });
      expect(clientIds).toEqual(['sequencer-test']);
    } finally {
      await server.close();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      tcp.close();
    }
  });
});
