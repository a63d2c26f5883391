/**
 * Serves the operator console (SPEC 13) at `/`: the page and every asset it loads, built by
 * `npm run build:console` (run by `npm install`) into `dist/console`. Nothing comes from another
 * host, so the console works on an installation without internet. The files are listed once at
 * start-up (no wildcard route), so every other unknown path still gets the API's 404/5652 body.
 * When the console was not built, `/` says how to build it instead of answering 404.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where `npm run build:console` writes the console. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

/** Options of the console plugin. */
export interface ConsolePluginOptions {
  /** Directory of the built console (default CONSOLE_DIR). */
  root?: string;
}

/** True for a route of the console: the page and its assets, open to everyone (it holds no data). */
export function isConsoleRoute(url: string): boolean {
  return url === '/' || url === '/index.html' || url.startsWith('/assets/');
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sequencer</title></head>
<body><h1>Sequencer</h1><p>The operator console is not built. Run <code>npm run build:console</code>
(<code>npm install</code> runs it) and restart the server. The API is at <a href="/docs">/docs</a>.</p></body></html>`;

/** Registers the console's routes. */
export async function consolePlugin(app: FastifyInstance, options: ConsolePluginOptions = {}): Promise<void> {
  const root = options.root ?? CONSOLE_DIR;
  if (!existsSync(`${root}/index.html`)) {
    app.get('/', { schema: { hide: true } }, (_request, reply) => reply.type('text/html; charset=utf-8').send(NOT_BUILT));
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: false,
    decorateReply: false,
    schemaHide: true,
    index: 'index.html',
    // Asset names carry a content hash; the page itself must be fetched again after an upgrade.
    setHeaders: (reply, path) => {
      reply.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}
