/**
 * `sequencer emulate` in a process of its own, for the crash tests: its nodes' state outlives every
 * server process, and what they applied is read back from what it printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { buildCliBundle, type CliBundle } from '../helpers/cli-bundle.ts';
import { startMosquitto, type MosquittoBroker } from '../helpers/mosquitto.ts';
import type { Progress } from '../../src/domain/progress.ts';
import { killAll, progressOf, startServe, stream, type ServeProcess, type Stream } from './recovery-process.harness.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** A running emulator of the nodes `espIds`. */
export interface EmulatorProcess {
  child: ChildProcess;
  /** Resolves once its output matches `pattern`. */
  printed(pattern: RegExp): Promise<void>;
  /** `[esp:gpio, command]` of every command a node applied (its `-> ok` line), in order. */
  applied(): (readonly [string, string])[];
}

/** Starts the emulator of `cli` (a built command line) on the broker at `url`. */
export function startEmulator(cli: string[], url: string, espIds: readonly string[]): EmulatorProcess {
  const child: ChildProcess = spawn(process.execPath, [...cli, 'emulate', '--mqtt-url', url, '--esp', espIds.join(','), '--latency-ms', '5'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  const waiters = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const wake of waiters) wake();
  });
  return {
    child,
    printed: (pattern) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (!pattern.test(stdout)) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
    applied: () => [...stdout.matchAll(/^(\S+) gpio (\d+) -> ok: \S+ gpio \d+: (\w+) /gm)].map((m) => [`${m[1]}:${m[2]}`, m[3] as string] as const),
  };
}

/** The actuators whose last applied command was not OFF (none, when everything was made safe). */
export function leftOn(emulator: EmulatorProcess): string[] {
  const state = new Map<string, string>();
  for (const [actuator, command] of emulator.applied()) state.set(actuator, command);
  return [...state].filter(([, command]) => command !== 'OFF').map(([actuator]) => actuator);
}

/** A server process with the mqtt driver and its event stream. */
export type MqttServer = ServeProcess & { events: Stream };

/** What {@link useMqttRig} gives a test file. */
export interface MqttRig {
  readonly devices: EmulatorProcess;
  /** A temporary folder of the file (removed after it). */
  readonly dir: string;
  /** Starts `serve` (the bundle) with `args` and the mqtt driver on the file's broker, its stream open. */
  serve(args: string[]): Promise<MqttServer>;
  /** The broker's log so far (a line per packet received with `logMessages`). */
  brokerLog(): string;
}

/**
 * For the tests of one file: the command line bundled, a Mosquitto on a free port, the emulator of
 * `espIds` on it and a temporary folder; after the file, every server is killed and all of it goes.
 */
export function useMqttRig(mosquitto: string, espIds: readonly string[], { logMessages = false } = {}): MqttRig {
  let bundle: CliBundle;
  let broker: MosquittoBroker;
  let devices: EmulatorProcess;
  let dir = '';
  const streams: Stream[] = [];
  beforeAll(async () => {
    bundle = buildCliBundle();
    broker = await startMosquitto(mosquitto, undefined, { logMessages });
    devices = startEmulator(bundle.command, broker.url, espIds);
    await devices.printed(/listening on/);
    dir = mkdtempSync(join(tmpdir(), 'sequencer-mqtt-rig-'));
  });
  afterAll(async () => {
    for (const s of streams) s.close();
    await killAll();
    devices?.child.kill('SIGKILL');
    await broker?.close();
    bundle?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get devices() {
      return devices;
    },
    get dir() {
      return dir;
    },
    async serve(args) {
      const server = await startServe([...args, '--driver', 'mqtt', '--mqtt-url', broker.url], bundle.command);
      const events = await stream(server.url);
      streams.push(events);
      return { ...server, events };
    },
    brokerLog: () => broker.log(),
  };
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timeout']);

/** True for a status a run ends with. */
export const isTerminal = (status: string): boolean => TERMINAL.has(status);

/** The run's progress once it has ended: from the store, or after its end event on this server. */
export async function finished(server: MqttServer, runId: string): Promise<Progress> {
  const now = await progressOf(server.url, runId);
  if (isTerminal(now.status)) return now;
  await server.events.ended(runId);
  return progressOf(server.url, runId);
}
