/**
 * Build of the operator console (SPEC 13): Preact with JSX compiled by Vite's own transformer, every
 * asset bundled into `dist/console` (no CDN, no web font), served by the server at `/`.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    // elkjs alone is ~1.5 MB; the console is served from the same machine, not over a slow link.
    chunkSizeWarningLimit: 2500,
    assetsInlineLimit: 0,
  },
});
