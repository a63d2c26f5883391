/**
 * The cluster benchmark (SPEC 14): 1, 2 and 3 `sequencer serve` processes on one PostgreSQL
 * database against one process on a SQLite file, the same load on each. `--runs N` runs (default
 * 600: actuator ON, a wait of `--delay-ms` (default 2000), actuator OFF, on simulated nodes that
 * answer at once), started in batches of 50 spread round-robin over the nodes. Measures:
 * - starts/s: runs answered 202 per second over the start phase;
 * - events/s: events one node's WebSocket delivered per second from the first start to the last
 *   `sequence_completed` (in a cluster that stream carries every node's events);
 * - step lateness (p50, p99): when the wait's `completed` event reached that WebSocket, minus when
 *   its `starting` event happened plus the wait (as a subscriber sees it: events wait for commits).
 * Processes are the command line bundled (as `npm run build:server` builds it). Run with
 * `npx tsx bench/cluster.bench.ts [--runs N] [--delay-ms N] [--pg postgres://user@host:port]`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import WebSocket from 'ws';
import type { EventEnvelope } from '../src/events/event-types.ts';
import { buildCliBundle } from '../tests/helpers/cli-bundle.ts';

/** What to measure; every field has a default. */
export interface ClusterBenchOptions {
  runs?: number;
  delayMs?: number;
  /** The PostgreSQL server (default postgres://postgres@127.0.0.1:5432). */
  pg?: string;
}

/** The numbers of one setup. */
export interface ClusterBenchResult {
  setup: string;
  runs: number;
  completed: number;
  startsPerSecond: number;
  eventsPerSecond: number;
  latenessP50Ms: number;
  latenessP99Ms: number;
}

const BATCH = 50;

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Starts `serve` with `args` (and no rate limits: the load is the point); resolves with its URL once it listens. */
async function serve(command: string[], args: string[], children: ChildProcess[], config: string): Promise<string> {
  const child = spawn(process.execPath, [...command, 'serve', '--port', '0', '--sim-latency-ms', '0', '--log-level', 'warn', '--config', config, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout?.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    child.stdout?.on('data', (chunk: string) => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)\n/.exec(out);
      if (match) resolve(match[1] as string);
    });
  });
}

const definition = (run: number, delayMs: number) => ({
  sequence_id: `bench-${run}`,
  mode: 'parallel',
  steps: [
    { name: 'on', action: { type: 'actuator_command', esp_id: `ESP_${run % 50}`, gpio: Math.floor(run / 50) % 40, command: 'ON' } },
    { name: 'wait', delay_seconds: delayMs / 1000 },
    { name: 'off', action: { type: 'actuator_command', esp_id: `ESP_${run % 50}`, gpio: Math.floor(run / 50) % 40, command: 'OFF' } },
  ],
});

