/**
 * The start a new user makes (README): a fresh clone, `npm ci` (which builds through `prepare`)
 * without a warning, then `npm start -- --port 0` runs the compiled server (tsx is not needed) and
 * prints its listening line; after a source edit `npm start` runs the edited code; the `sequencer`
 * bin answers. Slow (a whole install): one test.
 *
 * The install takes its packages from the npm cache when they are there. better-sqlite3's native
 * addon comes from a local prebuild made of the one this checkout already built (prebuild-install's
 * documented `local-prebuilds`), so the test does not spend minutes compiling SQLite again.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'sequencer-clone-'));
const clone = join(dir, 'sequencer');
// Removing a whole install (~300 packages) takes more than the default hook time on a busy machine.
afterAll(() => rm(dir, { recursive: true, force: true }), 120_000);

/** The environment of a user's shell: none of the npm variables of the `npm test` running this. */
function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
}

/** Offers prebuild-install the addon this checkout built, as a local prebuild found from `dir` up. */
function offerLocalPrebuild(): void {
  const addon = join(ROOT, 'node_modules', 'better-sqlite3');
  const { version } = JSON.parse(readFileSync(join(addon, 'package.json'), 'utf8')) as { version: string };
  const prebuilds = join(dir, 'prebuilds');
  mkdirSync(prebuilds);
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  execFileSync('tar', ['-czf', join(prebuilds, name), '-C', addon, 'build/Release/better_sqlite3.node']);
  writeFileSync(join(dir, '.prebuild-installrc'), `local-prebuilds=${prebuilds}\n`);
}

/** `npm start ARGS` in the clone: waits for its listening line, checks /health (and `check`), then stops it. */
async function startAndStop(args: string[], line: RegExp, check?: (url: string) => Promise<void>): Promise<void> {
  const child = spawn('npm', ['start', '--', ...args], { cwd: clone, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit');
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = line.exec(stdout);
        if (match) resolve(match[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`npm start exited with ${code} before listening:\n${stdout}\n${stderr}`)));
    });
    expect((await fetch(`${url}/health`)).status).toBe(200);
    await check?.(url);
  } finally {
    // The whole group: npm and the server it started.
    process.kill(-(child.pid as number), 'SIGTERM');
    await exited;
  }
}

it('installs from a clean clone without a warning, starts compiled with npm start, and keeps up with source edits', { timeout: 600_000 }, async () => {
  execFileSync('git', ['clone', '--quiet', ROOT, clone]);
  offerLocalPrebuild();
  const install = spawn('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: clone, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  install.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  install.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(install, 'exit')) as [number | null];
  expect(code, output).toBe(0);
  expect(output).not.toMatch(/^npm warn/im);
  expect(output).toContain('> sh scripts/build-server.sh');

  // The server must not need tsx: it runs what `prepare` compiled.
  rmSync(join(clone, 'node_modules', 'tsx'), { recursive: true });
  await startAndStop(['--port', '0'], /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m, async (url) => {
    // The console `prepare` built, found from the compiled server as from the sources.
    expect((await fetch(`${url}/`)).status).toBe(200);
  });

  const serve = join(clone, 'src', 'cli', 'serve.command.ts');
  writeFileSync(serve, readFileSync(serve, 'utf8').replace('`listening on ${server.url}\\n`', '`listening (edited) on ${server.url}\\n`'));
  await startAndStop(['--port', '0', '--db', ':memory:'], /^listening \(edited\) on (http:\/\/\S+)$/m);

  const { version } = JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')) as { version: string };
  expect(execFileSync('npx', ['--no-install', 'sequencer', '--version'], { cwd: clone, env: userEnv(), encoding: 'utf8' })).toBe(`${version}\n`);
});
