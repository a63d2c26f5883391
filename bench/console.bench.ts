/**
 * The operator console under load (SPEC 13): a server in this process with 10,000 ended runs in
 * its history and 500 running ones that each produce a few events a second, and the console in
 * headless Chromium. For the runs list and for one run's page it measures, over a window, the
 * events the page received, the time the page's main thread was busy (Chromium's TaskDuration,
 * which counts script, style, layout and paint) per second of events, the part spent applying
 * events (the console's own counter), and the frame rate with the longest frame. Then it jumps
 * through the history and times how long rows take to appear.
 *
 * `npm run bench -- --bench console`, or `node --import tsx bench/console.bench.ts`.
 */
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { defaultConfig } from '../src/config/server-config.ts';
import { startServer, type RunningServer } from '../src/server.ts';
import { ensureConsoleBuilt, launchChromium } from '../tests/helpers/browser.ts';

/** Options of the console benchmark. */
export interface ConsoleBenchOptions {
  /** Ended runs in the history (default 10,000). */
  history?: number;
  /** Running runs producing events (default 500). */
  running?: number;
  /** Length of each measured window in ms (default 10,000). */
  windowMs?: number;
}

/** What one window measured. */
export interface WindowResult {
  view: string;
  seconds: number;
  events: number;
  eventsPerSecond: number;
  /** Main-thread busy time per second of wall time (ms). */
  busyMsPerSecond: number;
  /** Of which running scripts (ms per second). */
  scriptMsPerSecond: number;
  /** Of which style and layout (ms per second). */
  layoutMsPerSecond: number;
  /** Main-thread busy time per 1,000 events (ms). */
  busyMsPer1000Events: number;
  /** Time applying events to the rows per second (ms). */
  applyMsPerSecond: number;
  fps: number;
  longestFrameMs: number;
  /** Rows in the DOM at the end (the list is virtual). */
  domRows: number;
}

/** Everything measured. */
export interface ConsoleBenchResult {
  history: number;
  running: number;
  windows: WindowResult[];
  /** Time from jumping to a position in the history to its rows being shown, per jump (ms). */
  historyJumpsMs: number[];
}

async function post(server: RunningServer, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.url}/api/v1${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return response.json() as Promise<Record<string, unknown>>;
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts `count` runs over REST, 50 requests in flight at a time. */
async function startMany(server: RunningServer, count: number, definition: (i: number) => object): Promise<void> {
  for (let done = 0; done < count; done += 50) {
    const size = Math.min(50, count - done);
    await Promise.all(Array.from({ length: size }, (_, i) => post(server, '/sequences', definition(done + i))));
  }
}

/** Fills the history with ended runs. */
async function seedHistory(server: RunningServer, count: number): Promise<void> {
  await startMany(server, count, (i) => ({ sequence_id: `history-${i}`, steps: [{ name: 'Done', delay_seconds: 0 }] }));
  await until(() => server.services.engine.runningCount === 0, 'the history runs to end');
}

/** Starts runs that tick: one short delay step after another, a few events a second each. */
async function startRunning(server: RunningServer, count: number): Promise<void> {
  const steps = Array.from({ length: 50 }, (_, i) => ({ name: `Tick ${i + 1}`, delay_seconds: 1 }));
  await startMany(server, count, (i) => ({ sequence_id: `live-${i}`, steps }));
}

/** Measures one window on the page as it is. */
async function measure(page: Page, view: string, windowMs: number): Promise<WindowResult> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metric = async () => {
    const { metrics } = await cdp.send('Performance.getMetrics');
    const ms = (name: string) => (metrics.find((m) => m.name === name)?.value ?? 0) * 1000;
    return { task: ms('TaskDuration'), script: ms('ScriptDuration'), layout: ms('LayoutDuration') + ms('RecalcStyleDuration') };
  };
  const stats = () => page.evaluate(() => ({ ...(globalThis as unknown as { __consoleStats: { events: number; ms: number } }).__consoleStats }));
  // A string, not a function: tsx would wrap a named inner function in a helper the page lacks.
  await page.evaluate(`(() => {
    const frames = { count: 0, longest: 0, last: performance.now(), on: true };
    window.__frames = frames;
    const tick = (now) => {
      if (!frames.on) return;
      frames.count++;
      frames.longest = Math.max(frames.longest, now - frames.last);
      frames.last = now;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  })()`);
  const busy0 = await metric();
  const stats0 = await stats();
  const started = Date.now();
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const busy1 = await metric();
  const stats1 = await stats();
  const seconds = (Date.now() - started) / 1000;
  const frames = await page.evaluate(() => {
    const f = (globalThis as unknown as { __frames: { count: number; longest: number; on: boolean } }).__frames;
    f.on = false;
    return { count: f.count, longest: f.longest };
  });
  const domRows = await page.locator('.run-row').count();
  await cdp.detach();
  const events = stats1.events - stats0.events;
  const busy = busy1.task - busy0.task;
  return {
    view,
    seconds,
    events,
    eventsPerSecond: events / seconds,
    busyMsPerSecond: busy / seconds,
    scriptMsPerSecond: (busy1.script - busy0.script) / seconds,
    layoutMsPerSecond: (busy1.layout - busy0.layout) / seconds,
    busyMsPer1000Events: events > 0 ? (busy / events) * 1000 : 0,
    applyMsPerSecond: (stats1.ms - stats0.ms) / seconds,
    fps: frames.count / seconds,
    longestFrameMs: frames.longest,
    domRows,
  };
}

