/**
 * Server memory (issue 19): live heap per running run, per ended run, and a soak. A real server's
 * services and app (sim driver answering at once, the SQLite store on a file in a temporary
 * directory, no rate limits) run in a child process with `--expose-gc`; runs are started through
 * `POST /api/v1/sequences` (injected, so no sockets weigh on the heap) at 50 per turn. A warm-up
 * of N short runs first optimises the code, fills the event stream's replay buffer (10,000 events,
 * a fixed cost) and makes every actuator the runs use known to the simulated nodes and the safety
 * system (an installation's actuators are a fixed cost too, not a run's).
 * - ended: N runs of the 5-step workload with no waits, all ended and committed, then a forced GC:
 *   heap growth / N is what an ended run leaves behind.
 * - running: N runs of the 5-step workload with 600 s waits, all in their first wait and
 *   committed, then a forced GC: heap growth / N.
 * - soak: starts at a fixed rate (default 500/s) of the 5-step workload with 1 s waits for S
 *   seconds (default 600); the heap after a forced GC is sampled every 10 s. Flat: the last
 *   samples are no higher than the first ones after the warm-up.
 *
 * `npx tsx bench/memory.bench.ts [--runs N] [--soak-seconds S] [--soak-rate R] [--only ended|running|soak]`
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildApp } from '../src/api/build-app.ts';
import { defaultConfig, type ServerConfig } from '../src/config/server-config.ts';
import { createServices } from '../src/services.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite.store.ts';
import { NODE_FLAGS } from './node-flags.ts';

/** What to measure; every field has a default. */
export interface MemoryBenchOptions {
  /** Runs weighed in the ended and running parts (default 10,000). */
  runs?: number;
  /** Length of the soak (default 600 s). */
  soakSeconds?: number;
  /** Starts per second of the soak (default 500). */
  soakRate?: number;
  /** One part only (default all three). */
  only?: Part;
}

type Part = 'ended' | 'running' | 'soak';

/** The numbers of the memory benchmark. */
export interface MemoryBenchResult {
  runs: number;
  endedHeapPerRunBytes: number | null;
  runningHeapPerRunBytes: number | null;
  soak: null | {
    seconds: number;
    rate: number;
    started: number;
    /** Heap after a forced GC, every 10 s, in bytes. */
    samples: number[];
    /** Runs held in memory (running) at each sample. */
    running: number[];
  };
}

/**
 * The 5-step workload of the other benchmarks (ON, wait, ON, wait, OFF) with waits of `seconds`,
 * on actuator `run % slots` of 1,000 nodes of up to 40 GPIOs: runs running at once each have one
 * of their own (runs that shared one would be refused its lease, 5640, and end at once).
 */
function definitionOf(run: number, seconds: number, slots: number): string {
  const slot = run % slots;
  const target = { esp_id: `ESP_MEM_${slot % 1000}`, gpio: Math.floor(slot / 1000) % 40 };
  const command = (c: string) => ({ action: { type: 'actuator_command', ...target, command: c } });
  return JSON.stringify({ sequence_id: `m-${run}`, steps: [command('ON'), { delay_seconds: seconds }, command('ON'), { delay_seconds: seconds }, command('OFF')] });
}

const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run with --expose-gc');
  collect();
  collect();
};

