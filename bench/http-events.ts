/**
 * The event-latency part of the HTTP benchmark (`bench/http.bench.ts`): clients that read the
 * server's WebSocket frames in place and time each against its envelope's `timestamp`.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { COMPLETED, cpuMs } from './http-life.ts';

/** The numbers of the event-latency part. */
export interface EventsResult {
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


/**
 * Event latency with 50 clients watching (issue 3): `runs` runs of `definition` started at
 * `startRate` a second (0: as fast as 20 connections go) after a warm-up, every client's every
 * frame timed.
 */
export async function measureEvents(url: string, pid: number, options: { runs?: number; clients?: number; startRate?: number }, definition: string): Promise<EventsResult> {
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
    const response = await fetch(`${url}/api/v1/sequences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: definition });
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
