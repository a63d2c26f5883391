/**
 * Seeded crash test (SPEC 11, SPEC 10): the real server process with the mqtt driver, a real
 * Mosquitto and the device emulator in processes of their own, killed with `kill -9` two dozen
 * times at seeded moments (at the first byte of a start's 202, or after a seeded number of
 * events: mid-command, mid-delay, mid-recovery), each time started again on the same database.
 * Then: every run that was answered 202 is known and has finished, and the emulator, whose state
 * outlives every server, has no actuator left ON.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Progress } from '../../src/domain/progress.ts';
import { buildCliBundle, type CliBundle } from '../helpers/cli-bundle.ts';
import { findMosquitto, startMosquitto, type MosquittoBroker } from '../helpers/mosquitto.ts';
import { chooser, prng } from '../helpers/prng.ts';
import { api, killAll, progressOf, requestKilledAtFirstByte, startRun, startServe, stream, type ServeProcess, type Stream } from './recovery-process.harness.ts';

const SEED = 0xc4a5_0012;
const KILLS = 24;
const NODES = ['ESP_K1', 'ESP_K2', 'ESP_K3'];
const GPIOS = [4, 5];
const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timeout']);
const MOSQUITTO = findMosquitto();
const ROOT = join(import.meta.dirname, '..', '..');

/** `sequencer emulate` in its own process; `applied()` is every command its nodes applied, in order. */
function emulator(cli: string[], url: string) {
  const child: ChildProcess = spawn(process.execPath, [...cli, 'emulate', '--mqtt-url', url, '--esp', [...NODES, 'ESP_PROBE'].join(','), '--latency-ms', '5'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  const waiters = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const wake of waiters) wake();
  });
  const printed = (pattern: RegExp) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!pattern.test(stdout)) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  return {
    child,
    printed,
    /** `[esp:gpio, command]` of every command a node applied (its `-> ok` line), in order. */
    applied: () => [...stdout.matchAll(/^(\S+) gpio (\d+) -> ok: \S+ gpio \d+: (\w+) /gm)].map((m) => [`${m[1]}:${m[2]}`, m[3] as string] as const),
  };
}

type Server = ServeProcess & { events: Stream };

describe.skipIf(MOSQUITTO === null)(`kill -9 ${KILLS} times at seeded moments (seed ${SEED.toString(16)}), mqtt driver, Mosquitto and the emulator`, () => {
  let broker: MosquittoBroker;
  let bundle: CliBundle;
  let devices: ReturnType<typeof emulator>;
  let dir: string;
  const streams: Stream[] = [];

  beforeAll(async () => {
    bundle = buildCliBundle();
    broker = await startMosquitto(MOSQUITTO as string);
    devices = emulator(bundle.command, broker.url);
    await devices.printed(/listening on/);
    dir = mkdtempSync(join(tmpdir(), 'sequencer-crash-'));
  });

  afterAll(async () => {
    for (const s of streams) s.close();
    await killAll();
    devices?.child.kill('SIGKILL');
    await broker?.close();
    bundle?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function serve(): Promise<Server> {
    const server = await startServe(['--db', join(dir, 's.db'), '--driver', 'mqtt', '--mqtt-url', broker.url], bundle.command);
    const events = await stream(server.url);
    streams.push(events);
    return { ...server, events };
  }

  /** The run's progress once it has ended: from the store, or after its end event on this server. */
  async function finished(server: Server, runId: string): Promise<Progress> {
    const now = await progressOf(server.url, runId);
    if (TERMINAL.has(now.status)) return now;
    await server.events.ended(runId);
    return progressOf(server.url, runId);
  }

  it('loses no run that was answered 202, and leaves no actuator ON', { timeout: 300_000 }, async () => {
    const { int, pick } = chooser(prng(SEED));
    const acknowledged = new Set<string>();
    let sequence = 0;
    const watering = () => {
      const target = { type: 'actuator_command', esp_id: pick(NODES), gpio: pick(GPIOS) };
      return {
        sequence_id: `crash-${++sequence}`,
        mode: 'parallel',
        steps: [
          { name: 'On', action: { ...target, command: 'ON' } },
          { name: 'Soak', delay_seconds: pick([0, 0.05, 0.2, 0.5]) },
          { name: 'Off', action: { ...target, command: 'OFF' } },
        ],
      };
    };

    for (let kill = 0; kill < KILLS; kill++) {
      const server = await serve();
      const seen = server.events.events.length;
      const runs: string[] = [];
      for (let i = int(4); i > 0; i--) runs.push(await startRun(server.url, watering()));
      for (const runId of runs) acknowledged.add(runId);
      if (int(3) === 0) {
        // Killed the moment its 202 starts to arrive.
        const answer = await requestKilledAtFirstByte(server, 'POST', '/sequences', watering()).catch(() => null);
        if (answer?.status === 202) acknowledged.add((answer.body as { run_id: string }).run_id);
      } else {
        // Killed at a seeded event from here on (a command, a wait, a recovered run's step), or
        // once this round's runs have ended if fewer events come.
        const nth = seen + 1 + int(8 * (runs.length + 1));
        await Promise.race([server.events.next((e) => server.events.events.indexOf(e) + 1 >= nth), Promise.all(runs.map((id) => server.events.ended(id)))]);
        server.killNow();
      }
      await server.kill();
    }

    const last = await serve();
    const { sequences } = await api<{ sequences: Progress[] }>(last.url, '/sequences?running_only=true&limit=500');
    for (const run of sequences) await finished(last, run.run_id);
    for (const runId of acknowledged) {
      const ended = await finished(last, runId);
      expect([ended.run_id, TERMINAL.has(ended.status)], `${runId}: ${ended.status}`).toEqual([runId, true]);
    }
    expect(acknowledged.size).toBeGreaterThan(KILLS);

    // A last command through the same broker and node: every earlier answer was printed before it.
    const probe = await startRun(last.url, { steps: [{ action: { type: 'actuator_command', esp_id: 'ESP_PROBE', gpio: 0, command: 'OFF' } }] });
    await last.events.ended(probe);
    await devices.printed(/^ESP_PROBE gpio 0 -> ok/m);
    const state = new Map<string, string>();
    for (const [actuator, command] of devices.applied()) state.set(actuator, command);
    const everOn = new Set(devices.applied().filter(([, command]) => command === 'ON').map(([actuator]) => actuator));
    expect(everOn.size).toBeGreaterThan(1);
    expect([...state].filter(([, command]) => command !== 'OFF')).toEqual([]);
  });
});
