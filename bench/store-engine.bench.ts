/**
 * The engine benchmark's workload (`engine.bench.ts`: N concurrent runs of `actuator ON, delay,
 * actuator ON, delay, actuator OFF` on simulated nodes that answer at once, no safety system)
 * with the SQLite store on a file in a temporary directory, against `:memory:` and the engine's
 * own store (`none`: in memory, not durable, events not held for commits). Measures the start rate, step lateness (as a subscriber sees it: events wait for their
 * write), CPU time and the transition-to-disk latency (from a transition to the end of the commit
 * that holds it). Each variant runs in a fresh child process. With `--pg postgres://HOST:PORT`
 * the PostgreSQL store (one node, in a database created and dropped on that server) is measured
 * too. Run with `npx tsx bench/store-engine.bench.ts [--runs N] [--delay-ms N] [--pg URL]
 * [--only none|memory|file|postgres]`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SimDriver } from '../src/drivers/sim.driver.ts';
import { Engine } from '../src/engine/engine.ts';
import type { EventEnvelope } from '../src/events/event-types.ts';
import { builtinExecutors } from '../src/executors/builtin-executors.ts';
import type { CommitBatch, RunStore } from '../src/store/run-store.ts';
import pg from 'pg';
import { openPostgresStore } from '../src/store/postgres/postgres.store.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite.store.ts';

/** Where runs are stored. */
export type StoreVariant = 'none' | 'memory' | 'file' | 'postgres';
const VARIANTS: readonly StoreVariant[] = ['none', 'memory', 'file', 'postgres'];

/** What to measure; every field has a default. */
export interface StoreEngineBenchOptions {
  /** Concurrent runs. Default 10,000. */
  runs?: number;
  /** Length of each of the two waits, in ms. Default 1000. */
  delayMs?: number;
  /** Measure one variant in this process. Default all, each in a child process. */
  only?: StoreVariant;
  /** A PostgreSQL server (`postgres://user@host:port`): the postgres variant runs on a database of its own there. */
  pg?: string;
}

/** The numbers of one variant. */
export interface StoreEngineResult {
  variant: StoreVariant;
  runs: number;
  completed: number;
  startMs: number;
  /** Runs started per second over the start loop. */
  startsPerSecond: number;
  latenessP50Ms: number;
  latenessP99Ms: number;
  wallMs: number;
  cpuMs: number;
  /** Transition-to-disk latency over every `sequence_state` event (null without a store). */
  toDiskP50Ms: number | null;
  toDiskP99Ms: number | null;
  toDiskMaxMs: number | null;
  /** The same over transitions after the start loop (the waits' wake-ups: steady state). */
  steadyToDiskP99Ms: number | null;
  /** Commits, their mean size in runs, and the p99 of one commit (serialising included). */
  flushes: number;
  meanBatchRuns: number;
  flushP99Ms: number | null;
  /** Mean bytes of one journal record, and of one start record (plan, context, definition). */
  recordBytes: number | null;
  startBytes: number | null;
  /** Database file plus WAL after the run (file variant). */
  fileBytes: number | null;
}

const STEPS = 5;

/** The workload of `engine.bench.ts` as a definition for run `i`. */
function definitionOf(run: number, delayMs: number): unknown {
  const target = { esp_id: `ESP_BENCH_${run % 100}`, gpio: Math.floor(run / 100) % 40 };
  const command = (c: string) => ({ action: { type: 'actuator_command', ...target, command: c } });
  return { sequence_id: `b-${run}`, steps: [command('ON'), { delay_seconds: delayMs / 1000 }, command('ON'), { delay_seconds: delayMs / 1000 }, command('OFF')] };
}

const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
};

const cpuMsNow = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** Times each commit of the store, samples the size of what it writes, and remembers when the last one ended. */
class TimedStore {
  readonly flushMs: number[] = [];
  readonly batchRuns: number[] = [];
  lastFlushEnd = 0;
  recordBytes = 0;
  startBytes = 0;
  records = 0;
  starts = 0;

  constructor(readonly inner: RunStore) {}

  wrap(): RunStore {
    const store = Object.create(this.inner) as RunStore;
    store.commit = async (batch: CommitBatch) => {
      // One batch in sixteen is enough to know the size of a write.
      if ((this.flushMs.length & 15) === 0) this.sample(batch);
      const started = performance.now();
      const result = await this.inner.commit(batch);
      const ended = performance.now();
      const runs = new Set([...batch.starts, ...batch.records, ...batch.ends].map((record) => record.run_id)).size;
      if (runs > 0) {
        this.flushMs.push(ended - started);
        this.batchRuns.push(runs);
      }
      this.lastFlushEnd = performance.timeOrigin + ended;
      return result;
    };
    return store;
  }

