/**
 * `sequencer emulate` as a person uses it: a real process on a real broker, answering the mqtt
 * driver, printing what its nodes were told, and stopping cleanly on a signal.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseEmulateArgs } from '../../src/cli/emulate.command.ts';
import { Codes, SequencerError } from '../../src/domain/errors.ts';
import type { ActuatorCommand } from '../../src/drivers/actuator-driver.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/drivers/embedded-broker.ts';
import { MqttDriver } from '../../src/drivers/mqtt.driver.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** `sequencer emulate ARGS` with its output collected; `printed(re)` resolves once a line matches. */
function emulate(args: string[]) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'emulate', ...args], {
    cwd: ROOT,
  });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve(): void }[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const waiter of [...waiters]) {
      if (!waiter.pattern.test(stdout)) continue;
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    printed: (pattern: RegExp) => (pattern.test(stdout) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ pattern, resolve }))),
    exitCode: async () => (await exited)[0],
  };
}

let seq = 0;
function cmd(esp_id: string, gpio: number, command: 'ON' | 'OFF'): ActuatorCommand {
  return { esp_id, gpio, command, value: command === 'ON' ? 1 : 0, duration_seconds: 0, correlation_id: `cli-${++seq}` };
}

describe('sequencer emulate', () => {
  let broker: EmbeddedBroker;
  let driver: MqttDriver;

  beforeEach(async () => {
    broker = await startEmbeddedBroker({ port: 0 });
    driver = new MqttDriver({ url: broker.url });
    await driver.start();
  });

  afterEach(async () => {
    await driver.close();
    await broker.close();
  });

  it('plays the nodes, answers as each is told to, prints every command, and exits 0 on SIGTERM', async () => {
    const run = emulate(['--mqtt-url', broker.url, '--esp', 'ESP_1', '--fail', 'ESP_2', '--silent=ESP_3', '--latency-ms', '0']);
    await run.printed(/^emulator: ESP_1, ESP_2, ESP_3 listening on /m);
    expect(run.stdout()).toMatch(/^emulating ESP_1 \(answers\), ESP_2 \(fails\), ESP_3 \(silent\) on mqtt:\/\/127\.0\.0\.1:\d+, kaiser god, latency 0 ms$/m);

    const forever = { signal: new AbortController().signal, timeoutMs: 10_000 };
    const on = cmd('ESP_1', 5, 'ON');
    expect(await driver.send(on, forever)).toEqual({ success: true, message: `ESP_1 gpio 5: ON value=1 duration=0s applied [${on.correlation_id}]` });
    const refused = cmd('ESP_2', 4, 'ON');
    expect(await driver.send(refused, forever)).toMatchObject({ success: false, message: expect.stringContaining('failed: simulated failure') });

    const timeout = new AbortController();
    const silent = driver.send(cmd('ESP_3', 2, 'OFF'), { signal: timeout.signal, timeoutMs: 1000 });
    await run.printed(/^ESP_3 gpio 2: silent, no answer$/m);
    timeout.abort(new SequencerError(Codes.STEP_TIMEOUT));
    await expect(silent).rejects.toMatchObject({ code: Codes.STEP_TIMEOUT });

    expect(run.stdout()).toContain(`ESP_1 gpio 5 <- ON value=1 duration=0s [${on.correlation_id}]\n`);
    expect(run.stdout()).toContain(`ESP_1 gpio 5 -> ok: ESP_1 gpio 5: ON value=1 duration=0s applied [${on.correlation_id}]\n`);
    expect(run.stdout()).toContain(`ESP_2 gpio 4 -> FAILED: ESP_2 gpio 4: ON value=1 duration=0s failed: simulated failure [${refused.correlation_id}]\n`);
    run.child.kill('SIGTERM');
    expect(await run.exitCode()).toBe(0);
    expect(run.stdout()).toMatch(/^emulator: SIGTERM, stopping$/m);
  });

  it('answers as the firmware does with --firmware: no correlation_id, its own messages, still paired with the command', async () => {
    const run = emulate(['--mqtt-url', broker.url, '--esp', 'ESP_1', '--latency-ms', '0', '--firmware']);
    await run.printed(/^emulator: ESP_1 listening on /m);
    expect(run.stdout()).toMatch(/^emulating ESP_1 \(answers\) on mqtt:\/\/127\.0\.0\.1:\d+, kaiser god, latency 0 ms, answering as the firmware \(no correlation_id\)$/m);

    const forever = { signal: new AbortController().signal, timeoutMs: 10_000 };
    expect(await driver.send(cmd('ESP_1', 5, 'ON'), forever)).toEqual({ success: true, message: 'Command executed' });
    expect(run.stdout()).toContain('ESP_1 gpio 5 <- ON value=1 duration=0s\n');
    expect(run.stdout()).toContain('ESP_1 gpio 5 -> ok: Command executed\n');
    run.child.kill('SIGTERM');
    expect(await run.exitCode()).toBe(0);
  });

  it('waits for a broker that is not there yet, and still exits 0 on SIGINT', async () => {
    await broker.close();
    const run = emulate(['--mqtt-url', broker.url, '--esp', 'ESP_1']);
    await run.printed(/^emulator: connect ECONNREFUSED/m);
    run.child.kill('SIGINT');
    expect(await run.exitCode()).toBe(0);
  });

  it('refuses unusable arguments with the reason and exit code 2', async () => {
    const run = emulate(['--esp', 'ESP_1', '--latency-ms', 'fast']);
    expect(await run.exitCode()).toBe(2);
    expect(run.stderr()).toMatch(/^sequencer emulate: --latency-ms must be an integer 0\.\.600000 \(got 'fast'\)\nUsage: sequencer emulate/);
  });
});

