/**
 * `/docs` in a real headless Chromium, as a person tries the API: open `POST /api/v1/sequences`,
 * press "Try it out", execute the example as the page offers it, and get 202 with a run that then
 * completes. Nothing is asked of another host.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/server-config.ts';
import type { EventEnvelope } from '../../src/events/event-types.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { launchChromium, offlineContext } from '../helpers/browser.ts';

let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  server = await startServer({ ...defaultConfig(), port: 0, db: ':memory:', simLatencyMs: 0 });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

it('"Try it out" on POST /sequences with the example the page offers answers 202, and the run completes', { timeout: 60_000 }, async () => {
  const ended: EventEnvelope<'sequence_completed'>[] = [];
  server.services.engine.events.subscribe((event) => {
    if (event.type === 'sequence_completed') ended.push(event as EventEnvelope<'sequence_completed'>);
  });
  const { context, blocked } = await offlineContext(browser, server.url);
  const page = await context.newPage();
  await page.goto(`${server.url}/docs`);

  const operation = page.locator('.opblock-post:has(.opblock-summary-path[data-path="/api/v1/sequences"])');
  await operation.locator('.opblock-summary').click();
  await operation.getByRole('button', { name: 'Try it out' }).click();
  const offered = JSON.parse(await operation.locator('textarea.body-param__text').inputValue()) as { steps: { name: string }[] };
  expect(offered.steps.map((step) => step.name)).toEqual(['Open valve', 'Water', 'Close valve']);
  await operation.getByRole('button', { name: 'Execute' }).click();

  const status = operation.locator('.live-responses-table tbody .response-col_status');
  await status.waitFor();
  expect(await status.textContent()).toBe('202');
  const answer = JSON.parse((await operation.locator('.live-responses-table tbody .response-col_description pre').first().textContent()) ?? '') as { run_id: string };
  expect(answer).toMatchObject({ success: true, total_steps: 3, status: 'running' });
  await expect.poll(() => ended.find((event) => event.data.run_id === answer.run_id)?.data.status, { timeout: 20_000 }).toBe('completed');
  expect(blocked).toEqual([]);
  await context.close();
});
