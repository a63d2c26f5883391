import { EventEmitter, once } from 'node:events';
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import type { AedesOptions } from 'aedes';
import mqtt from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Codes, SequencerError } from '../../src/domain/errors.ts';
import type { ActuatorCommand, ActuatorCommandName, SendOptions } from '../../src/drivers/actuator-driver.ts';
import { DeviceEmulator } from '../../src/drivers/device-emulator.ts';
import type { ReceivedCommand } from '../../src/drivers/device-emulator.ts';
import { startEmbeddedBroker } from '../../src/drivers/embedded-broker.ts';
import type { EmbeddedBroker } from '../../src/drivers/embedded-broker.ts';
import { MqttDriver } from '../../src/drivers/mqtt.driver.ts';
import { startAedes, type BrokerHarness } from '../helpers/embedded-broker.harness.ts';
import { findMosquitto, freePort, MOSQUITTO_MISSING, startMosquitto } from '../helpers/mosquitto.ts';


const ESPS = Array.from({ length: 10 }, (_, i) => `ESP_${i}`);
const UNREACHABLE = /^MQTT broker unreachable \(mqtt:\/\/127\.0\.0\.1:\d+\): /;
let seq = 0;

function cmd(esp_id: string, gpio: number, command: ActuatorCommandName, value: number, duration_seconds = 0): ActuatorCommand {
  return { esp_id, gpio, command, value, duration_seconds, correlation_id: `cid-${++seq}` };
}

/** A signal nobody aborts: a call that should fail fast can only pass by failing on its own. */
function forever(): SendOptions {
  return { signal: new AbortController().signal, timeoutMs: 10_000 };
}

/** An aedes broker with custom hooks, on a free port; `close()` stops it. */
async function hookedAedes(options: AedesOptions): Promise<{ port: number; close(): Promise<void> }> {
  const aedes = await Aedes.createBroker(options);
  const server = createServer(aedes.handle).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const close = async (): Promise<void> => {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    server.close();
  };
  return { port: (server.address() as { port: number }).port, close };
}