  sample(batch: CommitBatch): void {
    for (const record of batch.records) this.recordBytes += record.body.length;
    for (const start of batch.starts) this.startBytes += start.body.length + start.definition.length;
    this.records += batch.records.length;
    this.starts += batch.starts.length;
  }
}

/** Measures one variant in this process. */
async function measureHere(variant: StoreVariant, runs: number, delayMs: number, pg?: string): Promise<StoreEngineResult> {
  const dir = variant === 'file' ? mkdtempSync(join(tmpdir(), 'sequencer-store-bench-')) : null;
  const path = dir ? join(dir, 'bench.db') : ':memory:';
  const database = variant === 'postgres' ? await benchDatabase(pg ?? 'postgres://postgres@127.0.0.1:5432') : null;
  const inner = variant === 'none' ? null : database ? await openPostgresStore(database.url, { nodeId: 'bench' }) : openSqliteStore(path);
  const timed = inner ? new TimedStore(inner) : null;
  const engine = new Engine({ executors: builtinExecutors(new SimDriver(0)), store: timed?.wrap() ?? null, limits: { maxConcurrent: runs } });
  const starts = new Float64Array(runs * STEPS).fill(Number.NaN);
  const ends = new Float64Array(runs * STEPS).fill(Number.NaN);
  const startedCount = new Array<number>(STEPS).fill(0);
  const toDisk: number[] = [];
  const steadyToDisk: number[] = [];
  let startLoopEnd = Number.POSITIVE_INFINITY;
  let ended = 0;
  let succeeded = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  engine.events.subscribe((event: EventEnvelope) => {
    if (event.type === 'sequence_state') {
      if (!timed) return;
      const latency = timed.lastFlushEnd - event.timestamp * 1000;
      toDisk.push(latency);
      if (event.timestamp * 1000 > startLoopEnd) steadyToDisk.push(latency);
    } else if (event.type === 'sequence_step') {
      const data = event.data as { sequence_id: string; step: number; status: string; phase: string };
      if (data.phase !== 'steps') return;
      const at = Number(data.sequence_id.slice(2)) * STEPS + data.step;
      if (data.status === 'starting') {
        starts[at] = performance.now();
        startedCount[data.step] = (startedCount[data.step] ?? 0) + 1;
      } else if (data.status === 'completed') ends[at] = performance.now();
    } else if (event.type === 'sequence_completed') {
      if ((event.data as { success: boolean }).success) succeeded++;
      if (++ended === runs) finish();
    }
  });
  const cpuBefore = cpuMsNow();
  const began = performance.now();
  for (let run = 0; run < runs; run++) engine.start(definitionOf(run, delayMs));
  const startMs = performance.now() - began;
  startLoopEnd = Date.now();
  while ((startedCount[1] ?? 0) < runs) await nextTurn();
  await done;
  const wallMs = performance.now() - began;
  const cpuMs = cpuMsNow() - cpuBefore;
  await engine.close();
  await inner?.close();
  await database?.drop();
  const fileBytes = dir ? ['', '-wal'].reduce((sum, suffix) => sum + (statSync(`${path}${suffix}`, { throwIfNoEntry: false })?.size ?? 0), 0) : null;
  if (dir) rmSync(dir, { recursive: true, force: true });

  const lateness: number[] = [];
  for (let run = 0; run < runs; run++) {
    for (let i = 1; i < STEPS; i++) {
      const base = run * STEPS;
      const planned = i % 2 === 0 ? (starts[base + i - 1] as number) + delayMs : (ends[base + i - 1] as number);
      lateness.push((starts[base + i] as number) - planned);
    }
  }
  const flushes = timed?.flushMs.length ?? 0;
  return {
    variant,
    runs,
    completed: succeeded,
    startMs,
    startsPerSecond: runs / (startMs / 1000),
    latenessP50Ms: percentile(lateness, 50),
    latenessP99Ms: percentile(lateness, 99),
    wallMs,
    cpuMs,
    toDiskP50Ms: timed ? percentile(toDisk, 50) : null,
    toDiskP99Ms: timed ? percentile(toDisk, 99) : null,
    toDiskMaxMs: timed ? percentile(toDisk, 100) : null,
    steadyToDiskP99Ms: timed ? percentile(steadyToDisk, 99) : null,
    flushes,
    meanBatchRuns: flushes ? (timed?.batchRuns.reduce((a, b) => a + b, 0) ?? 0) / flushes : 0,
    flushP99Ms: timed ? percentile(timed.flushMs, 99) : null,
    recordBytes: timed?.records ? timed.recordBytes / timed.records : null,
    startBytes: timed?.starts ? timed.startBytes / timed.starts : null,
    fileBytes,
  };
}

