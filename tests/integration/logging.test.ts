/**
 * The server's log lines, read from the logger's stream: one line per run started, ended, failed
 * and safe state failed, each with `run_id` and `sequence_id`; requests only at `debug`; a line
 * saying the embedded MQTT broker runs; people's rendering on a terminal. And the reason of a
 * failed webhook as the step's message.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, type LogLevel } from '../../src/logging/logger.ts';
import { createServices } from '../../src/services.ts';
import { testApp, testConfig, type TestApp } from './api-harness.ts';

/** A log line as pino writes it. */
interface Line {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A logger at `level` whose lines are collected, parsed, in `lines`. */
async function capturedLogger(level: LogLevel) {
  const lines: Line[] = [];
  const logger = await createLogger({ level, destination: { write: (line: string) => lines.push(JSON.parse(line) as Line) } });
  return { logger, lines };
}

const INFO = 30;
const WARN = 40;
const ERROR = 50;
const DEBUG = 20;

let app: TestApp | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

/** A port that was just free and is closed again. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function start(body: Record<string, unknown>): Promise<string> {
  const response = await (app as TestApp).inject({ method: 'POST', url: '/api/v1/sequences', payload: body });
  expect(response.statusCode).toBe(202);
  return (response.json() as { run_id: string }).run_id;
}

describe("a run's life in the log", () => {
  it('logs one line when each run starts, and one when it ends, fails, or its safe state fails', async () => {
    const { logger, lines } = await capturedLogger('info');
    app = await testApp({}, { logger });
    const sim = app.services.sim;
    if (!sim) throw new Error('sim driver expected');

    const done = await start({ sequence_id: 'log-ok', steps: [{ name: 'Pump ON', action: { type: 'actuator_command', esp_id: 'ESP_LOG1', gpio: 1, command: 'ON' } }] });
    await app.ended(done);

    // Nobody listens on the port any more: the webhook fails at once, and the run with it.
    const hook = `http://127.0.0.1:${await closedPort()}/hook`;
    const failed = await start({ sequence_id: 'log-fail', steps: [{ name: 'Tell', action: { type: 'notification', channel: 'webhook', target: hook, message: 'x' } }] });
    await app.ended(failed);
    const progress = (await app.inject({ method: 'GET', url: `/api/v1/sequences/${failed}` })).json() as { step_results: { message: string }[] };
    expect(progress.step_results[0]?.message).toBe(`Webhook ${hook} failed: connection refused by 127.0.0.1 (ECONNREFUSED)`);

    // Holds an actuator ON, then its node stops obeying: the cancel's safe state cannot turn it OFF.
    const stuck = await start({
      sequence_id: 'log-stuck',
      steps: [
        { name: 'Heater ON', action: { type: 'actuator_command', esp_id: 'ESP_LOG3', gpio: 3, command: 'ON' } },
        { name: 'Wait', delay_seconds: 600 },
      ],
    });
    await expect.poll(() => sim.actuator('ESP_LOG3', 3)?.on).toBe(true);
    sim.configure('ESP_LOG3', { fail: true });
    expect((await app.inject({ method: 'POST', url: `/api/v1/sequences/${stuck}/cancel`, payload: { reason: 'operator' } })).statusCode).toBe(200);
    await app.ended(stuck);

    const runLines = lines.filter((line) => typeof line.run_id === 'string').map(({ level, msg, run_id, sequence_id }) => ({ level, msg, run_id, sequence_id }));
    expect(runLines).toEqual([
      { level: INFO, msg: 'run started', run_id: done, sequence_id: 'log-ok' },
      { level: INFO, msg: 'run ended', run_id: done, sequence_id: 'log-ok' },
      { level: INFO, msg: 'run started', run_id: failed, sequence_id: 'log-fail' },
      { level: WARN, msg: 'run failed', run_id: failed, sequence_id: 'log-fail' },
      { level: INFO, msg: 'run started', run_id: stuck, sequence_id: 'log-stuck' },
      { level: ERROR, msg: 'safe state failed', run_id: stuck, sequence_id: 'log-stuck' },
      { level: INFO, msg: 'run ended', run_id: stuck, sequence_id: 'log-stuck' },
    ]);
    expect(lines.find((line) => line.msg === 'run ended' && line.run_id === done)).toMatchObject({ status: 'completed', steps_completed: 1, steps_failed: 0 });
    expect(lines.find((line) => line.msg === 'run failed')).toMatchObject({ status: 'failed', error_code: 5614, error: expect.stringContaining('Tell') });
    expect(lines.find((line) => line.msg === 'safe state failed')).toMatchObject({ error: expect.stringContaining('ESP_LOG3:3') });
    expect(lines.find((line) => line.msg === 'run ended' && line.run_id === stuck)).toMatchObject({ status: 'cancelled', reason: 'Cancelled: operator' });
  });

  it('logs requests at debug, and not at info', async () => {
    const debug = await capturedLogger('debug');
    app = await testApp({}, { logger: debug.logger });
    await app.inject({ method: 'GET', url: '/health' });
    expect(debug.lines.filter((line) => line.msg === 'request')).toEqual([
      expect.objectContaining({ level: DEBUG, method: 'GET', url: '/health', status: 200, ms: expect.any(Number) }),
    ]);
    await app.close();

    const info = await capturedLogger('info');
    app = await testApp({}, { logger: info.logger });
    await app.inject({ method: 'GET', url: '/health' });
    expect(info.lines.filter((line) => line.msg === 'request')).toEqual([]);
  });

  it('says that an embedded MQTT broker runs, and where', async () => {
    const { logger, lines } = await capturedLogger('info');
    const services = await createServices(testConfig({ driver: 'mqtt', mqttUrl: null, mqttPort: 0 }), { logger });
    try {
      expect(lines).toContainEqual(
        expect.objectContaining({ level: INFO, msg: expect.stringMatching(/^embedded MQTT broker listening on mqtt:\/\/127\.0\.0\.1:\d+$/), url: expect.any(String) }),
      );
    } finally {
      await services.close();
    }
  });

  it('renders lines for people when asked (as on a terminal)', async () => {
    let text = '';
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        text += chunk.toString();
        callback();
      },
    });
    const logger = await createLogger({ pretty: true, destination });
    logger.info({ run_id: 'run-1', sequence_id: 'zone-1' }, 'run started');
    expect(text).toMatch(/INFO.*run started/);
    expect(text).toContain('run_id: "run-1"');
    expect(() => JSON.parse(text)).toThrow();
  });
});
