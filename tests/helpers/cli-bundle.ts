/**
 * The command line built once into one JavaScript bundle (as `npm run build:server` builds it), for
 * tests that start many processes: a bundle starts in about half the CPU of `tsx` on the sources.
 * It is written under node_modules/.cache (so its packages resolve from node_modules) and never
 * over dist/, which other tests and `npm start` use.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/** A built command line. */
export interface CliBundle {
  /** Node arguments that run the command line (append the command and its flags). */
  command: string[];
  /** Removes the bundle. */
  remove(): void;
}

/** Bundles src/cli/main.ts with esbuild; takes well under a second. */
export function buildCliBundle(): CliBundle {
  const cache = join(ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'sequencer-test-cli-'));
  execFileSync(join(ROOT, 'node_modules', '.bin', 'esbuild'), [
    'src/cli/main.ts', '--bundle', '--splitting', '--format=esm', '--platform=node', '--target=node20.19',
    '--packages=external', `--outdir=${dir}`, '--entry-names=sequencer', '--log-level=warning',
  ], { cwd: ROOT });
  return { command: [join(dir, 'sequencer.js')], remove: () => rmSync(dir, { recursive: true, force: true }) };
}
