/**
 * The operator console in a real headless Chromium (SPEC 13), against a real server on a free port
 * with tokens: it loads with every other host blocked and asks none; a run started over REST shows
 * up and moves through its states on the chart; pause, resume and cancel from the page change the
 * run; a viewer sees no control; the emergency stop from the page stops a run and shows the latch;
 * the start form refuses a bad parameter at its path; a retried step is a bar per attempt; a
 * stopping run says what it will end as; sensors show value, age and quality; skipped steps and
 * waits are on the timeline; the list filters by status and sequence id; a run is operated from the
 * keyboard alone; every control is named and every page fits 1280x800 and 390x844; after a server
 * restart the page reconnects and has every event. One browser and one operator page serve every
 * test, in order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../console/src/api/types.ts';
import { chartPath } from '../../console/src/chart/chart-path.ts';
import { chartGraph } from '../../machines/chart-graph.ts';
import { sequenceMachine } from '../../machines/sequence.machine.ts';
import type { EventEnvelope } from '../../src/events/event-types.ts';
import { defaultConfig, type ServerConfig } from '../../src/config/server-config.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { ensureConsoleBuilt, launchChromium, offlineContext } from '../helpers/browser.ts';

const OPERATOR = 'console-operator-token';
const VIEWER = 'console-viewer-token';

let dir = '';
let config: ServerConfig;
let server: RunningServer;
let browser: Browser;
let page: Page;
let blocked: string[] = [];
/** Every event of the current server, in order. */
let events: EventEnvelope[] = [];

async function start(port = 0): Promise<void> {
  server = await startServer({ ...config, port });
  events = [];
  server.services.engine.events.subscribe((event) => events.push(event));
}

async function api(method: string, path: string, body?: unknown): Promise<Record<string, any>> {
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${OPERATOR}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.json() as Promise<Record<string, any>>;
}

const valve = (gpio: number, command: 'ON' | 'OFF') => ({ name: `Valve ${command}`, action: { type: 'actuator_command', esp_id: 'ESP_CONSOLE', gpio, command } });
/** A run that waits on a long delay between an ON and an OFF. */
const longRun = (sequenceId: string, gpio: number) => ({ sequence_id: sequenceId, steps: [valve(gpio, 'ON'), { name: 'Water', delay_seconds: 600 }, valve(gpio, 'OFF')] });
const statusOf = async (runId: string) => (await api('GET', `/sequences/${runId}`)).status as string;

/** Waits until the server reports the status (the page acted through the API). */
async function serverStatus(runId: string, status: string): Promise<void> {
  await expect.poll(() => statusOf(runId), { timeout: 15_000, interval: 100 }).toBe(status);
}

async function signIn(target: Page, token: string): Promise<void> {
  await target.goto(server.url);
  await target.getByLabel('API token').fill(token);
  await target.getByRole('button', { name: 'Use this token' }).click();
  await target.getByTestId('stream-status').getByText('live').waitFor();
}

/** Presses Tab until the focused element's accessible text matches `name` (fails after 120). */
async function focusByTab(target: Page, name: RegExp): Promise<void> {
  for (let presses = 0; presses < 120; presses++) {
    const focused = await target.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return '';
      const labels = (el as HTMLInputElement).labels;
      return (labels?.[0]?.textContent ?? el.getAttribute('aria-label') ?? el.textContent ?? '').trim();
    });
    if (name.test(focused)) return;
    await target.keyboard.press('Tab');
  }
  throw new Error(`no control named ${name} is reachable with Tab`);
}

/** Runs in the page: the focusable controls that have no accessible name (label, text, aria). */
function unnamedControls(): string[] {
  const controls = document.querySelectorAll<HTMLElement>('button, input, select, textarea, a[href], summary, [tabindex]:not([tabindex="-1"])');
  return [...controls]
    .filter((el) => {
      const labelledBy = el.getAttribute('aria-labelledby');
      const names = [
        el.getAttribute('aria-label'),
        labelledBy ? document.getElementById(labelledBy)?.textContent : null,
        [...((el as HTMLInputElement).labels ?? [])].map((label) => label.textContent).join(' '),
        el.textContent,
        el.getAttribute('title'),
      ];
      return !names.some((name) => name && name.trim() !== '');
    })
    .map((el) => el.outerHTML.slice(0, 120));
}

