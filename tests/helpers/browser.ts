/**
 * Headless Chromium for the console's tests, benchmark and screenshots: Debian's `/usr/bin/chromium`
 * driven by playwright-core (no browser download), with every request to a host other than the
 * server refused and recorded, so a test can assert the console asked nothing of the internet.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

/** The flags the project runs Chromium with (HELPERS.md). */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Builds the console when `dist/console` is missing (a fresh worktree); `npm install` normally has. */
export function ensureConsoleBuilt(): void {
  if (existsSync(`${ROOT}dist/console/index.html`)) return;
  execFileSync(process.execPath, [`${ROOT}node_modules/vite/bin/vite.js`, 'build', '--config', 'console/vite.config.ts'], { cwd: ROOT, stdio: 'inherit' });
}

/** Launches Chromium. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_FLAGS });
}

/** A browser context that may only reach `origin`; `blocked` lists every other URL it tried. */
export interface OfflineContext {
  context: BrowserContext;
  blocked: string[];
}

/** Opens a context whose requests to any other origin are aborted and recorded. */
export async function offlineContext(browser: Browser, origin: string, viewport = { width: 1280, height: 800 }): Promise<OfflineContext> {
  const context = await browser.newContext({ viewport });
  const blocked: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin || url.startsWith('data:')) return route.continue();
    blocked.push(url);
    return route.abort('blockedbyclient');
  });
  // WebSockets bypass `route`: a socket to another host is recorded as soon as the page opens it.
  context.on('page', (page) =>
    page.on('websocket', (ws) => {
      if (new URL(ws.url().replace(/^ws/, 'http')).origin !== origin) blocked.push(ws.url());
    }),
  );
  return { context, blocked };
}