/** One setup: `urls` are its nodes; the stream is read from the first. */
async function measure(setup: string, urls: string[], runs: number, delayMs: number): Promise<ClusterBenchResult> {
  const ws = new WebSocket(`${(urls[0] as string).replace(/^http/, 'ws')}/api/v1/ws`);
  await once(ws, 'open');
  const starting = new Map<string, number>();
  const lateness: number[] = [];
  let events = 0;
  let completed = 0;
  let lastAt = 0;
  let done: () => void = () => {};
  const allDone = new Promise<void>((resolve) => (done = resolve));
  ws.on('message', (raw) => {
    const now = Date.now();
    const event = JSON.parse(String(raw)) as EventEnvelope;
    events++;
    const data = event.data as { run_id?: string; step?: number; status?: string };
    if (event.type === 'sequence_step' && data.step === 1 && data.status === 'starting') starting.set(data.run_id as string, event.timestamp * 1000);
    if (event.type === 'sequence_step' && data.step === 1 && data.status === 'completed') {
      const began = starting.get(data.run_id as string);
      if (began !== undefined) lateness.push(now - began - delayMs);
    }
    if (event.type === 'sequence_completed') {
      completed++;
      lastAt = now;
      if (completed === runs) done();
    }
  });
  const started = performance.now();
  const firstAt = Date.now();
  const batches = Array.from({ length: Math.ceil(runs / BATCH) }, (_, b) => b);
  await Promise.all(
    batches.map(async (b) => {
      const sequences = Array.from({ length: Math.min(BATCH, runs - b * BATCH) }, (_, i) => definition(b * BATCH + i, delayMs));
      const response = await fetch(`${urls[b % urls.length]}/api/v1/sequences/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sequences }) });
      const body = (await response.json()) as { results: { status: number }[] };
      const refused = body.results.filter((r) => r.status !== 202);
      if (refused.length > 0) throw new Error(`${refused.length} starts refused: ${JSON.stringify(refused[0])}`);
    }),
  );
  const startSeconds = (performance.now() - started) / 1000;
  await Promise.race([allDone, new Promise((resolve) => setTimeout(resolve, delayMs + 60_000))]);
  ws.close();
  return {
    setup,
    runs,
    completed,
    startsPerSecond: Math.round(runs / startSeconds),
    eventsPerSecond: Math.round(events / ((lastAt - firstAt) / 1000)),
    latenessP50Ms: Math.round(percentile(lateness, 50)),
    latenessP99Ms: Math.round(percentile(lateness, 99)),
  };
}

/** Runs every setup, one after the other, each on fresh processes and a fresh database. */
export async function runClusterBench(options: ClusterBenchOptions = {}): Promise<ClusterBenchResult[]> {
  const runs = options.runs ?? 600;
  const delayMs = options.delayMs ?? 2000;
  const server = options.pg ?? 'postgres://postgres@127.0.0.1:5432';
  const bundle = buildCliBundle();
  const results: ClusterBenchResult[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'sequencer-cluster-bench-'));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ rate_limits: { starts_per_second: 0, commands_per_second: 0, commands_per_esp_per_second: 0 } }));
  try {
    const children: ChildProcess[] = [];
    try {
      const url = await serve(bundle.command, ['--db', join(dir, 'bench.db')], children, config);
      results.push(await measure('1 node, SQLite file', [url], runs, delayMs));
    } finally {
      await stop(children);
    }
    for (const nodes of [1, 2, 3]) {
      const name = `seq_bench_${process.pid}_${nodes}`;
      await admin(server, `CREATE DATABASE ${name}`);
      const processes: ChildProcess[] = [];
      try {
        const urls: string[] = [];
        for (let n = 0; n < nodes; n++) urls.push(await serve(bundle.command, ['--db', `${server}/${name}`, '--node-id', `bench-${n}`], processes, config));
        results.push(await measure(`${nodes} node${nodes > 1 ? 's' : ''}, PostgreSQL`, urls, runs, delayMs));
      } finally {
        await stop(processes);
        await admin(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }
    }
  } finally {
    bundle.remove();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

async function stop(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }),
  );
}

async function admin(server: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${server}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A Markdown table of the results. */
export function formatClusterBench(results: ClusterBenchResult[]): string {
  const rows = results.map((r) => `| ${r.setup} | ${r.completed}/${r.runs} | ${r.startsPerSecond} | ${r.eventsPerSecond} | ${r.latenessP50Ms} | ${r.latenessP99Ms} |`);
  return ['| setup | completed | starts/s | events/s (one stream) | lateness p50 ms | lateness p99 ms |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const runs = Number(argument('runs'));
  const delayMs = Number(argument('delay-ms'));
  const results = await runClusterBench({
    ...(Number.isFinite(runs) && runs > 0 ? { runs } : {}),
    ...(Number.isFinite(delayMs) && delayMs > 0 ? { delayMs } : {}),
    ...(argument('pg') ? { pg: argument('pg') as string } : {}),
  });
  console.log(formatClusterBench(results));
}
