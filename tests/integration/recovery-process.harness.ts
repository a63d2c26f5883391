/**
 * The real `sequencer serve` process for the crash-recovery tests: start it on a database file,
 * drive it over REST, watch its WebSocket stream, `kill -9` it, start it again on the same file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import WebSocket from 'ws';
import type { Progress } from '../../src/domain/progress.ts';
import type { EventEnvelope } from '../../src/events/event-types.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** What a finished `serve` process printed and returned. */
export interface ServeExit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A listening server process. */
export interface ServeProcess {
  url: string;
  /** `kill -9` at once, without waiting (for a kill at a precise moment). */
  killNow(): void;
  /** Resolves with stderr once it contains `text`. */
  stderrWith(text: string): Promise<string>;
  /** `kill -9`, resolved once the process is gone. */
  kill(): Promise<void>;
  /** Sends a signal (SIGSTOP freezes the process, SIGCONT wakes it). */
  signal(signal: NodeJS.Signals): void;
}

const alive = new Set<ChildProcess>();

/** Node arguments that run the command line from its sources. */
const FROM_SOURCES = ['--import', 'tsx', 'src/cli/main.ts'];

function spawnServe(args: string[], cli = FROM_SOURCES): ChildProcess {
  const child = spawn(process.execPath, [...cli, 'serve', '--port', '0', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  alive.add(child);
  child.once('exit', () => alive.delete(child));
  return child;
}

/**
 * Starts `serve` with `args` and resolves once it prints its address; rejects if it exits first.
 * `cli` runs another build of the command line (a bundle, see cli-bundle.ts).
 */
export function startServe(args: string[], cli = FROM_SOURCES): Promise<ServeProcess> {
  const child = spawnServe(args, cli);
  let stdout = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`serve exited with ${code} before listening: ${stderr}`));
    child.once('exit', onExit);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /listening on (http:\/\/\S+)\n/.exec(stdout);
      if (!match) return;
      child.off('exit', onExit);
      resolve({
        url: match[1] as string,
        killNow: () => child.kill('SIGKILL'),
        signal: (signal) => child.kill(signal),
        stderrWith: (text) =>
          new Promise((found) => {
            const check = () => {
              if (!stderr.includes(text)) return;
              child.stderr?.off('data', check);
              found(stderr);
            };
            child.stderr?.on('data', check);
            check();
          }),
        async kill() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = once(child, 'exit');
          child.kill('SIGKILL');
          await exited;
        },
      });
    });
  });
}

/** Runs `serve` with `args` until it exits by itself (a start that fails). */
export async function serveUntilExit(args: string[]): Promise<ServeExit> {
  const child = spawnServe(args);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** Kills every process a test left running. */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...alive].map(async (child) => {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }),
  );
}

/** JSON of a REST call; throws on an unexpected status. */
export async function api<T>(url: string, path: string, body?: unknown, expected = body === undefined ? 200 : 202): Promise<T> {
  const response = await fetch(`${url}/api/v1${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await response.json()) as T;
  if (response.status !== expected) throw new Error(`${path} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

/** An HTTP answer as it was read off the socket. */
export interface RawAnswer {
  status: number;
  body: unknown;
}

/**
 * Sends one JSON request over a raw socket and kills the server (`kill -9`) the moment the first
 * byte of its answer arrives; the rest of the answer is read from what had reached this side.
 */
export function requestKilledAtFirstByte(server: ServeProcess, method: string, path: string, body: unknown = {}): Promise<RawAnswer> {
  const { hostname, port } = new URL(server.url);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => {
      if (chunks.length === 0) server.killNow();
      chunks.push(chunk);
    });
    // The kill resets the connection; whatever arrived before is the answer.
    socket.on('error', () => {});
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const match = /^HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n([^]*)$/.exec(text);
      try {
        resolve({ status: Number(match?.[1]), body: JSON.parse(match?.[2] as string) });
      } catch {
        reject(new Error(`no whole HTTP answer before the kill: ${JSON.stringify(text)}`));
      }
    });
    socket.write(
      `${method} /api/v1${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
    );
  });
}

/** Starts a run; returns its run_id. */
export async function startRun(url: string, definition: object): Promise<string> {
  return (await api<{ run_id: string }>(url, '/sequences', definition)).run_id;
}

/** The progress of a run. */
export function progressOf(url: string, id: string): Promise<Progress> {
  return api<Progress>(url, `/sequences/${id}`);
}

/** A simulated actuator as `GET /sim/devices` shows it, or undefined when never commanded. */
export async function simActuator(url: string, espId: string, gpio: number) {
  const { devices } = await api<{ devices: { esp_id: string; commands: number; actuators: { gpio: number; on: boolean; last_command: string }[] }[] }>(url, '/sim/devices');
  const device = devices.find((d) => d.esp_id === espId);
  return { commands: device?.commands ?? 0, actuator: device?.actuators.find((a) => a.gpio === gpio) };
}

/** The WebSocket stream of a server from its first event (replayed), kept in order. */
export class Stream {
  readonly events: EventEnvelope[] = [];
  readonly #ws: WebSocket;
  readonly #waiters = new Set<() => void>();
  readonly opened: Promise<unknown>;

  constructor(url: string) {
    this.#ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/ws?since=0`);
    this.opened = once(this.#ws, 'open');
    this.#ws.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as EventEnvelope;
      if (typeof message.seq !== 'number') return;
      this.events.push(message);
      for (const wake of this.#waiters) wake();
    });
    // The server may be killed under it: that is the point of these tests.
    this.#ws.on('error', () => {});
  }

  /** The events about one run. */
  of(runId: string): EventEnvelope[] {
    return this.events.filter((e) => (e.data as { run_id?: string }).run_id === runId);
  }

  /** Resolves with the first event (past or future) that matches. */
  next(match: (event: EventEnvelope) => boolean): Promise<EventEnvelope> {
    const found = this.events.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      const wake = () => {
        const hit = this.events.find(match);
        if (!hit) return;
        this.#waiters.delete(wake);
        resolve(hit);
      };
      this.#waiters.add(wake);
    });
  }

  /** The run's `sequence_completed` event. */
  ended(runId: string): Promise<EventEnvelope> {
    return this.next((e) => e.type === 'sequence_completed' && (e.data as { run_id: string }).run_id === runId);
  }

  close(): void {
    this.#ws.terminate();
  }
}

/** Connects a stream and waits until it is open. */
export async function stream(url: string): Promise<Stream> {
  const s = new Stream(url);
  await s.opened;
  return s;
}

/** The step event of a run's step in a phase with a status, e.g. step 1 `starting`. */
export function stepEvent(runId: string, step: number, status: string, phase = 'steps') {
  return (e: EventEnvelope): boolean => {
    const d = e.data as { run_id?: string; step?: number; status?: string; phase?: string };
    return e.type === 'sequence_step' && d.run_id === runId && d.step === step && d.status === status && d.phase === phase;
  };
}

/**
 * Gives every test a fresh database in a temporary folder and returns `serve(...args)`, which
 * starts `sequencer serve` on it (with `baseArgs` first) and opens its event stream. After each
 * test every process is killed, every stream closed and the folder removed.
 */
export function useServeOnFreshDatabase(baseArgs: string[] = []): (...args: string[]) => Promise<ServeProcess & { events: Stream }> {
  let dir = '';
  const streams: Stream[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sequencer-recovery-'));
  });
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });
  return async (...args) => {
    const server = await startServe(['--db', join(dir, 's.db'), ...baseArgs, ...args]);
    const events = await stream(server.url);
    streams.push(events);
    return { ...server, events };
  };
}
