/**
 * The real `sequencer serve` process: it prints where it listens, answers, and on SIGTERM or SIGINT
 * shuts down with exit code 0, a run in flight or not; a bad configuration exits 2 before listening.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { upgradeRequest } from '../helpers/raw-http.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const children: ChildProcess[] = [];
const sockets: Socket[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const socket of sockets.splice(0)) socket.destroy();
});

/** Sends a WebSocket handshake to `path` and resolves with the first bytes of the answer; the client never closes. */
async function upgradeAnswer(url: string, path: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  sockets.push(socket);
  socket.on('error', () => {});
  socket.write(upgradeRequest(path));
  const [chunk] = (await once(socket, 'data')) as [Buffer];
  return chunk.toString();
}

interface Serve {
  child: ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  exit: Promise<number | null>;
}

function serve(args: string[], env: NodeJS.ProcessEnv = {}): Serve {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', ...args], {
    cwd: ROOT,
    env: { ...process.env, PORT: '', HOST: '', SEQUENCER_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return { child, stderr: () => err, exit };
}

/** Resolves with the URL of the `listening on ...` line. */
function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)\n/.exec(out);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before listening; stdout: ${out}`)));
  });
}

describe('sequencer serve', () => {
  it('prints where it listens, answers /health, and exits 0 on SIGTERM', async () => {
    const s = serve(['--port', '0', '--db', ':memory:']);
    const url = await listeningUrl(s.child);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    s.child.kill('SIGTERM');
    expect(await s.exit).toBe(0);
    expect(s.stderr()).toContain('SIGTERM, shutting down');
  });

  it('exits 0 on SIGINT with a run in flight', async () => {
    const s = serve(['--port', '0', '--db', ':memory:']);
    const url = await listeningUrl(s.child);
    const start = await fetch(`${url}/api/v1/sequences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ steps: [{ name: 'Long wait', delay_seconds: 600 }] }),
    });
    expect(start.status).toBe(202);
    const { run_id } = (await start.json()) as { run_id: string };
    expect(((await (await fetch(`${url}/api/v1/sequences/${run_id}`)).json()) as { status: string }).status).toBe('running');
    s.child.kill('SIGINT');
    expect(await s.exit).toBe(0);
  });

  it('keeps stdout for the listening line and writes JSON log lines on stderr, requests at --log-level debug', async () => {
    const s = serve(['--port', '0', '--db', ':memory:', '--sim-latency-ms', '0', '--log-level', 'debug']);
    let stdout = '';
    s.child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const url = await listeningUrl(s.child);
    const start = await fetch(`${url}/api/v1/sequences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sequence_id: 'logged', steps: [{ name: 'Short wait', delay_seconds: 0 }] }),
    });
    const { run_id } = (await start.json()) as { run_id: string };
    await expect.poll(() => s.stderr()).toContain(`"run_id":"${run_id}","sequence_id":"logged","status":"completed"`);
    s.child.kill('SIGTERM');
    expect(await s.exit).toBe(0);

    expect(stdout).toBe(`listening on ${url}\n`);
    const lines = s.stderr().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toContainEqual(expect.objectContaining({ level: 30, msg: 'run started', run_id, sequence_id: 'logged' }));
    expect(lines).toContainEqual(expect.objectContaining({ level: 30, msg: 'run ended', run_id, sequence_id: 'logged', status: 'completed' }));
    expect(lines).toContainEqual(expect.objectContaining({ level: 20, msg: 'request', method: 'POST', url: '/api/v1/sequences', status: 202 }));
    expect(lines).toContainEqual(expect.objectContaining({ level: 30, msg: 'SIGTERM, shutting down' }));
  });

  it('exits 0 on SIGTERM after refused WebSocket upgrades whose clients keep their sockets open', async () => {
    const s = serve(['--port', '0', '--db', ':memory:']);
    const url = await listeningUrl(s.child);
    expect(await upgradeAnswer(url, '/ws/nope')).toMatch(/^HTTP\/1\.1 404 /);
    expect(await upgradeAnswer(url, `/ws/realtime/${'c'.repeat(101)}`)).toMatch(/^HTTP\/1\.1 414 /);
    s.child.kill('SIGTERM');
    expect(await s.exit).toBe(0);
    expect(s.stderr()).not.toContain('shutdown took longer');
  });

  it('exits 2 with the reason when the configuration is bad', async () => {
    const s = serve(['--port', '0', '--host', '0.0.0.0']);
    expect(await s.exit).toBe(2);
    expect(s.stderr()).toContain('Refusing to listen on 0.0.0.0 without a token');
  });

  it('exits 2 on an unknown option', async () => {
    const s = serve(['--prot', '0']);
    expect(await s.exit).toBe(2);
    expect(s.stderr()).toContain('Unknown option --prot');
  });
});
