/**
 * HTTP benchmark (issue 3): sequence starts per second over `POST /api/v1/sequences` with
 * autocannon, and event latency from a transition to WebSocket clients (p50/p99) with 1,000 runs
 * watched by 50 clients. The server runs in a child process (sim driver answering at once, no
 * limits, no auth, SQLite `:memory:`), so the load generator does not share its event loop; a
 * fresh server serves each part. Latency is the client's receive time minus the envelope's
 * `timestamp` (when the event happened), both read from this machine's clock. The start rate is
 * also measured on a floor server (Fastify, the engine's zod schemas, a bare XState actor per run
 * and each transition's snapshot written to SQLite: what any server built as mandated pays).
 * The life part (issue 19) measures the server CPU of whole runs of the 5-step workload (POST to
 * end, 64 requests in flight, 1 WebSocket client watching) beside the floor server's; the batch
 * part counts runs accepted per second through `POST /sequences/batch` with 10 starts a request, on
 * the server and on the floor server (the same items, each started as a floor run).
 *
 * `npx tsx bench/http.bench.ts [--duration S] [--connections N] [--runs N] [--clients N]
 * [--rate N] [--life-runs N] [--pairs N] [--only PART[,PART...]] [--cpu-prof DIR]` (parts: starts,
 * floor, events, life, floor-life, batch, floor-batch; `--only life,floor-life` measures those two
 * in interleaved rounds; `--rate`: starts per second of the latency part, 0 = unpaced; `--pairs`:
 * rounds of the life and batch parts, server and floor server interleaved, default 3;
 * `--cpu-prof` writes the server's CPU profiles to DIR, one per thread: the largest is the server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { defaultConfig, type ServerConfig } from '../src/config/server-config.ts';
import { startServer } from '../src/server.ts';
import { serveFloor } from './http-floor-server.ts';
import { measureEvents, type EventsResult } from './http-events.ts';
import { cpuMs, measureLife, type LifeResult } from './http-life.ts';
import { NODE_FLAGS } from './node-flags.ts';
import { median } from './stats.ts';

/** What to measure; every field has a default. */
export interface HttpBenchOptions {
  /** Length of the start-rate run in seconds (default 10). */
  durationSeconds?: number;
  /** autocannon connections (default 50). */
  connections?: number;
  /** Runs watched in the latency part (default 1,000). */
  runs?: number;
  /** WebSocket clients in the latency part (default 50). */
  clients?: number;
  /** Starts per second in the latency part, sent on a fixed schedule (default 200; 0 = as fast as 20 connections go). */
  startRate?: number;
  /** Directory for the server's CPU profiles (default none). */
  cpuProfDir?: string | null;
  /** Runs of the life part, each measured from its POST to its end (default 10,000). */
  lifeRuns?: number;
  /** Run only these parts (default all). */
  only?: Part[];
  /**
   * Rounds of the life and the batch parts, the server then the floor server, each in a fresh
   * server process (default 3). The machine's speed drifts by tens of percent within minutes, so
   * a verdict rests on the median of rounds measured side by side, never on one run.
   */
  pairs?: number;
}

/** The parts: start rate (server, floor server), event latency, CPU over a run's life (server, floor server), batches of 10 (server, floor server). */
type Part = 'starts' | 'floor' | 'events' | 'life' | 'floor-life' | 'batch' | 'floor-batch';

/** The numbers of a start-rate run. */
export interface StartsResult {
  requests: number;
  seconds: number;
  perSecond: number;
  non2xx: number;
  errors: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Server CPU time (all threads) per start, from /proc; null where there is no /proc. */
  serverCpuUsPerStart: number | null;
  /** The same, of the server's main thread alone (the one that admits and runs every run). */
  serverMainCpuUsPerStart: number | null;
}

