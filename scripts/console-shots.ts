/**
 * `npm run console:shots`: screenshots of every page of the operator console at 1280x800 and
 * 390x844 into docs/console/, from a server on a free port with the sim driver, simulated sensors
 * and a few runs in each state (waiting on a sensor after a skipped step, paused, failed with
 * cleanup and a safe state not confirmed, completed), a template, and at the end a latched
 * emergency stop.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { defaultConfig } from '../src/config/server-config.ts';
import { startServer } from '../src/server.ts';
import { ensureConsoleBuilt, launchChromium, offlineContext } from '../tests/helpers/browser.ts';

const OUT = fileURLToPath(new URL('../docs/console/', import.meta.url));
const SIZES = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
];

ensureConsoleBuilt();
mkdirSync(OUT, { recursive: true });
const server = await startServer({ ...defaultConfig(), port: 0, db: ':memory:', simLatencyMs: 20 });
const api = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.json() as Promise<Record<string, unknown>>;
};
const valve = (gpio: number, command: 'ON' | 'OFF', name: string) => ({ name, action: { type: 'actuator_command', esp_id: 'ESP_12AB34CD', gpio, command } });

await api('PUT', '/sequence-templates/irrigate-zone', {
  description: 'Open a zone valve, water for a while, close it',
  params: {
    gpio: { type: 'integer', required: true, min: 0, max: 39, description: 'Valve output' },
    seconds: { type: 'number', default: 30, min: 1, max: 3600, description: 'How long to water' },
  },
  steps: [valve(0, 'ON', 'Open valve'), { name: 'Water', delay_seconds: '{{seconds}}' }, valve(0, 'OFF', 'Close valve')],
}).catch(() => undefined);
await api('POST', '/sequences', { sequence_id: 'zone-1-done', steps: [valve(4, 'ON', 'Open valve'), { name: 'Water', delay_seconds: 0.2 }, valve(4, 'OFF', 'Close valve')] });
await api('PUT', '/sim/devices/ESP_FAN', { fail: true });
const failed = await api('POST', '/sequences', {
  sequence_id: 'vent-abort',
  steps: [{ name: 'Fan on', action: { type: 'actuator_command', esp_id: 'ESP_FAN', gpio: 2, command: 'ON' }, retry_count: 1, retry_delay_seconds: 0.1 }],
  cleanup_steps: [{ name: 'Notify', action: { type: 'notification', channel: 'websocket', title: 'Vent', message: 'fan failed' } }],
});
const paused = await api('POST', '/sequences', { sequence_id: 'zone-2', steps: [valve(6, 'ON', 'Open valve'), { name: 'Water', delay_seconds: 900 }, valve(6, 'OFF', 'Close valve')] });
const moisture = { esp_id: 'ESP_12AB34CD', gpio: 34 };
await api('PUT', '/sim/sensors/ESP_12AB34CD/34', { value: 22, unit: '%', follows: { esp_id: 'ESP_12AB34CD', gpio: 5, rate_per_second: 0.02 }, drift_per_second: -0.001 });
await api('PUT', '/sim/sensors/ESP_12AB34CD/35', { value: 18.4, unit: '°C' });
await api('PUT', '/sim/sensors/ESP_5566AABB/34', { value: 61, unit: '%', quality: 'stale' });
const running = await api('POST', '/sequences', {
  sequence_id: 'zone-3',
  description: 'Water zone 3 until the soil is moist',
  steps: [
    { ...valve(7, 'ON', 'Fertilise if very dry'), when: { sensor: moisture, below: 10 } },
    valve(5, 'ON', 'Open valve'),
    { name: 'Until moist', wait_for: { condition: { sensor: moisture, above: 40 }, timeout_seconds: 3600 } },
    valve(5, 'OFF', 'Close valve'),
  ],
});
await new Promise((resolve) => setTimeout(resolve, 1500));
await api('POST', `/sequences/${String(paused.run_id)}/pause`, { outputs: 'hold' });

const browser = await launchChromium();
const shoot = async (page: Page, name: string, size: (typeof SIZES)[number]) => {
  await page.waitForTimeout(600);
  await page.screenshot({ path: `${OUT}${name}-${size.name}.png`, fullPage: false });
};
try {
  for (const size of SIZES) {
    const { context, blocked } = await offlineContext(browser, server.url, { width: size.width, height: size.height });
    const page = await context.newPage();
    await page.goto(server.url);
    await page.getByText('zone-3').first().waitFor();
    await shoot(page, 'runs', size);
    await page.goto(`${server.url}/#/runs/${String(running.run_id)}`);
    await page.locator('svg.statechart').waitFor();
    await shoot(page, 'run', size);
    await page.goto(`${server.url}/#/runs/${String(failed.run_id)}`);
    await page.getByTestId('run-outcome').waitFor();
    await shoot(page, 'run-failed', size);
    await page.goto(`${server.url}/#/start`);
    await page.getByLabel('gpio').fill('40');
    await page.getByRole('button', { name: /^Start irrigate-zone/ }).click();
    await page.getByTestId('errors').waitFor();
    await shoot(page, 'start', size);
    await page.goto(`${server.url}/#/devices`);
    await page.getByText('ESP_12AB34CD').first().waitFor();
    await shoot(page, 'devices', size);
    if (blocked.length > 0) throw new Error(`the console asked other hosts for ${blocked.join(', ')}`);
    await context.close();
  }
  await api('POST', '/emergency-stop', { reason: 'Water on the floor of house 2' });
  for (const size of SIZES) {
    const { context } = await offlineContext(browser, server.url, { width: size.width, height: size.height });
    const page = await context.newPage();
    await page.goto(server.url);
    await page.getByTestId('latch').waitFor();
    await shoot(page, 'emergency', size);
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
}
process.stdout.write(`screenshots written to ${OUT}\n`);