/** Measures one variant in a fresh process, after a small warm-up round there. */
async function measureApart(variant: StoreVariant, runs: number, delayMs: number, pg?: string): Promise<StoreEngineResult> {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), '--only', variant, '--runs', String(runs), '--delay-ms', String(delayMs), ...(pg ? ['--pg', pg] : []), '--json'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`the ${variant} measurement exited with ${code}`);
  return (JSON.parse(out) as StoreEngineResult[])[0] as StoreEngineResult;
}

/** Runs the workload without a store, on `:memory:` and on a file; each in its own process. */
export async function runStoreEngineBench(options: StoreEngineBenchOptions = {}): Promise<StoreEngineResult[]> {
  const runs = options.runs ?? 10_000;
  const delayMs = options.delayMs ?? 1000;
  if (options.only) {
    // JIT warm-up, so the numbers are of optimised code.
    await measureHere(options.only, Math.min(500, runs), 10, options.pg);
    return [await measureHere(options.only, runs, delayMs, options.pg)];
  }
  const results: StoreEngineResult[] = [];
  for (const variant of VARIANTS) {
    if (variant === 'postgres' && !options.pg) continue;
    results.push(await measureApart(variant, runs, delayMs, options.pg));
  }
  return results;
}

/** A database of its own on the PostgreSQL server at `server`, dropped after. */
async function benchDatabase(server: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `seq_bench_${process.pid}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: `${server}/postgres` });
    await client.connect();
    await client.query(sql).finally(() => client.end());
  };
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${name}`);
  return { url: `${server}/${name}`, drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** The results as a Markdown table, with each store's ratio to no store and the target. */
export function formatStoreEngineBench(results: StoreEngineResult[]): string {
  const base = results.find((r) => r.variant === 'none');
  const ms = (n: number | null) => (n === null || Number.isNaN(n) ? '-' : `${n.toFixed(1)} ms`);
  // Ratios of costs (times) to no store: above 1 is slower.
  const ratio = (pick: (r: StoreEngineResult) => number, r: StoreEngineResult) =>
    base && r !== base ? ` (${(pick(r) / pick(base)).toFixed(2)}x)` : '';
  const kb = (n: number | null) => (n === null ? '-' : `${(n / 1024).toFixed(2)} KB`);
  const rows: [string, (r: StoreEngineResult) => string, string][] = [
    ['runs completed', (r) => `${r.completed} of ${r.runs}`, 'all'],
    ['start rate (time ratio)', (r) => `${Math.round(r.startsPerSecond).toLocaleString('en')} runs/s${ratio((x) => x.startMs, r)}`, '<= 2x'],
    ['step lateness p50', (r) => ms(r.latenessP50Ms), ''],
    ['step lateness p99', (r) => `${ms(r.latenessP99Ms)}`, ''],
    ['CPU time', (r) => `${ms(r.cpuMs)}${ratio((x) => x.cpuMs, r)}`, '<= 2x'],
    ['wall time', (r) => `${ms(r.wallMs)}${ratio((x) => x.wallMs, r)}`, ''],
    ['transition-to-disk p50', (r) => ms(r.toDiskP50Ms), ''],
    ['transition-to-disk p99', (r) => ms(r.toDiskP99Ms), ''],
    ['transition-to-disk max', (r) => ms(r.toDiskMaxMs), ''],
    ['transition-to-disk p99 after the starts', (r) => ms(r.steadyToDiskP99Ms), ''],
    ['commits / mean runs per commit', (r) => (r.flushes ? `${r.flushes} / ${Math.round(r.meanBatchRuns)}` : '-'), ''],
    ['commit p99', (r) => ms(r.flushP99Ms), ''],
    ['journal record / start record (with definition)', (r) => (r.recordBytes === null ? '-' : `${r.recordBytes.toFixed(0)} B / ${kb(r.startBytes)}`), ''],
    ['database + WAL', (r) => (r.fileBytes === null ? '-' : `${(r.fileBytes / 1048576).toFixed(1)} MB`), ''],
  ];
  return [
    `runs: ${results[0]?.runs ?? 0}`,
    '',
    `| measure | ${results.map((r) => VARIANT_NAMES[r.variant]).join(' | ')} | target |`,
    `|---|${results.map(() => '---:').join('|')}|---|`,
    ...rows.map(([name, show, target]) => `| ${name} | ${results.map(show).join(' | ')} | ${target} |`),
  ].join('\n');
}

const VARIANT_NAMES: Record<StoreVariant, string> = { none: 'no store', memory: ':memory:', file: 'SQLite file', postgres: 'PostgreSQL' };

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const only = argument('only');
  const number = (name: string) => {
    const value = Number(argument(name));
    return Number.isFinite(value) && value > 0 ? value : undefined;
  };
  const results = await runStoreEngineBench({
    runs: number('runs'),
    delayMs: number('delay-ms'),
    only: VARIANTS.find((variant) => variant === only),
    pg: argument('pg'),
  });
  console.log(process.argv.includes('--json') ? JSON.stringify(results) : formatStoreEngineBench(results));
}