/** Runs the benchmark. */
export async function runConsoleBench(options: ConsoleBenchOptions = {}): Promise<ConsoleBenchResult> {
  const history = options.history ?? 10_000;
  const running = options.running ?? 500;
  const windowMs = options.windowMs ?? 10_000;
  ensureConsoleBuilt();
  const server = await startServer({
    ...defaultConfig(),
    port: 0,
    db: ':memory:',
    simLatencyMs: 0,
    rate_limits: { starts_per_second: 0, commands_per_second: 0, commands_per_esp_per_second: 0 },
  });
  const browser = await launchChromium();
  try {
    await seedHistory(server, history);
    await startRunning(server, running);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(server.url);
    await page.locator('.run-row[data-status="running"]').first().waitFor({ timeout: 60_000 });
    // The first connect replays the server's buffer; measure once that is behind.
    await page.waitForTimeout(2000);
    const windows = [await measure(page, 'runs list', windowMs)];
    const first = await page.locator('.run-row[data-status="running"]').first().getAttribute('data-run-id');
    await page.goto(`${server.url}/#/runs/${first}`);
    await page.locator('svg.statechart').waitFor({ timeout: 60_000 });
    await page.waitForTimeout(1000);
    windows.push(await measure(page, 'run page (chart, timeline, events)', windowMs));
    await page.goto(`${server.url}/#/`);
    await page.locator('.run-row[data-status="running"]').first().waitFor();
    const historyJumpsMs: number[] = [];
    for (const fraction of [0.25, 0.5, 0.75, 0.99]) {
      const started = Date.now();
      await page.evaluate((f) => {
        const scroll = document.querySelector('.run-scroll') as HTMLElement;
        scroll.scrollTop = scroll.scrollHeight * f;
      }, fraction);
      await until(async () => (await page.locator('.run-row.loading').count()) === 0 && (await page.locator('.run-scroll .run-row[data-run-id]').count()) > 5, 'history rows');
      historyJumpsMs.push(Date.now() - started);
    }
    return { history, running, windows, historyJumpsMs };
  } finally {
    await browser.close();
    await server.close();
  }
}

/** The result as a Markdown table. */
export function formatConsoleBench(result: ConsoleBenchResult): string {
  const rows = result.windows.map(
    (w) =>
      `| ${w.view} | ${w.eventsPerSecond.toFixed(0)} | ${w.busyMsPerSecond.toFixed(0)} | ${w.scriptMsPerSecond.toFixed(0)} | ${w.layoutMsPerSecond.toFixed(0)} | ${w.busyMsPer1000Events.toFixed(1)} | ${w.applyMsPerSecond.toFixed(1)} | ${w.fps.toFixed(0)} | ${w.longestFrameMs.toFixed(0)} | ${w.domRows} |`,
  );
  return [
    `${result.running} running runs, ${result.history} in the history, Chromium at 1280x800`,
    '',
    '| view | events/s | main thread busy ms/s | of which script | of which style + layout | busy ms per 1,000 events | applying events ms/s | frames/s | longest frame ms | rows in DOM |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Jumps through the history to 25/50/75/99 %: rows shown after ${result.historyJumpsMs.map((ms) => `${ms} ms`).join(', ')}.`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatConsoleBench(await runConsoleBench()));
}