describe('emulate arguments', () => {
  it('plays every node of --esp, --fail and --silent once, with the documented defaults', () => {
    expect(parseEmulateArgs(['--esp', 'ESP_1, ESP_2', '--fail', 'ESP_2', '--silent', 'ESP_3'], {})).toEqual({
      url: 'mqtt://127.0.0.1:1883',
      kaiserId: 'god',
      latencyMs: 20,
      espIds: ['ESP_1', 'ESP_2', 'ESP_3'],
      fail: ['ESP_2'],
      silent: ['ESP_3'],
      sensors: [],
      sensorIntervalMs: 5000,
    });
    expect(parseEmulateArgs(['--firmware', '--esp', 'ESP_1'], {})).toMatchObject({ espIds: ['ESP_1'], firmware: true });
    expect(parseEmulateArgs(['--esp=ESP_1', '--kaiser-id', 'farm', '--latency-ms=0'], { MQTT_URL: 'mqtts://broker:8883' })).toMatchObject({
      url: 'mqtts://broker:8883',
      kaiserId: 'farm',
      latencyMs: 0,
    });
  });

  it.each([
    [[], /^no node to play/],
    [['--esp'], /^--esp needs a value$/],
    [['--esp', '--fail', 'ESP_1'], /^--esp needs a value$/],
    [['--nodes', 'ESP_1'], /^Unknown option --nodes$/],
    [['ESP_1'], /^Unexpected argument 'ESP_1'$/],
    [['--esp', 'ESP/1'], /^--esp: 'ESP\/1' cannot be an esp_id/],
    [['--esp', 'ESP_1', '--mqtt-url', 'http://x'], /^--mqtt-url must be a URL such as mqtt:/],
    [['--esp', 'ESP_1', '--kaiser-id', 'a/b'], /^--kaiser-id 'a\/b' cannot be a topic level$/],
    [['--fail', 'ESP_1', '--silent', 'ESP_1'], /^ESP_1 cannot be in both --fail and --silent$/],
  ])('refuses %j', (args, message) => {
    expect(() => parseEmulateArgs(args, {})).toThrow(message);
  });
});