/** The numbers of one benchmark. */
export interface HttpBenchResult {
  starts: StartsResult | null;
  /** The same starts against the floor server. */
  floorStarts: StartsResult | null;
  /** Whole runs on the server (1 WebSocket client watching) and on the floor server, one per round. */
  life: LifeResult[];
  floorLife: LifeResult[];
  /** `POST /sequences/batch` with 10 starts per request, one per round: `perSecond` counts runs accepted. */
  batch: StartsResult[];
  /** The same batches against the floor server. */
  floorBatch: StartsResult[];
  events: EventsResult | null;
}

const SELF = fileURLToPath(import.meta.url);

/** The run every request starts: two actuator steps (plus the safe-state cleanup), parallel mode. */
const DEFINITION = JSON.stringify({
  sequence_id: 'bench',
  mode: 'parallel',
  steps: [
    { name: 'on', action: { type: 'actuator_command', esp_id: 'ESP_BENCH', gpio: 5, command: 'ON' } },
    { name: 'off', action: { type: 'actuator_command', esp_id: 'ESP_BENCH', gpio: 5, command: 'OFF' } },
  ],
});

/**
 * The `n`th batch: ten runs of `DEFINITION`'s two steps, each on an actuator of its own among
 * 40,000 (runs sharing one would be refused its lease and fail, which costs more than succeeding).
 */
function batchOf10(n: number): string {
  const sequences = Array.from({ length: 10 }, (_, i) => {
    const run = n * 10 + i;
    const command = (c: string) => ({ action: { type: 'actuator_command', esp_id: `ESP_BATCH_${run % 1000}`, gpio: Math.floor(run / 1000) % 40, command: c } });
    return { sequence_id: 'batch', mode: 'parallel', steps: [command('ON'), command('OFF')] };
  });
  return JSON.stringify({ sequences });
}

/** Runs every part (or the `only` ones) and returns their numbers. */
export async function runHttpBench(options: HttpBenchOptions = {}): Promise<HttpBenchResult> {
  const profile = options.cpuProfDir ?? null;
  // Latency first: autocannon leaves this process with a large heap whose collections would
  // delay the clients' reads and show up as server latency.
  const wanted = (part: Part) => options.only === undefined || options.only.includes(part);
  const events = wanted('events') ? await withServer('events', profile, (url, pid) => measureEvents(url, pid, options, DEFINITION)) : null;
  const life: LifeResult[] = [];
  const floorLife: LifeResult[] = [];
  for (let round = 0; round < (options.pairs ?? 3); round++) {
    if (wanted('life')) life.push(await withServer('life', profile, (url, pid) => measureLife(url, pid, 'server', options)));
    if (wanted('floor-life')) floorLife.push(await withServer('floor', profile, (url, pid) => measureLife(url, pid, 'floor', options)));
  }
  const starts = wanted('starts') ? await withServer('starts', profile, (url, pid) => measureStarts(url, pid, options)) : null;
  const floorStarts = wanted('floor') ? await withServer('floor', profile, (url, pid) => measureStarts(url, pid, options)) : null;
  const batch: StartsResult[] = [];
  const floorBatch: StartsResult[] = [];
  for (let round = 0; round < (options.pairs ?? 3); round++) {
    if (wanted('batch')) batch.push(await withServer('batch', profile, (url, pid) => measureStarts(url, pid, options, 10)));
    if (wanted('floor-batch')) floorBatch.push(await withServer('floor', profile, (url, pid) => measureStarts(url, pid, options, 10)));
  }
  return { starts, floorStarts, events, life, floorLife, batch, floorBatch };
}

