import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ActuatorCommand } from '../../src/drivers/actuator-driver.ts';
import { SimDriver } from '../../src/drivers/sim.driver.ts';

const command = (over: Partial<ActuatorCommand> = {}): ActuatorCommand => ({
  esp_id: 'ESP_1',
  gpio: 5,
  command: 'ON',
  value: 1,
  duration_seconds: 0,
  correlation_id: 'c-1',
  ...over,
});

const send = (driver: SimDriver, over: Partial<ActuatorCommand> = {}, signal = new AbortController().signal) =>
  driver.send(command(over), { signal, timeoutMs: 1000 });

describe('sim driver', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers each command after the default latency of 20 ms and applies it', async () => {
    const driver = new SimDriver();
    let answer: unknown;
    void send(driver).then((a) => (answer = a));
    await vi.advanceTimersByTimeAsync(19);
    expect(answer).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(answer).toEqual({ success: true, message: 'ESP_1 gpio 5 ON ok' });
    expect(driver.actuator('ESP_1', 5)).toMatchObject({ gpio: 5, on: true, value: 1, last_command: 'ON' });
  });

  it('with latency 0 answers without a timer', async () => {
    const driver = new SimDriver(0);
    const answer = send(driver);
    expect(vi.getTimerCount()).toBe(0);
    await expect(answer).resolves.toMatchObject({ success: true });
  });

  it('uses the latency configured for a node', async () => {
    const driver = new SimDriver(20);
    driver.configure('ESP_1', { latency_ms: 500 });
    let done = false;
    void send(driver).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(499);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
  });

  it('a failing node answers success false and changes nothing', async () => {
    const driver = new SimDriver(0);
    driver.configure('ESP_1', { fail: true });
    await expect(send(driver)).resolves.toEqual({ success: false, message: 'ESP_1: simulated failure' });
    expect(driver.actuator('ESP_1', 5)).toBeUndefined();
  });

  it('a hanging node never answers until the signal aborts, then rejects with its reason', async () => {
    const driver = new SimDriver(0);
    driver.configure('ESP_1', { hang: true });
    const controller = new AbortController();
    const answer = send(driver, {}, controller.signal);
    let settled = false;
    answer.then(
      () => (settled = true),
      () => (settled = true),
    );
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(settled).toBe(false);
    controller.abort(new Error('step cancelled'));
    await expect(answer).rejects.toThrow('step cancelled');
  });

  it('an abort during the latency cancels the answer and its timer', async () => {
    const driver = new SimDriver(100);
    const controller = new AbortController();
    const answer = send(driver, {}, controller.signal);
    answer.catch(() => {});
    controller.abort(new Error('gone'));
    await expect(answer).rejects.toThrow('gone');
    expect(vi.getTimerCount()).toBe(0);
    expect(driver.actuator('ESP_1', 5)).toBeUndefined();
  });

  it('refuses at once a command whose signal is already aborted', async () => {
    const driver = new SimDriver(0);
    await expect(send(driver, {}, AbortSignal.abort(new Error('too late')))).rejects.toThrow('too late');
  });

  it('applies OFF, PWM and TOGGLE to the actuator state', async () => {
    const driver = new SimDriver(0);
    await send(driver, { command: 'PWM', value: 0.4 });
    expect(driver.actuator('ESP_1', 5)).toMatchObject({ on: true, value: 0.4 });
    await send(driver, { command: 'PWM', value: 0 });
    expect(driver.actuator('ESP_1', 5)).toMatchObject({ on: false, value: 0 });
    await send(driver, { command: 'TOGGLE' });
    expect(driver.actuator('ESP_1', 5)).toMatchObject({ on: true, value: 1 });
    await send(driver, { command: 'TOGGLE' });
    expect(driver.actuator('ESP_1', 5)).toMatchObject({ on: false, value: 0 });
    await send(driver, { command: 'ON' });
    await send(driver, { command: 'OFF', value: 0 });
    expect(driver.actuator('ESP_1', 5)).toMatchObject({ on: false, value: 0, last_command: 'OFF' });
  });

  it('shows every node with its behaviour, command count and actuators sorted by gpio', async () => {
    const driver = new SimDriver(0);
    await send(driver, { gpio: 7 });
    await send(driver, { gpio: 2 });
    expect(driver.configure('ESP_2', { fail: true })).toMatchObject({ esp_id: 'ESP_2', fail: true, hang: false, latency_ms: 0, commands: 0, actuators: [] });
    const devices = driver.devices();
    expect(devices.map((d) => d.esp_id)).toEqual(['ESP_1', 'ESP_2']);
    expect(devices[0]).toMatchObject({ commands: 2, actuators: [expect.objectContaining({ gpio: 2 }), expect.objectContaining({ gpio: 7 })] });
    expect(driver.health()).toEqual({ ok: true, detail: 'sim: 2 nodes' });
  });

  it('starts and closes without doing anything, as often as asked', async () => {
    const driver = new SimDriver();
    await driver.start();
    await driver.close();
    await driver.close();
    expect(driver.kind).toBe('sim');
  });
});
