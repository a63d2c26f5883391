/**
 * Recovery (issue 19, SPEC 11): N unfinished runs recovered from the journal after kill -9. A
 * server (the SQLite store on a file in a temporary directory, sim driver, no limits) starts N
 * runs of the 5-step workload with 600 s waits through `POST /sequences/batch`, waits until every
 * run sits in its first wait with that turn committed, and is killed with SIGKILL. A second server
 * then starts on the same file: the time from its spawn to its `listening` line (Node and module
 * loading included) and the time `startServer` took (opening the store, replaying every journal,
 * restoring every actor, listening), with the runs it resumed.
 *
 * `npx tsx bench/recovery.bench.ts [--runs N] [--cpu-prof DIR]` (`--cpu-prof`: the recovering server's CPU profile)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { defaultConfig, type ServerConfig } from '../src/config/server-config.ts';
import { startServer } from '../src/server.ts';
import { NODE_FLAGS } from './node-flags.ts';

/** The numbers of a recovery. */
export interface RecoveryBenchResult {
  runs: number;
  resumed: number;
  /** From the second server's spawn to its `listening` line. */
  spawnToListeningMs: number;
  /** `startServer` alone: store, journal replay, actors, listen. */
  startServerMs: number;
  /** CPU time (user + system, all threads) of the recovering process from its start to listening: wall time minus waiting for a busy machine's cores. */
  cpuToListeningMs: number;
}

const SELF = fileURLToPath(import.meta.url);

function config(db: string, runs: number): ServerConfig {
  return {
    ...defaultConfig(),
    port: 0,
    db,
    simLatencyMs: 0,
    limits: { ...defaultConfig().limits, max_concurrent: Math.max(1000, runs * 2) },
    rate_limits: { starts_per_second: 0, commands_per_second: 0, commands_per_esp_per_second: 0 },
  };
}

/** One run of the 5-step workload with 600 s waits, on an actuator of its own (a shared one would refuse its lease). */
function definitionOf(run: number): unknown {
  const target = { esp_id: `ESP_REC_${run % 1000}`, gpio: Math.floor(run / 1000) % 40 };
  const command = (c: string) => ({ action: { type: 'actuator_command', ...target, command: c } });
  return { sequence_id: `r-${run}`, steps: [command('ON'), { delay_seconds: 600 }, command('ON'), { delay_seconds: 600 }, command('OFF')] };
}

/** The first server: starts the runs, says `ready` once every one is waiting and committed, then waits to be killed. */
async function fill(db: string, runs: number): Promise<void> {
  const server = await startServer(config(db, runs));
  let waiting = 0;
  server.services.engine.events.subscribe((event) => {
    const data = event.data as { step?: number; status?: string; phase?: string };
    if (event.type === 'sequence_step' && data.phase === 'steps' && data.step === 1 && data.status === 'starting') waiting++;
  });
  for (let first = 0; first < runs; first += 1000) {
    const sequences = Array.from({ length: Math.min(1000, runs - first) }, (_, i) => definitionOf(first + i));
    const response = await fetch(`${server.url}/api/v1/sequences/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sequences }) });
    const { results } = (await response.json()) as { results: { status: number }[] };
    if (results.some((r) => r.status !== 202)) throw new Error('a start was refused');
  }
  // Events are published after their commit: once every run's wait has begun, it is on disk.
  while (waiting < runs) await sleep(20);
  console.log('ready');
  await new Promise(() => {});
}

/** The second server: recovers and reports. */
async function recover(db: string, runs: number): Promise<void> {
  const began = performance.now();
  const server = await startServer(config(db, runs));
  const startServerMs = performance.now() - began;
  const { user, system } = process.cpuUsage();
  console.log(`listening ${JSON.stringify({ startServerMs, cpuToListeningMs: (user + system) / 1000, resumed: server.services.recovered.resumed })}`);
  await server.close();
}

async function line(child: ChildProcess, prefix: string): Promise<string> {
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const text of lines) if (text.startsWith(prefix)) return text;
  throw new Error(`the child exited before saying ${prefix}`);
}

/** Fills a store, kills its server with SIGKILL, and times the recovery. */
export async function runRecoveryBench(options: { runs?: number; cpuProfDir?: string } = {}): Promise<RecoveryBenchResult> {
  const runs = options.runs ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'sequencer-recovery-'));
  const db = join(dir, 'bench.db');
  const node = (role: string) => {
    const profile = role === 'recover' && options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];
    return spawn(process.execPath, [...profile, ...NODE_FLAGS, '--import', 'tsx', SELF, `--${role}`, db, '--runs', String(runs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  };
  try {
    const filler = node('fill');
    await line(filler, 'ready');
    filler.kill('SIGKILL');
    await once(filler, 'exit');
    const began = performance.now();
    const recoverer = node('recover');
    const text = await line(recoverer, 'listening');
    const spawnToListeningMs = performance.now() - began;
    await once(recoverer, 'exit');
    const { startServerMs, cpuToListeningMs, resumed } = JSON.parse(text.slice('listening '.length)) as { startServerMs: number; cpuToListeningMs: number; resumed: number };
    return { runs, resumed, spawnToListeningMs, startServerMs, cpuToListeningMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The result as a Markdown table with the target. */
export function formatRecoveryBench(r: RecoveryBenchResult): string {
  return [
    '| measure | value | target |',
    '|---|---:|---|',
    `| runs resumed after kill -9 | ${r.resumed} of ${r.runs} | all |`,
    `| spawn to listening (Node start-up included) | ${(r.spawnToListeningMs / 1000).toFixed(2)} s | < 5 s |`,
    `| startServer: store, journal replay, actors, listen | ${(r.startServerMs / 1000).toFixed(2)} s | |`,
    `| CPU of the recovering process, start to listening | ${(r.cpuToListeningMs / 1000).toFixed(2)} s | |`,
  ].join('\n');
}

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(flag('runs') ?? 10_000);
  const fillDb = flag('fill');
  const recoverDb = flag('recover');
  if (fillDb) await fill(fillDb, runs);
  else if (recoverDb) await recover(recoverDb, runs);
  else console.log(formatRecoveryBench(await runRecoveryBench({ runs, cpuProfDir: flag('cpu-prof') })));
}