/** The table of a result. */
export function formatHttpBench(result: HttpBenchResult): string {
  const { starts, floorStarts, events: e, life, floorLife, batch, floorBatch } = result;
  const rows: [string, string, string][] = [];
  const startRows = (s: StartsResult, title: string, target: string) =>
    rows.push(
      [title, s.perSecond.toFixed(0), target],
      ['  requests (non-2xx, errors)', `${s.requests} in ${s.seconds} s (${s.non2xx}, ${s.errors})`, ''],
      ['  request latency p50 / p99', `${s.latencyP50Ms} / ${s.latencyP99Ms} ms`, ''],
      ['  server CPU per start', s.serverCpuUsPerStart === null ? 'n/a' : `${s.serverCpuUsPerStart.toFixed(0)} us (${(1e6 / s.serverCpuUsPerStart).toFixed(0)} starts/s per core)`, ''],
      ['  of which its main thread', s.serverMainCpuUsPerStart === null ? 'n/a' : `${s.serverMainCpuUsPerStart.toFixed(0)} us (${(1e6 / s.serverMainCpuUsPerStart).toFixed(0)} starts/s)`, ''],
    );
  const us = (value: number | null) => (value === null ? 'n/a' : `${value.toFixed(0)} us`);
  for (let i = 0; i < Math.max(life.length, floorLife.length); i++) {
    const [l, f] = [life[i], floorLife[i]];
    const ratio = l?.serverCpuUsPerRun && f?.serverCpuUsPerRun ? ` = ${(l.serverCpuUsPerRun / f.serverCpuUsPerRun).toFixed(2)}x` : '';
    const ran = l ? ` (${l.runs} runs, ${l.wallSeconds.toFixed(1)} s${l.succeeded === null ? '' : `, ${l.succeeded} of ${l.runs + 500} succeeded with the warm-up`})` : '';
    rows.push([`CPU per run, POST to end, server (1 WS client) / floor, round ${i + 1}`, `${l ? us(l.serverCpuUsPerRun) : '-'} / ${f ? us(f.serverCpuUsPerRun) : '-'}${ratio}${ran}`, '']);
  }
  const ratios = life.flatMap((l, i) => (l.serverCpuUsPerRun && floorLife[i]?.serverCpuUsPerRun ? [l.serverCpuUsPerRun / (floorLife[i]?.serverCpuUsPerRun as number)] : []));
  if (ratios.length > 0) rows.push(['  server / floor server, median of the rounds', `${median(ratios).toFixed(2)}x`, '<= 1.6x']);
  if (starts) startRows(starts, 'starts/s over HTTP', '');
  if (floorStarts) startRows(floorStarts, 'floor server starts/s', '');
  for (let i = 0; i < Math.max(batch.length, floorBatch.length); i++) {
    const rate = (r: StartsResult | undefined) => (r ? `${r.perSecond.toFixed(0)} (${us(r.serverMainCpuUsPerStart)} of main thread a run)` : '-');
    rows.push([`runs/s accepted, POST /sequences/batch of 10, server / floor, round ${i + 1}`, `${rate(batch[i])} / ${rate(floorBatch[i])}`, '']);
  }
  if (batch.length > 0) rows.push(['  server, median of the rounds', median(batch.map((b) => b.perSecond)).toFixed(0), '>= 5,000']);
  if (e) {
    rows.push(
      ['event latency p50', `${e.p50Ms.toFixed(2)} ms`, ''],
      ['event latency p99', `${e.p99Ms.toFixed(2)} ms`, '< 10 ms'],
      ['  max', `${e.maxMs.toFixed(2)} ms`, ''],
      ['  runs x clients', `${e.runs} x ${e.clients}, ${e.eventsPerClient} events each, ${e.samples} samples`, ''],
      ['  start rate, wall time', `${e.startRate || 'unpaced'} starts/s, ${e.wallSeconds.toFixed(1)} s`, ''],
      ['  client process CPU', `${(e.clientCpuShare * 100).toFixed(0)} % of a core`, ''],
      ['  server CPU per run (with fan-out)', e.serverCpuUsPerRun === null ? 'n/a' : `${e.serverCpuUsPerRun.toFixed(0)} us (${(1e6 / e.serverCpuUsPerRun).toFixed(0)} runs/s per core)`, ''],
      ['  server: event to bus p50 / p99', `<= ${e.serverPublishP50Ms} / <= ${e.serverPublishP99Ms} ms`, ''],
      ['  server: event to sockets p50 / p99', `<= ${e.serverHandOverP50Ms} / <= ${e.serverHandOverP99Ms} ms`, ''],
    );
  }
  const width = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length), 6));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(width[i] as number)).join(' | ')} |`;
  return [line(['metric', 'value', 'target']), line(width.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/**
 * Starts as fast as autocannon sends them, one per request or `batchOf` per `POST /sequences/batch`;
 * `perSecond` and the CPU per start count runs the server accepted (its runs_started counter).
 */
async function measureStarts(url: string, pid: number, options: HttpBenchOptions, batchOf = 0): Promise<StartsResult> {
  const startedBefore = batchOf > 0 ? await runsStarted(url) : 0;
  const cpuBefore = cpuMs(pid);
  const mainBefore = cpuMs(pid, true);
  let batches = 0;
  const result = await autocannon({
    url: `${url}/api/v1/sequences${batchOf > 0 ? '/batch' : ''}`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: DEFINITION,
    ...(batchOf > 0 ? { requests: [{ setupRequest: (request: object) => ({ ...request, body: batchOf10(batches++) }) }] } : {}),
    connections: options.connections ?? 50,
    duration: options.durationSeconds ?? 10,
  });
  const cpuAfter = cpuMs(pid);
  const mainAfter = cpuMs(pid, true);
  const accepted = batchOf > 0 ? (await runsStarted(url)) - startedBefore : result.requests.total;
  return {
    requests: result.requests.total,
    seconds: result.duration,
    perSecond: accepted / result.duration,
    non2xx: result.non2xx,
    errors: result.errors,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    serverCpuUsPerStart: cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) * 1000) / accepted,
    serverMainCpuUsPerStart: mainBefore === null || mainAfter === null ? null : ((mainAfter - mainBefore) * 1000) / accepted,
  };
}

/** The server's count of runs started (Prometheus text of /metrics). */
async function runsStarted(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^sequencer_runs_started_total (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

/** Starts a server (the floor server for label `floor`) in a child process, hands its URL to `body`, then stops it. */
async function withServer<T>(label: string, cpuProfDir: string | null, body: (url: string, pid: number) => Promise<T>): Promise<T> {
  // One profile per thread (the tsx loader has its own), named by node; the largest is the server.
  const profile = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}/${label}`] : [];
  const mode = label === 'floor' ? '--serve-floor' : '--serve';
  const child = spawn(process.execPath, [...profile, ...NODE_FLAGS, '--import', 'tsx', SELF, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await serverUrl(child);
    return await body(url, child.pid as number);
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

async function serverUrl(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit')])) as [unknown];
  const match = typeof line === 'string' ? /^listening on (\S+)$/.exec(line) : null;
  if (!match) throw new Error(`the bench server did not start (${String(line)})`);
  // Whatever the server prints later must not fill the pipe and stall it.
  lines.on('line', (text) => console.error(`[server] ${text}`));
  return match[1] as string;
}

/** The server side: a real server with the bench configuration, until SIGTERM. */
async function serve(): Promise<void> {
  const config: ServerConfig = {
    ...defaultConfig(),
    port: 0,
    db: ':memory:',
    simLatencyMs: 0,
    limits: { ...defaultConfig().limits, max_concurrent: 1_000_000 },
    rate_limits: { starts_per_second: 0, commands_per_second: 0, commands_per_esp_per_second: 0 },
  };
  const server = await startServer(config);
  process.once('SIGTERM', () => {
    void server.close().then(() => process.exit(0));
  });
  console.log(`listening on ${server.url}`);
}

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--serve')) {
    await serve();
  } else if (process.argv.includes('--serve-floor')) {
    await serveFloor();
  } else {
    const number = (name: string) => (flag(name) === undefined ? undefined : Number(flag(name)));
    const result = await runHttpBench({
      durationSeconds: number('duration'),
      connections: number('connections'),
      runs: number('runs'),
      clients: number('clients'),
      startRate: number('rate'),
      lifeRuns: number('life-runs'),
      pairs: number('pairs'),
      only: flag('only')?.split(',') as HttpBenchOptions['only'],
      cpuProfDir: flag('cpu-prof') ?? null,
    });
    console.log(formatHttpBench(result));
  }
}