function brokerSuite(makeBroker: () => Promise<BrokerHarness>): void {
  let broker: BrokerHarness;
  let emulator: DeviceEmulator;
  let driver: MqttDriver;
  const lines = new EventEmitter<{ line: [string] }>();
  const logLine = (pattern: RegExp): Promise<void> =>
    new Promise((resolve) => {
      const listener = (line: string): void => {
        if (!pattern.test(line)) return;
        lines.off('line', listener);
        resolve();
      };
      lines.on('line', listener);
    });

  beforeEach(async () => {
    broker = await makeBroker();
    const log = (line: string): void => void lines.emit('line', line);
    emulator = new DeviceEmulator({ url: broker.url, espIds: ESPS, latencyMs: 1, reconnectPeriodMs: 50, log });
    await emulator.start();
    driver = new MqttDriver({ url: broker.url, reconnectPeriodMs: 50 });
    await driver.start();
    expect(driver.health()).toEqual({ ok: true, detail: `connected to ${broker.url}` });
  });

  afterEach(async () => {
    await driver.close();
    await emulator.close();
    await broker.close();
  });

  it('publishes the command in the device contract and returns the device answer', async () => {
    const received = once(emulator, 'command') as Promise<[ReceivedCommand]>;
    const on = cmd('ESP_1', 5, 'ON', 1);
    const answer = await driver.send(on, forever());
    expect(answer).toEqual({ success: true, message: `ESP_1 gpio 5: ON value=1 duration=0s applied [${on.correlation_id}]` });
    const [payload] = await received;
    expect(payload).toMatchObject({ esp_id: 'ESP_1', gpio: 5, command: 'ON', value: 1, duration: 0, correlation_id: on.correlation_id });
    expect(Number.isInteger(payload.timestamp)).toBe(true);
    expect(Math.abs(payload.timestamp - Date.now() / 1000)).toBeLessThan(60);
    expect(emulator.state()).toEqual([{ esp_id: 'ESP_1', gpio: 5, on: true, value: 1, last_command: 'ON', commands: 1 }]);

    await driver.send(cmd('ESP_1', 5, 'OFF', 0), forever());
    expect(emulator.state()[0]).toMatchObject({ on: false, value: 0, last_command: 'OFF' });
    await driver.send(cmd('ESP_1', 5, 'TOGGLE', 0), forever());
    expect(emulator.state()[0]).toMatchObject({ on: true, value: 1 });
  });

  it('logs what a node was told and lets it switch itself off after the command duration', async () => {
    const told = logLine(/^ESP_2 gpio 3 <- PWM value=0\.5 duration=0\.05s \[cid-\d+\]$/);
    const off = logLine(/^ESP_2 gpio 3: off after 0\.05s$/);
    const answer = await driver.send(cmd('ESP_2', 3, 'PWM', 0.5, 0.05), forever());
    await told;
    expect(answer.message).toMatch(/^ESP_2 gpio 3: PWM value=0\.5 duration=0\.05s applied/);
    await off;
    expect(emulator.state()[0]).toMatchObject({ on: false, value: 0, last_command: 'AUTO_OFF' });
  });

  it('returns success:false with the device message when the device fails', async () => {
    emulator.setBehaviour('ESP_2', { fail: true });
    const answer = await driver.send(cmd('ESP_2', 4, 'ON', 1), forever());
    expect(answer.success).toBe(false);
    expect(answer.message).toMatch(/^ESP_2 gpio 4: ON value=1 duration=0s failed: simulated failure/);
    expect(emulator.state()).toEqual([]);

    expect(() => emulator.setBehaviour('ESP_X', { fail: true })).toThrow(/^unknown node ESP_X; emulated: ESP_0, ESP_1/);
    const unknown = await driver.send({ ...cmd('ESP_3', 4, 'ON', 1), command: 'BLINK' as ActuatorCommandName }, forever());
    expect(unknown).toEqual({ success: false, message: 'ESP_3 gpio 4: invalid command {"command":"BLINK","value":1}' });
  });

  it('keeps waiting for a silent device until the signal aborts, then forgets the command', async () => {
    emulator.setBehaviour('ESP_3', { silent: true });
    const controller = new AbortController();
    const reached = once(emulator, 'command');
    let settled = false;
    const call = driver.send(cmd('ESP_3', 2, 'ON', 1), { signal: controller.signal, timeoutMs: 1000 });
    call.then(() => (settled = true), () => (settled = true));
    await reached;
    expect((await driver.send(cmd('ESP_4', 2, 'ON', 1), forever())).success).toBe(true);
    expect(settled).toBe(false);
    expect(driver.pendingCount).toBe(1);

    const reason = new SequencerError(Codes.STEP_TIMEOUT);
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(driver.pendingCount).toBe(0);

    await expect(driver.send(cmd('ESP_4', 2, 'OFF', 0), { signal: AbortSignal.abort('gone'), timeoutMs: 1 })).rejects.toBe('gone');
    expect(driver.pendingCount).toBe(0);
  });

  it('fails in-flight and new commands at once when the broker dies, and counts the disconnect', async () => {
    emulator.setBehaviour('ESP_5', { silent: true });
    const disconnected = once(driver, 'disconnect');
    const reached = once(emulator, 'command');
    const inFlight = driver.send(cmd('ESP_5', 6, 'ON', 1), forever());
    const inFlightFails = expect(inFlight).rejects.toThrow(/connection lost while waiting for the answer/);
    await reached;

    await broker.kill();
    await inFlightFails;
    await expect(inFlight).rejects.toMatchObject({ code: Codes.STEP_FAILED, message: expect.stringMatching(UNREACHABLE) });
    await disconnected;
    expect(driver.disconnects).toBe(1);
    expect(driver.pendingCount).toBe(0);
    expect(driver.health().ok).toBe(false);
    expect(driver.health().detail).toMatch(/^not connected to mqtt:\/\/127\.0\.0\.1:\d+( \(.+\))?; retrying every 50 ms$/);
    await expect(driver.send(cmd('ESP_1', 6, 'ON', 1), forever())).rejects.toMatchObject({
      code: Codes.STEP_FAILED,
      message: expect.stringMatching(UNREACHABLE),
    });
  });

  it('reconnects when the broker returns on the same port and commands work again', async () => {
    const disconnected = once(driver, 'disconnect');
    await broker.kill();
    await disconnected;
    await broker.restart();
    await driver.whenConnected();
    await emulator.whenReady();
    expect(driver.health().ok).toBe(true);
    expect(driver.disconnects).toBe(1);
    expect(await driver.send(cmd('ESP_6', 7, 'ON', 1), forever())).toMatchObject({ success: true });
    expect(emulator.state()).toContainEqual(expect.objectContaining({ esp_id: 'ESP_6', gpio: 7, on: true }));
  });

  it('correlates a burst of 500 commands to 10 nodes with their own answers', async () => {
    const commands = Array.from({ length: 500 }, (_, i) => cmd(ESPS[i % 10], 10 + (Math.floor(i / 10) % 5), 'PWM', (i + 1) / 1000));
    const answers = await Promise.all(commands.map((c) => driver.send(c, forever())));
    answers.forEach((answer, i) => {
      const c = commands[i];
      expect(answer).toEqual({
        success: true,
        message: `${c.esp_id} gpio ${c.gpio}: PWM value=${c.value} duration=0s applied [${c.correlation_id}]`,
      });
    });
    expect(emulator.state()).toHaveLength(50);
    expect(emulator.state().reduce((n, a) => n + a.commands, 0)).toBe(500);
    expect(driver.pendingCount).toBe(0);
    expect(driver.unmatchedResponses).toBe(0);
  });

  it('ignores malformed answers and answers on the wrong topic without failing', async () => {
    const device = await mqtt.connectAsync(broker.url);
    await device.subscribeAsync('kaiser/god/esp/ESP_RAW/actuator/7/command', { qos: 2 });
    device.on('message', (_topic, payload) => {
      const { correlation_id } = JSON.parse(payload.toString()) as { correlation_id: string };
      const base = 'kaiser/god/esp/ESP_RAW/actuator';
      for (const junk of ['not json', '[]', '{"success":"yes","correlation_id":"x"}', '{"success":true}']) {
        device.publish(`${base}/7/response`, junk, { qos: 1 });
      }
      device.publish(`${base}/8/response`, JSON.stringify({ success: false, message: 'wrong', correlation_id }), { qos: 1 });
      device.publish(`${base}/7/response`, JSON.stringify({ success: true, message: 'right', correlation_id }), { qos: 1 });
    });
    try {
      expect(await driver.send(cmd('ESP_RAW', 7, 'ON', 1), forever())).toEqual({ success: true, message: 'right' });
      expect(driver.malformedResponses).toBe(4);
      expect(driver.unmatchedResponses).toBe(1);
    } finally {
      await device.endAsync(true);
    }
  });

  it('rejects every waiting command on close, and close can be called twice', async () => {
    emulator.setBehaviour('ESP_7', { silent: true });
    const reached = once(emulator, 'command');
    const first = cmd('ESP_7', 1, 'ON', 1);
    const waiting = driver.send(first, forever());
    const fails = expect(waiting).rejects.toThrow(/^MQTT driver closed \(mqtt:\/\/127\.0\.0\.1:\d+\): command not delivered$/);
    await reached;
    const duplicate = driver.send({ ...first, command: 'OFF', value: 0 }, forever());
    await expect(duplicate).rejects.toMatchObject({ code: Codes.INTERNAL_ERROR });

    await Promise.all([driver.close(), driver.close()]);
    await fails;
    await driver.close();
    expect(driver.health().ok).toBe(false);
    expect(driver.health().detail).toMatch(/^closed/);
    await expect(driver.send(cmd('ESP_1', 1, 'ON', 1), forever())).rejects.toThrow(/MQTT driver closed/);
    await expect(driver.whenConnected()).rejects.toThrow(/MQTT driver closed/);
  });
}

