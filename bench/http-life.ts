/**
 * The life part of the HTTP benchmark (issue 19): server CPU over whole runs of the 5-step
 * workload, from each POST to the run's end, on the server or the floor server; and the helpers
 * the other parts share (a process's CPU time, the start of a run's last event).
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

/** Server CPU over whole runs: POSTs of the 5-step workload (1 s waits), 64 in flight, until every run has ended. */
export interface LifeResult {
  runs: number;
  /** Runs that ended successfully, warm-up included (the server only: the floor server does not say). */
  succeeded: number | null;
  wallSeconds: number;
  /** Server CPU time (all threads) per run, from its POST to its end, events to 1 WebSocket client included; null without /proc. */
  serverCpuUsPerRun: number | null;
}

/** How a frame of a run's last event begins. */
export const COMPLETED = Buffer.from('{"type":"sequence_completed"');
const SUCCESS = Buffer.from('"success":true');

/**
 * The 5-step workload of the engine benchmark (ON, wait 1 s, ON, wait 1 s, OFF) of run `run`, on
 * an actuator of its own among 40,000: runs that shared one would be refused its lease (5640).
 */
function lifeDefinition(run: number): string {
  const command = (c: string) => ({ action: { type: 'actuator_command', esp_id: `ESP_LIFE_${run % 1000}`, gpio: Math.floor(run / 1000) % 40, command: c } });
  return JSON.stringify({ sequence_id: `life-${run}`, steps: [command('ON'), { delay_seconds: 1 }, command('ON'), { delay_seconds: 1 }, command('OFF')] });
}

/**
 * Whole runs of the 5-step workload: POSTs 64 at a time, then waits until every run has ended
 * (the server: its `sequence_completed` events on one WebSocket client; the floor server: its
 * count of finished runs). A warm-up of 500 runs comes first.
 */
export async function measureLife(url: string, pid: number, kind: 'server' | 'floor', options: { lifeRuns?: number }): Promise<LifeResult> {
  const runs = options.lifeRuns ?? 10_000;
  let ended = 0;
  let succeeded = 0;
  const ws = kind === 'server' ? new WebSocket(`${url.replace('http', 'ws')}/ws/realtime/bench-life`, { perMessageDeflate: false }) : null;
  if (ws) {
    await once(ws, 'open');
    ws.on('message', (data: Buffer) => {
      if (!data.subarray(0, COMPLETED.length).equals(COMPLETED)) return;
      ended++;
      if (data.includes(SUCCESS)) succeeded++;
    });
  }
  const endedSoFar = async () => (ws ? ended : ((await (await fetch(`${url}/api/v1/floor/finished`)).json()) as { finished: number }).finished);
  let run = 0;
  const post = async (count: number) => {
    let next = 0;
    const sender = async () => {
      while (next++ < count) {
        const response = await fetch(`${url}/api/v1/sequences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: lifeDefinition(run++) });
        if (response.status !== 202) throw new Error(`start answered ${response.status}: ${await response.text()}`);
        await response.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 64 }, sender));
  };
  const allEnded = async (count: number) => {
    while ((await endedSoFar()) < count) await sleep(50);
  };
  await post(500);
  await allEnded(500);
  const began = performance.now();
  const cpuBefore = cpuMs(pid);
  await post(runs);
  await allEnded(500 + runs);
  const cpuAfter = cpuMs(pid);
  ws?.terminate();
  return {
    runs,
    succeeded: ws ? succeeded : null,
    wallSeconds: (performance.now() - began) / 1000,
    serverCpuUsPerRun: cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) * 1000) / runs,
  };
}

/** User + system CPU time of a process in ms (Linux /proc), or null; with `mainThread`, of its main thread alone. */
export function cpuMs(pid: number, mainThread = false): number | null {
  try {
    const fields = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