beforeAll(async () => {
  ensureConsoleBuilt();
  dir = mkdtempSync(join(tmpdir(), 'console-browser-'));
  config = {
    ...defaultConfig(),
    db: join(dir, 'console.db'),
    simLatencyMs: 0,
    rate_limits: { starts_per_second: 0, commands_per_second: 0, commands_per_esp_per_second: 0 },
    tokens: [
      { token: OPERATOR, role: 'operator' },
      { token: VIEWER, role: 'viewer' },
    ],
  };
  await start();
  browser = await launchChromium();
  const offline = await offlineContext(browser, server.url);
  blocked = offline.blocked;
  page = await offline.context.newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the operator console in Chromium', { timeout: 60_000 }, () => {
  it('loads with every other host blocked and asks none of them for anything', async () => {
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    await signIn(page, OPERATOR);
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    await expect.poll(() => page.getByTestId('role').textContent()).toContain('operator');
    expect(blocked).toEqual([]);
    expect(requests.length).toBeGreaterThan(2);
    for (const url of requests) expect(new URL(url).origin).toBe(server.url);
  });

  it('shows a run started over REST in the list and marks every state it passes through on the chart', async () => {
    const started = await api('POST', '/sequences', { sequence_id: 'chart-run', steps: [valve(1, 'ON'), { name: 'Soak', delay_seconds: 1 }, valve(1, 'OFF')] });
    const row = page.locator(`.run-row[data-run-id="${started.run_id}"]`);
    await row.waitFor();
    await row.getByRole('link', { name: 'chart-run' }).click();
    await page.locator('svg.statechart').waitFor();
    await page.locator('.run-page[data-status="completed"]').waitFor({ timeout: 20_000 });
    const states = events.filter((e) => e.type === 'sequence_state' && (e.data as { run_id: string }).run_id === started.run_id).map((e) => (e.data as { state: string }).state);
    expect(states.length).toBeGreaterThan(2);
    const final = states[states.length - 1] as string;
    await page.locator(`[data-state-id="${final}"][data-mark="current"]`).waitFor();
    for (const state of states.slice(0, -1)) {
      await expect.poll(() => page.locator(`[data-state-id="${state}"]`).getAttribute('data-mark')).toMatch(/visited|current/);
    }
    // START enters running through its choice states, one event for several arrows: each is marked,
    // and the page marks exactly what chartPath computes from the run's events on the server's chart.
    expect(await page.locator('[data-state-id="running.startingStep"]').getAttribute('data-mark')).toBe('visited');
    expect(await page.locator('[data-edge-id^="running.startingStep->"].taken').count()).toBe(1);
    const ofRun = events.filter((e) => (e.data as { run_id?: string }).run_id === started.run_id) as unknown as StreamEvent[];
    const expected = chartPath(chartGraph(sequenceMachine), final, ofRun);
    expect(await page.locator('.transition.taken').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-edge-id')).sort())).toEqual([...expected.taken].sort());
  });

  it('pauses with the outputs off or held, resumes and cancels a run from its page', async () => {
    const started = await api('POST', '/sequences', longRun('controlled', 2));
    const valveState = async () => {
      const devices = (await api('GET', '/devices')).devices as { esp_id: string; actuators: { gpio: number; state: string }[] }[];
      return devices.find((d) => d.esp_id === 'ESP_CONSOLE')?.actuators.find((a) => a.gpio === 2)?.state;
    };
    await page.goto(`${server.url}/#/runs/${started.run_id}`);
    await page.locator('.run-page[data-status="running"]').waitFor();
    expect(await valveState()).toBe('ON');
    // Outputs off (the default): the valve is turned OFF while paused and ON again at resume.
    await page.getByRole('button', { name: /Pause/ }).click();
    await page.getByRole('button', { name: 'Pause the run' }).click();
    await serverStatus(started.run_id, 'paused');
    await expect.poll(() => page.getByTestId('run-state').textContent()).toBe('state paused.off · outputs OFF until resumed');
    expect(await valveState()).toBe('OFF');
    await page.getByRole('button', { name: /Resume/ }).click();
    await serverStatus(started.run_id, 'running');
    await expect.poll(valveState).toBe('ON');
    await page.locator('.run-page[data-status="running"]').waitFor();
    // Outputs held: the valve stays ON.
    await page.getByRole('button', { name: /Pause/ }).click();
    await page.getByLabel('hold as they are').check();
    await page.getByRole('button', { name: 'Pause the run' }).click();
    await serverStatus(started.run_id, 'paused');
    await expect.poll(() => page.getByTestId('run-state').textContent()).toBe('state paused.held · outputs held as they were');
    expect(await valveState()).toBe('ON');
    await page.getByRole('button', { name: /Resume/ }).click();
    await serverStatus(started.run_id, 'running');
    await page.locator('.run-page[data-status="running"]').waitFor();
    await page.getByRole('button', { name: /Cancel/ }).click();
    await page.getByLabel('Reason').last().fill('wrong zone');
    await page.getByRole('button', { name: 'Cancel the run' }).click();
    await serverStatus(started.run_id, 'cancelled');
    await page.locator('.run-page[data-status="cancelled"]').waitFor();
    const cancelled = events.find((e) => e.type === 'sequence_cancelled' && (e.data as { run_id: string }).run_id === started.run_id);
    expect((cancelled?.data as { reason: string }).reason).toBe('wrong zone');
  });

  it('shows a viewer everything but no control', async () => {
    const started = await api('POST', '/sequences', longRun('watched', 3));
    const viewer = await (await offlineContext(browser, server.url)).context.newPage();
    try {
      await signIn(viewer, VIEWER);
      await expect.poll(() => viewer.getByTestId('role').textContent()).toContain('viewer');
      await viewer.locator(`.run-row[data-run-id="${started.run_id}"]`).waitFor();
      await viewer.goto(`${server.url}/#/runs/${started.run_id}`);
      await viewer.locator('svg.statechart').waitFor();
      await viewer.goto(`${server.url}/#/start`);
      await viewer.getByText('Your token may only read').waitFor();
      await viewer.goto(`${server.url}/#/devices`);
      await viewer.getByRole('heading', { name: 'Actuators' }).waitFor();
      for (const path of [`#/runs/${started.run_id}`, '#/start', '#/devices', '#/']) {
        await viewer.goto(`${server.url}/${path}`);
        await viewer.locator('main h1').first().waitFor();
        expect(await viewer.locator('main button:not(.link):not([role="tab"])').count(), path).toBe(0);
        expect(await viewer.getByRole('button', { name: /Emergency stop|Clear/ }).count()).toBe(0);
      }
    } finally {
      await viewer.context().close();
      await api('POST', `/sequences/${started.run_id}/cancel`, { reason: 'test over' });
    }
  });

  it('refuses a bad template parameter at its path and starts nothing', async () => {
    await api('PUT', '/sequence-templates/zone', {
      params: { gpio: { type: 'integer', required: true, min: 0, max: 39 } },
      steps: [{ name: 'Open', action: { type: 'actuator_command', esp_id: 'ESP_CONSOLE', gpio: '{{gpio}}', command: 'ON' } }, { delay_seconds: 1 }],
    });
    const before = (await api('GET', '/sequences?limit=1')).total as number;
    await page.goto(`${server.url}/#/start`);
    await page.getByLabel('gpio').fill('40');
    await page.getByRole('button', { name: 'Start zone' }).click();
    const errors = page.getByTestId('errors');
    await errors.waitFor();
    expect(await errors.textContent()).toContain('params.gpio');
    expect(await page.locator('.field.invalid').getByText('params.gpio').count()).toBe(1);
    expect((await api('GET', '/sequences?limit=1')).total).toBe(before);
  });

  it('stops a run with the emergency stop and shows the latch until it is cleared', async () => {
    const started = await api('POST', '/sequences', longRun('stopped', 4));
    await page.goto(`${server.url}/#/runs/${started.run_id}`);
    await page.locator('.run-page[data-status="running"]').waitFor();
    await page.getByRole('button', { name: /Emergency stop/ }).click();
    await page.getByTestId('emergency').getByLabel('Reason').fill('water on the floor');
    await page.getByRole('button', { name: 'Stop everything now' }).click();
    await serverStatus(started.run_id, 'cancelled');
    const latch = page.getByTestId('latch');
    await latch.waitFor();
    expect(await latch.textContent()).toContain('water on the floor');
    await page.locator('.run-page[data-status="cancelled"]').waitFor();
    await page.getByRole('button', { name: 'Clear the stop' }).click();
    await latch.waitFor({ state: 'detached' });
    expect((await api('GET', '/emergency-stop')).active).toBe(false);
  });

  it('draws one timeline bar per attempt with its outcome in words, then the cleanup and the safe state not confirmed, which an OFF from the devices page settles', async () => {
    await api('PUT', '/sim/devices/ESP_BROKEN', { fail: true });
    const started = await api('POST', '/sequences', {
      sequence_id: 'retried',
      steps: [{ name: 'Pump on', action: { type: 'actuator_command', esp_id: 'ESP_BROKEN', gpio: 3, command: 'ON' }, retry_count: 1, retry_delay_seconds: 0 }],
      cleanup_steps: [{ name: 'Settle', delay_seconds: 0 }],
    });
    await page.goto(`${server.url}/#/runs/${started.run_id}`);
    await page.locator('.run-page[data-status="failed"]').waitFor();
    const rows = page.locator('.timeline-row');
    await expect.poll(() => rows.evaluateAll((items) => items.map((row) => row.getAttribute('data-outcome')))).toEqual(['retrying', 'failed', 'completed', 'failed', 'safe-failed']);
    expect(await rows.nth(1).textContent()).toContain('attempt 2');
    expect(await rows.nth(1).textContent()).toContain('✖ failed');
    // The cleanup step, then the safe state's OFF, which the failing node refuses too.
    expect(await rows.nth(2).textContent()).toContain('cleanup · 1. Settle');
    expect(await rows.nth(3).textContent()).toContain('cleanup · 2.');
    const outcome = await page.getByTestId('run-outcome').textContent();
    expect(outcome).toContain('Failed at step 1 of 1 Pump on');
    // The failing node refuses the OFF too: the actuator is not confirmed OFF, in words.
    expect(outcome).toContain('Safe state: ✖ NOT confirmed OFF');
    expect(await rows.nth(4).textContent()).toContain('✖ NOT confirmed OFF');

    // Once the node answers again, an OFF from the devices page clears it and releases the lease.
    await api('PUT', '/sim/devices/ESP_BROKEN', { fail: false });
    // The emergency bar names the actuator on every page; the devices page lists it with an OFF.
    expect(await page.getByRole('alert').filter({ hasText: 'Not confirmed OFF' }).textContent()).toContain('ESP_BROKEN:3');
    await page.goto(`${server.url}/#/devices`);
    await page.locator('[data-unconfirmed="ESP_BROKEN:3"]').getByRole('button', { name: 'Turn ESP_BROKEN:3 OFF' }).click();
    await expect.poll(() => page.getByTestId('actuator-message').textContent()).toBe(`ESP_BROKEN:3 confirmed OFF; its lease is released from run ${started.run_id}.`);
    await page.locator('[data-unconfirmed="ESP_BROKEN:3"]').waitFor({ state: 'detached' });
    expect(await page.getByRole('alert').filter({ hasText: 'Not confirmed OFF' }).count()).toBe(0);
  });

  it('says what a stopping run will end as and the step it was cancelled during', async () => {
    const started = await api('POST', '/sequences', { ...longRun('stopping', 6), cleanup_steps: [{ name: 'Drain', delay_seconds: 600 }] });
    await page.goto(`${server.url}/#/runs/${started.run_id}`);
    await page.locator('.run-page[data-status="running"]').waitFor();
    await api('POST', `/sequences/${started.run_id}/cancel`, { reason: 'check' });
    await page.locator('.run-page[data-status="stopping"]').waitFor();
    // The state event and sequence_stopping (which says ending_as) may reach the page a frame apart.
    await expect.poll(() => page.locator('.run-summary .badge').textContent()).toContain('stopping → cancelled');
    const outcome = page.getByTestId('run-outcome');
    await expect.poll(() => outcome.textContent()).toContain('Ending as cancelled');
    await expect.poll(() => outcome.textContent()).toContain('Cancelled during step 2 of 3 Water');
  });

  it('lists every sensor with its value, unit, age and quality, and says when conditions cannot use it', async () => {
    await api('PUT', '/sim/sensors/ESP_SOIL/34', { value: 35.5, unit: '%' });
    await api('PUT', '/sim/sensors/ESP_SOIL/35', { value: 21, unit: '°C', quality: 'stale' });
    await page.goto(`${server.url}/#/devices`);
    const moisture = page.locator('[data-sensor="ESP_SOIL:34"]');
    await moisture.waitFor();
    expect(await moisture.locator('td').allTextContents()).toEqual(['35.5 %', expect.stringMatching(/^\d+(\.\d)?s$/), 'good']);
    const stale = await page.locator('[data-sensor="ESP_SOIL:35"] td').allTextContents();
    expect(stale[0]).toBe('21 °C');
    expect(stale[2]).toBe('⚠ stale: unknown to conditions');
  });

  it('shows a skipped step, then a wait and the reading that ended it', async () => {
    const sensor = { esp_id: 'ESP_WAIT', gpio: 34 };
    await api('PUT', '/sim/sensors/ESP_WAIT/34', { value: 10, unit: '%' });
    const started = await api('POST', '/sequences', {
      sequence_id: 'closed-loop',
      steps: [
        { name: 'Only if dry', when: { sensor, below: 5 }, action: valve(7, 'ON').action },
        { name: 'Until wet', wait_for: { condition: { sensor, above: 40 }, timeout_seconds: 600 } },
        valve(7, 'OFF'),
      ],
    });
    await page.goto(`${server.url}/#/runs/${started.run_id}`);
    const rows = page.locator('.timeline-row');
    await expect.poll(() => rows.evaluateAll((items) => items.map((row) => row.getAttribute('data-outcome')))).toEqual(['skipped', 'waiting']);
    expect(await rows.nth(0).locator('.timeline-outcome').textContent()).toMatch(/^⤼ skipped skipped: ESP_WAIT:34 = 10 % at .+, not below 5$/);
    expect(await rows.nth(1).locator('.timeline-outcome').textContent()).toBe('… waiting waiting for ESP_WAIT:34 above 40');
    await api('PUT', '/sim/sensors/ESP_WAIT/34', { value: 45, unit: '%' });
    await page.locator('.run-page[data-status="completed"]').waitFor();
    await expect.poll(() => rows.evaluateAll((items) => items.map((row) => row.getAttribute('data-outcome')))).toEqual(['skipped', 'completed', 'completed']);
    expect(await rows.nth(1).locator('.timeline-outcome').textContent()).toMatch(/^✔ completed ESP_WAIT:34 = 45 % at /);
  });

  it('sends a signal from the page and the step waiting for it goes on', async () => {
    const started = await api('POST', '/sequences', {
      sequence_id: 'signalled',
      steps: [{ name: 'Until go', wait_for: { condition: { signal: 'go' }, timeout_seconds: 600 } }, valve(10, 'OFF')],
    });
    // A run queued behind it has not started: it can be cancelled, not signalled (the server says 409).
    const queued = await api('POST', '/sequences', { sequence_id: 'signalled', mode: 'queued', steps: [valve(10, 'OFF')] });
    await page.goto(`${server.url}/#/runs/${queued.run_id}`);
    await page.locator('.run-page[data-status="pending"]').getByRole('button', { name: /Cancel/ }).waitFor();
    expect(await page.getByRole('button', { name: /Signal/ }).count()).toBe(0);
    await page.goto(`${server.url}/#/runs/${started.run_id}`);
    await page.locator('.timeline-row[data-outcome="waiting"]').waitFor();
    await page.getByRole('button', { name: /Signal/ }).click();
    await page.getByLabel('Signal name').fill('go');
    await page.getByLabel('Data (JSON, optional)').fill('{"by": "console"}');
    await page.getByRole('button', { name: 'Send the signal' }).click();
    await page.locator('.run-page[data-status="completed"]').waitFor();
    const signal = events.find((e) => e.type === 'sequence_signal' && (e.data as { run_id: string }).run_id === started.run_id);
    expect(signal?.data).toMatchObject({ name: 'go', data: { by: 'console' } });
    await page.getByTestId('run-events').locator('li[data-type="sequence_signal"]').waitFor();
  });

  it('redrives a failed run from its failed step as a new run that says what it redrives', async () => {
    await api('PUT', '/sim/devices/ESP_FLAKY', { fail: true });
    const flaky = { name: 'Flaky pump', action: { type: 'actuator_command', esp_id: 'ESP_FLAKY', gpio: 1, command: 'ON' } };
    const started = await api('POST', '/sequences', { sequence_id: 'redriven', steps: [valve(11, 'ON'), flaky, valve(11, 'OFF')] });
    await serverStatus(started.run_id, 'failed');
    // The node answers again; its pump, not confirmed OFF by the safe state, is turned OFF first.
    await api('PUT', '/sim/devices/ESP_FLAKY', { fail: false });
    await api('POST', '/devices/ESP_FLAKY/actuators/1/off');
    await page.goto(`${server.url}/#/runs/${started.run_id}`);
    await page.locator('.run-page[data-status="failed"]').waitFor();
    await page.getByRole('button', { name: /Redrive/ }).click();
    expect(await page.getByLabel('Start again at').locator('option:checked').textContent()).toBe('the step that failed (2)');
    await page.getByRole('button', { name: 'Start a new run' }).click();
    const redriven = page.locator(`.run-page:not([data-run-id="${started.run_id}"])`);
    await redriven.locator('.run-summary').getByRole('link', { name: started.run_id }).waitFor();
    const runId = (await redriven.getAttribute('data-run-id')) as string;
    await page.locator(`.run-page[data-run-id="${runId}"][data-status="completed"]`).waitFor();
    const progress = await api('GET', `/sequences/${runId}`);
    expect(progress.redrive_of).toBe(started.run_id);
    // It began at the failed step: the first step's valve was not commanded again.
    expect(progress.step_results.map((r: { step_name: string }) => r.step_name)).toEqual(['Flaky pump', 'Valve OFF']);
  });

  it('shows the definition of an ended run as it was sent, beside its context', async () => {
    const sent = { sequence_id: 'kept-as-sent', steps: [{ name: 'Mist bed 4', action: { type: 'actuator', esp_id: 'ESP_CONSOLE', gpio: 14, command: 'ON' } }, valve(14, 'OFF')] };
    const started = await api('POST', '/sequences', { ...sent, context: { rule_name: 'Hot afternoon' } });
    await serverStatus(started.run_id, 'completed');
    await page.goto(`${server.url}/#/runs/${started.run_id}`);
    await page.locator('.run-page[data-status="completed"]').waitFor();
    const panel = page.getByRole('region', { name: 'Definition and context' });
    await panel.getByText('Definition (as it was sent)').click();
    const shown = panel.locator('details[open] pre');
    await expect.poll(() => shown.textContent()).not.toContain('loading');
    expect(JSON.parse((await shown.textContent()) as string)).toEqual(sent);
    await panel.getByText('Context', { exact: true }).click();
    expect(await panel.locator('details[open] pre').first().textContent()).toContain('Hot afternoon');
  });

  it('filters the runs by status and by sequence id', async () => {
    await page.goto(`${server.url}/#/`);
    await page.getByLabel('Status').selectOption('cancelled');
    const cancelled = (await api('GET', '/sequences?status=cancelled')).total as number;
    expect(cancelled).toBeGreaterThan(1);
    const rows = page.locator('.run-scroll .run-row[data-run-id]');
    await expect.poll(() => rows.count()).toBe(cancelled);
    expect(new Set(await rows.evaluateAll((items) => items.map((row) => row.getAttribute('data-status'))))).toEqual(new Set(['cancelled']));
    await page.getByLabel('Sequence id').fill('controlled');
    await page.getByLabel('Sequence id').press('Enter');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getByRole('link').textContent()).toBe('controlled');
  });

  /**
   * Opens a new run's page, pauses it (outputs held) and resumes it with the resume's answer held
   * back until `release()`; returns once the server runs it again and the operator has opened the
   * cancel form and typed a reason.
   */
  async function resumeAnsweredLate(sequenceId: string, gpio: number): Promise<{ runId: string; release(): Promise<void> }> {
    const { run_id: runId } = await api('POST', '/sequences', longRun(sequenceId, gpio));
    await page.goto(`${server.url}/#/runs/${runId}`);
    await page.locator('.run-page[data-status="running"]').waitFor();
    await page.getByRole('button', { name: /Pause…/ }).click();
    await page.getByLabel('hold as they are').check();
    await page.getByRole('button', { name: 'Pause the run' }).click();
    await serverStatus(runId, 'paused');
    let answer = () => {};
    const held = new Promise<void>((resolve) => (answer = resolve));
    const resumeUrl = `${server.url}/api/v1/sequences/${encodeURIComponent(runId)}/resume`;
    await page.route(resumeUrl, async (route) => {
      const response = await route.fetch();
      await held;
      await route.fulfill({ response });
    });
    await page.getByRole('button', { name: /Resume/ }).click();
    await serverStatus(runId, 'running');
    await page.getByRole('button', { name: /Cancel…/ }).click();
    await page.getByLabel('Reason').fill('valve sticks');
    const release = async () => {
      answer();
      // The page has taken the answer once no action of the run is awaited any more.
      await page.locator('.run-actions[aria-busy="false"]').waitFor({ state: 'attached' });
      await page.unroute(resumeUrl);
    };
    return { runId, release };
  }

  const cancelReason = (runId: string) =>
    (events.find((e) => e.type === 'sequence_cancelled' && (e.data as { run_id: string }).run_id === runId)?.data as { reason?: string } | undefined)?.reason;

  it('keeps the cancel form open, reason and all, when an earlier resume is answered after it was opened', async () => {
    const { runId, release } = await resumeAnsweredLate('late-answer', 15);
    await release();
    expect(await page.getByLabel('Reason').inputValue()).toBe('valve sticks');
    await page.getByRole('button', { name: 'Cancel the run' }).click();
    await serverStatus(runId, 'cancelled');
    expect(cancelReason(runId)).toBe('valve sticks');
  });

  it('cancels a run while the answer to its resume is still on its way', async () => {
    const { runId, release } = await resumeAnsweredLate('cancel-while-busy', 16);
    // Disabled while another action was awaited, this waited for the resume's answer.
    await page.getByRole('button', { name: 'Cancel the run' }).click();
    await serverStatus(runId, 'cancelled');
    expect(cancelReason(runId)).toBe('valve sticks');
    await release();
  });

  it('runs a run from the keyboard alone: pause, resume and cancel with a reason', async () => {
    const started = await api('POST', '/sequences', longRun('keyboard', 8));
    await page.goto(`${server.url}/#/runs/${started.run_id}`);
    await page.locator('.run-page[data-status="running"]').waitFor();
    await focusByTab(page, /Pause…/);
    await page.keyboard.press('Enter');
    await focusByTab(page, /Pause the run/);
    await page.keyboard.press('Enter');
    await serverStatus(started.run_id, 'paused');
    await focusByTab(page, /Resume/);
    await page.keyboard.press('Enter');
    await serverStatus(started.run_id, 'running');
    await focusByTab(page, /Cancel…/);
    await page.keyboard.press('Enter');
    await focusByTab(page, /^Reason/);
    await page.keyboard.type('by keyboard');
    await page.keyboard.press('Enter');
    await serverStatus(started.run_id, 'cancelled');
    const cancelled = events.find((e) => e.type === 'sequence_cancelled' && (e.data as { run_id: string }).run_id === started.run_id);
    expect((cancelled?.data as { reason: string }).reason).toBe('by keyboard');
  });

  it('names every control, tells status in words and fits the screen at 1280x800 and 390x844', async () => {
    const started = await api('POST', '/sequences', longRun('sizes', 9));
    try {
      for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
        const sized = await (await offlineContext(browser, server.url, viewport)).context.newPage();
        try {
          await signIn(sized, OPERATOR);
          for (const path of ['#/', `#/runs/${started.run_id}`, '#/start', '#/devices']) {
            await sized.goto(`${server.url}/${path}`);
            await sized.locator('main h1').first().waitFor();
            if (path.startsWith('#/runs/')) await sized.locator('svg.statechart').waitFor();
            else if (path === '#/') await sized.locator(`.run-row[data-run-id="${started.run_id}"]`).waitFor();
            const where = `${path} at ${viewport.width}x${viewport.height}`;
            expect(await sized.evaluate(() => document.documentElement.scrollWidth - window.innerWidth), where).toBeLessThanOrEqual(0);
            expect(await sized.evaluate(unnamedControls), where).toEqual([]);
            const badges = await sized.locator('.badge[data-status]').evaluateAll((items) => items.map((b) => [b.getAttribute('data-status'), b.textContent]));
            for (const [status, text] of badges) expect(text, where).toContain(status);
          }
        } finally {
          await sized.context().close();
        }
      }
    } finally {
      await api('POST', `/sequences/${started.run_id}/cancel`, { reason: 'test over' });
    }
  });

  it('reconnects after the server restarts and shows every event of the run, none missed', async () => {
    const started = await api('POST', '/sequences', { sequence_id: 'survivor', steps: [valve(5, 'ON'), { name: 'Soak', delay_seconds: 2 }, valve(5, 'OFF')] });
    await page.goto(`${server.url}/#/runs/${started.run_id}`);
    await page.locator('[data-state-id="running.delaying"][data-mark="current"]').waitFor();
    const ofRun = (list: EventEnvelope[]) => list.filter((e) => (e.data as { run_id?: string }).run_id === started.run_id);
    const before = ofRun(events).length;
    const port = Number(new URL(server.url).port);
    await server.close();
    await page.getByTestId('stream-status').getByText('reconnecting').waitFor();
    await start(port);
    await page.locator('.run-page[data-status="completed"]').waitFor({ timeout: 30_000 });
    // From the new server's buffer: it holds the events of its recovery too, published before any
    // client could connect.
    const after = ofRun(server.services.hub.since(0).map((entry) => entry.event));
    expect(after.length).toBeGreaterThan(0);
    const shown = page.getByTestId('run-events').locator('li');
    await expect.poll(() => shown.count()).toBe(before + after.length);
    const types = await shown.evaluateAll((items) => items.map((li) => li.getAttribute('data-type')));
    expect(types.slice(before)).toEqual(after.map((e) => e.type));
    expect(types[types.length - 1]).toBe('sequence_completed');
  });
});
