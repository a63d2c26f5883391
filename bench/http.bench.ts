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
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import WebSocket from 'ws';
import { defaultConfig, type ServerConfig } from '../src/config/server-config.ts';
import { startServer } from '../src/server.ts';
import { serveFloor } from './http-floor-server.ts';
import { COMPLETED, cpuMs, measureLife, type LifeResult } from './http-life.ts';
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
  events: null | {
    runs: number;
    clients: number;
    /** Starts per second asked for (0: as fast as possible). */
    startRate: number;
    /** Events each client received (every one of them, checked). */
    eventsPerClient: number;
    samples: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    wallSeconds: number;
    /** The server's own view (bucket upper bounds of its histograms): event to bus (write-ahead), event to sockets. */
    serverPublishP50Ms: number | null;
    serverPublishP99Ms: number | null;
    serverHandOverP50Ms: number | null;
    serverHandOverP99Ms: number | null;
    /** Server CPU time per run, its events' fan-out to every client included; null where there is no /proc. */
    serverCpuUsPerRun: number | null;
    /** CPU the 50 clients' process used, as a share of one core (near 1: the clients, not the server, set the pace). */
    clientCpuShare: number;
  };
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
  const events = wanted('events') ? await withServer('events', profile, (url, pid) => measureEvents(url, pid, options)) : null;
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

/**
 * Reads one client's server-to-client WebSocket frames as they arrive (server frames are
 * unmasked: a FIN/opcode byte, a 7-, 16- or 64-bit length, the payload) and notes each text
 * frame's latency: its arrival minus the envelope's `timestamp`. It works on the received bytes
 * in place and allocates nothing per frame, so the clients' own garbage collection does not
 * show up as server latency.
 */
class FrameRecorder {
  readonly #latencies: Float64Array;
  #count = 0;
  #rest: Buffer = Buffer.alloc(0);
  #completed = 0;
  #waiting: { completions: number; resolve: () => void } | null = null;

  constructor(capacity: number) {
    this.#latencies = new Float64Array(capacity);
  }

  take(chunk: Buffer, at: number): void {
    const data = this.#rest.length > 0 ? Buffer.concat([this.#rest, chunk]) : chunk;
    let offset = 0;
    for (;;) {
      if (data.length - offset < 2) break;
      const short = (data[offset + 1] as number) & 0x7f;
      const header = short === 126 ? 4 : short === 127 ? 10 : 2;
      if (data.length - offset < header) break;
      const length = short === 126 ? data.readUInt16BE(offset + 2) : short === 127 ? Number(data.readBigUInt64BE(offset + 2)) : short;
      const start = offset + header;
      const end = start + length;
      if (data.length < end) break;
      if (((data[offset] as number) & 0x0f) === 1) {
        this.#latencies[this.#count++] = at - timestampMs(data, start, end);
        if (data.compare(COMPLETED, 0, COMPLETED.length, start, start + COMPLETED.length) === 0) this.#complete();
      }
      offset = end;
    }
    this.#rest = offset === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(offset));
  }