/** The server side of one part, in this process: prints its result as JSON. */
async function measureHere(part: Part, options: Required<Omit<MemoryBenchOptions, 'only'>>): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'sequencer-memory-'));
  const config: ServerConfig = {
    ...defaultConfig(),
    port: 0,
    db: join(dir, 'bench.db'),
    simLatencyMs: 0,
    limits: { ...defaultConfig().limits, max_concurrent: 1_000_000 },
    rate_limits: { starts_per_second: 0, commands_per_second: 0, commands_per_esp_per_second: 0 },
  };
  const services = await createServices(config, { openStore: (c) => openSqliteStore(c.db) });
  const app = await buildApp(services);
  await app.ready();
  let ended = 0;
  services.engine.events.subscribe((event) => {
    if (event.type === 'sequence_completed') ended++;
  });
  let next = 0;
  const start = async (seconds: number) => {
    const response = await app.inject({ method: 'POST', url: '/api/v1/sequences', headers: { 'content-type': 'application/json' }, payload: definitionOf(next++, seconds, options.runs) });
    if (response.statusCode !== 202) throw new Error(`start answered ${response.statusCode}: ${response.body}`);
  };
  const startMany = async (count: number, seconds: number) => {
    for (let i = 0; i < count; i += 50) await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => start(seconds)));
  };
  const settle = async () => {
    await services.engine.whenDurable();
    for (let i = 0; i < 20; i++) await nextTurn();
    await services.engine.whenDurable();
  };
  try {
    await startMany(options.runs, 0);
    while (ended < options.runs) await sleep(10);
    await settle();
    if (part === 'ended') {
      gc();
      const before = process.memoryUsage().heapUsed;
      const target = ended + options.runs;
      await startMany(options.runs, 0);
      while (ended < target) await sleep(10);
      await settle();
      gc();
      return (process.memoryUsage().heapUsed - before) / options.runs;
    }
    if (part === 'running') {
      gc();
      const before = process.memoryUsage().heapUsed;
      await startMany(options.runs, 600);
      await settle();
      gc();
      return (process.memoryUsage().heapUsed - before) / options.runs;
    }
    const samples: number[] = [];
    const running: number[] = [];
    const began = performance.now();
    let started = 0;
    let nextSample = began;
    while (performance.now() - began < options.soakSeconds * 1000) {
      const due = Math.floor(((performance.now() - began) / 1000) * options.soakRate);
      const batch: Promise<void>[] = [];
      while (started < due) {
        batch.push(start(1));
        started++;
      }
      await Promise.all(batch);
      if (performance.now() >= nextSample) {
        gc();
        samples.push(process.memoryUsage().heapUsed);
        running.push(services.engine.runningCount);
        nextSample += 10_000;
      }
      await sleep(5);
    }
    return { seconds: options.soakSeconds, rate: options.soakRate, started, samples, running };
  } finally {
    await app.close();
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs one part in a fresh process with --expose-gc. */
async function measureApart(part: Part, options: Required<Omit<MemoryBenchOptions, 'only'>>): Promise<unknown> {
  const args = ['--expose-gc', ...NODE_FLAGS, '--import', 'tsx', fileURLToPath(import.meta.url), '--serve', part, '--runs', String(options.runs), '--soak-seconds', String(options.soakSeconds), '--soak-rate', String(options.soakRate)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`the ${part} measurement exited with ${code}`);
  return JSON.parse(out);
}

/** Runs the parts, each in a fresh process. */
export async function runMemoryBench(options: MemoryBenchOptions = {}): Promise<MemoryBenchResult> {
  const resolved = { runs: options.runs ?? 10_000, soakSeconds: options.soakSeconds ?? 600, soakRate: options.soakRate ?? 500 };
  const wanted = (part: Part) => options.only === undefined || options.only === part;
  return {
    runs: resolved.runs,
    endedHeapPerRunBytes: wanted('ended') ? ((await measureApart('ended', resolved)) as number) : null,
    runningHeapPerRunBytes: wanted('running') ? ((await measureApart('running', resolved)) as number) : null,
    soak: wanted('soak') ? ((await measureApart('soak', resolved)) as MemoryBenchResult['soak']) : null,
  };
}

/** The result as a Markdown table with the targets. */
export function formatMemoryBench(result: MemoryBenchResult): string {
  const kb = (n: number | null) => (n === null ? '-' : `${(n / 1024).toFixed(2)} KB`);
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  const rows = [
    '| measure | value | target |',
    '|---|---:|---|',
    `| server heap per running run (${result.runs} runs) | ${kb(result.runningHeapPerRunBytes)} | <= 6 KB |`,
    `| server heap per ended run (${result.runs} runs) | ${kb(result.endedHeapPerRunBytes)} | <= 0.5 KB |`,
  ];
  const soak = result.soak;
  if (soak && soak.samples.length > 0) {
    // The first sample is before any load; the second is after 10 s, once the runs of the steady state exist.
    const steady = soak.samples.slice(1);
    const first = steady[0] ?? 0;
    const last = steady[steady.length - 1] ?? 0;
    rows.push(
      `| soak: ${soak.started} starts in ${soak.seconds} s (${soak.rate}/s) | heap ${mb(first)} at 10 s, ${mb(last)} at the end (${last >= first ? '+' : ''}${mb(last - first)}) | flat |`,
      `| soak: heap every 10 s | ${steady.map(mb).join(', ')} | |`,
      `| soak: runs running at each sample | ${soak.running.slice(1).join(', ')} | |`,
    );
  }
  return rows.join('\n');
}

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const number = (name: string) => (flag(name) === undefined ? undefined : Number(flag(name)));
  const serve = flag('serve') as Part | undefined;
  if (serve) {
    const result = await measureHere(serve, { runs: number('runs') ?? 10_000, soakSeconds: number('soak-seconds') ?? 600, soakRate: number('soak-rate') ?? 500 });
    console.log(JSON.stringify(result));
  } else {
    const result = await runMemoryBench({ runs: number('runs'), soakSeconds: number('soak-seconds'), soakRate: number('soak-rate'), only: flag('only') as Part | undefined });
    console.log(formatMemoryBench(result));
  }
}