describe('mqtt driver through the embedded aedes broker', () => {
  brokerSuite(startAedes);
});

const mosquittoBin = findMosquitto();
describe.skipIf(!mosquittoBin)(`mqtt driver through a real mosquitto${mosquittoBin ? '' : ` (skipped: ${MOSQUITTO_MISSING})`}`, () => {
  brokerSuite(() => startMosquitto(mosquittoBin as string));
});

describe('mqtt driver against an absent, a stuck or a refusing broker', () => {
  it('starts anyway, fails commands at once with the redacted URL, and connects once a broker appears', async () => {
    const port = await freePort();
    const driver = new MqttDriver({ url: `mqtt://user:s3cret@127.0.0.1:${port}`, connectTimeoutMs: 300, reconnectPeriodMs: 50 });
    let broker: EmbeddedBroker | null = null;
    await driver.start();
    try {
      expect(driver.health()).toMatchObject({ ok: false, detail: expect.stringMatching(/ECONNREFUSED/) });
      const failure = driver.send(cmd('ESP_1', 5, 'ON', 1), forever());
      await expect(failure).rejects.toMatchObject({ code: Codes.STEP_FAILED, message: expect.stringMatching(UNREACHABLE) });
      await expect(failure).rejects.not.toThrow(/s3cret/);
      await expect(driver.send(cmd('ESP/#', 5, 'ON', 1), forever())).rejects.toThrow(
        '"ESP/#" gpio 5 cannot be addressed by an MQTT topic',
      );
      expect(driver.disconnects).toBe(0);

      broker = await startEmbeddedBroker({ port });
      await driver.whenConnected();
      expect(driver.health()).toEqual({ ok: true, detail: `connected to mqtt://127.0.0.1:${port}` });
    } finally {
      await driver.close();
      await broker?.close();
    }
  });

  it('never delivers that command later, once the broker is back', async () => {
    // A broker that takes the command but never acknowledges it keeps it in MQTT.js's resend store.
    const stuck = await hookedAedes({
      authorizePublish: (_client, packet, done) => (packet.topic.endsWith('/command') ? undefined : done(null)),
    });
    const url = `mqtt://127.0.0.1:${stuck.port}`;
    const driver = new MqttDriver({ url, reconnectPeriodMs: 50 });
    const emulator = new DeviceEmulator({ url, espIds: ['ESP_1'], latencyMs: 0, reconnectPeriodMs: 50 });
    const received: string[] = [];
    emulator.on('command', (c) => received.push(c.correlation_id));
    let broker: EmbeddedBroker | null = null;
    try {
      await Promise.all([driver.start(), emulator.start()]);
      const lost = driver.send(cmd('ESP_1', 5, 'ON', 1), forever());
      const lostFails = expect(lost).rejects.toThrow(UNREACHABLE);
      await stuck.close();
      await lostFails;

      broker = await startEmbeddedBroker({ port: stuck.port });
      await Promise.all([driver.whenConnected(), emulator.whenReady()]);
      const next = cmd('ESP_1', 5, 'OFF', 0);
      expect(await driver.send(next, forever())).toMatchObject({ success: true });
      expect(received).toEqual([next.correlation_id]);
    } finally {
      await driver.close();
      await emulator.close();
      await broker?.close();
    }
  });

  it('reports the refusal, fails commands with it, and keeps retrying until the broker accepts', async () => {
    let accept = false;
    const guarded = await hookedAedes({ authenticate: (_client, _user, _password, done) => done(null, accept) });
    const driver = new MqttDriver({ url: `mqtt://127.0.0.1:${guarded.port}`, username: 'u', connectTimeoutMs: 300, reconnectPeriodMs: 50 });
    try {
      await driver.start();
      expect(driver.health()).toMatchObject({ ok: false, detail: expect.stringMatching(/Connection refused: Not authorized/) });
      await expect(driver.send(cmd('ESP_1', 5, 'ON', 1), forever())).rejects.toThrow(
        /^MQTT broker unreachable \(mqtt:\/\/127\.0\.0\.1:\d+\): Connection refused: Not authorized$/,
      );
      accept = true;
      await driver.whenConnected();
      expect(driver.health().ok).toBe(true);
    } finally {
      await driver.close();
      await guarded.close();
    }
  });
});

describe('embedded broker', () => {
  it('picks a free port for port 0, refuses a busy port, and closes idempotently', async () => {
    const broker = await startEmbeddedBroker({ port: 0 });
    expect(broker.port).toBeGreaterThan(0);
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    await expect(startEmbeddedBroker({ port: broker.port })).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    await Promise.all([broker.close(), broker.close()]);
    await broker.close();
  });
});