  /** Resolves once `completions` runs have been seen to complete, counted from the first frame. */
  completions(completions: number): Promise<void> {
    if (this.#completed >= completions) return Promise.resolve();
    return new Promise((resolve) => (this.#waiting = { completions, resolve }));
  }

  /** Forgets the latencies noted so far (the warm-up's). */
  reset(): void {
    this.#count = 0;
  }

  /** Adds every latency to `out`; returns how many frames there were. */
  latencies(out: number[]): number {
    for (let i = 0; i < this.#count; i++) out.push(this.#latencies[i] as number);
    return this.#count;
  }

  #complete(): void {
    this.#completed++;
    if (this.#waiting && this.#completed >= this.#waiting.completions) {
      this.#waiting.resolve();
      this.#waiting = null;
    }
  }
}

const TIMESTAMP = Buffer.from('"timestamp":');

/** The envelope's `timestamp` (seconds, a decimal number) in ms, read from the bytes in place. */
function timestampMs(data: Buffer, start: number, end: number): number {
  let i = data.indexOf(TIMESTAMP, start) + TIMESTAMP.length;
  let value = 0;
  let scale = 0;
  for (; i < end; i++) {
    const c = data[i] as number;
    if (c === 0x2e) scale = 1;
    else if (c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30);
      if (scale > 0) scale *= 10;
    } else break;
  }
  return ((scale > 0 ? value / scale : value) * 1000);
}


async function measureEvents(url: string, pid: number, options: HttpBenchOptions): Promise<HttpBenchResult['events']> {
  const runs = options.runs ?? 1000;
  const clientCount = options.clients ?? 50;
  const samples: number[] = [];
  const recorders: FrameRecorder[] = [];
  const sockets: WebSocket[] = [];
  // The first runs meet a cold server (lazy set-up, code not yet optimised): they only warm it.
  const warmUp = Math.min(200, runs);
  for (let i = 0; i < clientCount; i++) {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws/realtime/bench-${i}`, { perMessageDeflate: false });
    sockets.push(ws);
    await once(ws, 'open');
    const frames = new FrameRecorder((warmUp + runs) * 10);
    // The 50 clients share one process and one core: parsing every message as it comes would make
    // the clients, not the server, set the latency (the last client waits for the other 49). So
    // each client takes its socket from ws once open and reads frame boundaries and timestamps
    // straight from the received bytes.
    const socket = (ws as unknown as { _socket: Socket })._socket;
    socket.removeAllListeners('data');
    socket.on('data', (chunk: Buffer) => frames.take(chunk, performance.timeOrigin + performance.now()));
    recorders.push(frames);
  }
  const startRate = options.startRate ?? 200;
  const startOne = async () => {
    const response = await fetch(`${url}/api/v1/sequences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: DEFINITION });
    if (response.status !== 202) throw new Error(`start answered ${response.status}: ${await response.text()}`);
    await response.arrayBuffer();
  };
  const startRuns = async (count: number) => {
    const began = performance.now();
    if (startRate > 0) {
      // Open loop: each start leaves at its time whatever the server's pace, as a rules engine would send them.
      const inFlight: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        const due = began + (i * 1000) / startRate - performance.now();
        if (due > 0) await sleep(due);
        inFlight.push(startOne());
      }
      await Promise.all(inFlight);
    } else {
      let next = 0;
      const starter = async () => {
        while (next++ < count) await startOne();
      };
      await Promise.all(Array.from({ length: 20 }, starter));
    }
  };
  await startRuns(warmUp);
  await Promise.all(recorders.map((r) => r.completions(warmUp)));
  for (const r of recorders) r.reset();
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const serverCpuBefore = cpuMs(pid);
  await startRuns(runs);
  await Promise.all(recorders.map((r) => r.completions(warmUp + runs)));
  const received = recorders.map((r) => r.latencies(samples));
  const wallSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const serverCpuAfter = cpuMs(pid);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  for (const ws of sockets) ws.terminate();
  if (new Set(received).size !== 1) throw new Error(`clients received different event counts: ${[...new Set(received)].join(', ')}`);
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] as number;
  return {
    runs,
    clients: clientCount,
    startRate,
    eventsPerClient: received[0] as number,
    samples: samples.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: samples[samples.length - 1] as number,
    wallSeconds,
    clientCpuShare: (cpu.user + cpu.system) / 1e6 / wallSeconds,
    serverCpuUsPerRun: serverCpuBefore === null || serverCpuAfter === null ? null : ((serverCpuAfter - serverCpuBefore) * 1000) / runs,
    serverPublishP50Ms: bucketQuantile(metrics, 'sequencer_event_publish_lag_seconds', 0.5),
    serverPublishP99Ms: bucketQuantile(metrics, 'sequencer_event_publish_lag_seconds', 0.99),
    serverHandOverP50Ms: bucketQuantile(metrics, 'sequencer_event_lag_seconds', 0.5),
    serverHandOverP99Ms: bucketQuantile(metrics, 'sequencer_event_lag_seconds', 0.99),
  };
}

/** The upper bound (ms) of the histogram bucket holding quantile `q`, from Prometheus text; null if absent. */
function bucketQuantile(text: string, name: string, q: number): number | null {
  const buckets = [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)`, 'gm'))].map((m) => ({ le: Number(m[1]), count: Number(m[2]) }));
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const bucket = buckets.find((b) => b.count >= q * total);
  return bucket ? bucket.le * 1000 : null;
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
