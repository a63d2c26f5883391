/**
 * Start-up: the time from a command to its `listening on` line, and the CPU its process group had
 * used by then (live processes plus the children they reaped, so npm, the build and the server all
 * count). CPU moves less than the wall time when other work shares the cores.
 *
 *   npx tsx bench/startup.bench.ts [--rounds 7]      # or: npm run bench -- --bench startup
 *
 * Linux only (it reads /proc).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_FLAGS } from './node-flags.ts';
import { median } from './stats.ts';

const ROOT = join(import.meta.dirname, '..');
/** Clock ticks per second of /proc's CPU fields (CLK_TCK on Linux). */
const TICKS_PER_SECOND = 100;

/** The ways to start a server that are compared. */
const STARTS: { name: string; command: string[] }[] = [
  { name: 'npm start (build, then the bundle)', command: ['npm', 'start', '--', '--port', '0', '--db', ':memory:'] },
  { name: 'node dist/server/sequencer.js serve', command: ['node', ...NODE_FLAGS, 'dist/server/sequencer.js', 'serve', '--port', '0', '--db', ':memory:'] },
  { name: 'node --import tsx src/cli/main.ts serve (before)', command: ['node', ...NODE_FLAGS, '--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--db', ':memory:'] },
];

/** Medians of one way to start. */
export interface StartupResult {
  name: string;
  wallMs: number;
  cpuMs: number;
  rounds: number;
}

/** CPU milliseconds of every process in a process group, with the children they already reaped. */
function groupCpuMs(pgid: number): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the command name: state ppid pgrp ... utime(11) stime(12) cutime(13) cstime(14).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    if (fields[2] === pgid) ticks += (fields[11] ?? 0) + (fields[12] ?? 0) + (fields[13] ?? 0) + (fields[14] ?? 0);
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

async function startOnce(command: string[]): Promise<{ wallMs: number; cpuMs: number }> {
  const began = performance.now();
  const child = spawn(command[0] as string, command.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${command.join(' ')} exited with ${code} before listening`)));
  });
  const wallMs = performance.now() - began;
  const cpuMs = groupCpuMs(child.pid as number);
  process.kill(-(child.pid as number), 'SIGTERM');
  await exited;
  return { wallMs, cpuMs };
}

/** Starts each way `rounds` times, one after the other, and returns the medians. */
export async function runStartupBench({ rounds = 7 }: { rounds?: number } = {}): Promise<StartupResult[]> {
  const samples = STARTS.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  // Interleaved, so a change in the machine's load falls on every way alike.
  for (let round = 0; round < rounds; round++) {
    for (const [index, start] of STARTS.entries()) {
      const { wallMs, cpuMs } = await startOnce(start.command);
      samples[index]?.wall.push(wallMs);
      samples[index]?.cpu.push(cpuMs);
    }
  }
  return STARTS.map((start, index) => ({ name: start.name, wallMs: median(samples[index]?.wall ?? []), cpuMs: median(samples[index]?.cpu ?? []), rounds }));
}

/** A table of the medians. */
export function formatStartupBench(results: StartupResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const lines = results.map((r) => `${r.name.padEnd(width)}  ${r.wallMs.toFixed(0).padStart(6)} ms  ${r.cpuMs.toFixed(0).padStart(6)} ms CPU`);
  return [`${'start'.padEnd(width)}  to listening (median of ${results[0]?.rounds})`, ...lines].join('\n');
}

if (import.meta.filename === process.argv[1]) {
  const at = process.argv.indexOf('--rounds');
  const rounds = at >= 0 ? Number(process.argv[at + 1]) : undefined;
  console.log(formatStartupBench(await runStartupBench({ rounds })));
}
