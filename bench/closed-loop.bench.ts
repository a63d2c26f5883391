/**
 * Closed-loop benchmark (SPEC 2.1): 10,000 runs waiting on 1,000 sensors (10 runs per sensor,
 * each `wait_for` its sensor above its own threshold, then a long delay), fed readings at
 * 5,000 per second through the sensor table, in this process (engine with its in-memory store, sim
 * driver answering at once). Two phases: readings that satisfy no run (every reading still wakes
 * the 10 runs of its sensor to be evaluated), then readings each of which satisfies exactly one
 * run. Measured: CPU per reading in each phase, the time from when a reading was due to its run's
 * next step (`sequence_step` starting; queueing behind other readings included), and the heap each
 * waiting run holds (after a forced GC).
 * `npx tsx bench/closed-loop.bench.ts [--runs N] [--sensors N] [--rate N]`.
 */
import { pathToFileURL } from 'node:url';
import { SimDriver } from '../src/drivers/sim.driver.ts';
import { Engine } from '../src/engine/engine.ts';
import { builtinExecutors } from '../src/executors/builtin-executors.ts';
import { SensorTable } from '../src/sensors/sensor-table.ts';
import { gcFunction } from './engine.bench.ts';

/** What to measure; every field has a default. */
export interface ClosedLoopBenchOptions {
  /** Waiting runs. Default 10,000. */
  runs?: number;
  /** Sensors they wait on (runs / sensors per sensor). Default 1,000. */
  sensors?: number;
  /** Readings per second. Default 5,000. */
  rate?: number;
  /** Length of the phase of readings that satisfy nothing. Default 4 s. */
  quietSeconds?: number;
}

/** The numbers. */
export interface ClosedLoopBenchResult {
  runs: number;
  sensors: number;
  rate: number;
  /** Readings per second actually delivered in each phase. */
  quietRate: number;
  wakingRate: number;
  /** CPU (user + system) per reading, µs. */
  quietCpuUs: number;
  wakingCpuUs: number;
  /** Reading to its run's next step, ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Heap each waiting run holds, bytes. */
  heapPerRunBytes: number;
  /** Runs whose wait ended (must equal `runs`). */
  woken: number;
}

const TICK_MS = 10;
const nextTick = () => new Promise((resolve) => setTimeout(resolve, TICK_MS));

/** Runs the benchmark. */
export async function runClosedLoopBench(options: ClosedLoopBenchOptions = {}): Promise<ClosedLoopBenchResult> {
  const runs = options.runs ?? 10_000;
  const sensorCount = options.sensors ?? 1000;
  const rate = options.rate ?? 5000;
  const quietSeconds = options.quietSeconds ?? 4;
  const perSensor = Math.ceil(runs / sensorCount);
  const gc = gcFunction();
  const sensors = new SensorTable();
  const driver = new SimDriver(0);
  const engine = new Engine({ executors: builtinExecutors(driver), sensors, limits: { maxConcurrent: runs, maxDurationSeconds: 86_400 } });
  const espOf = (sensor: number) => `ESP_${Math.floor(sensor / 10)}`;
  const gpioOf = (sensor: number) => 30 + (sensor % 10);
  const read = (sensor: number, value: number) =>
    sensors.update({ esp_id: espOf(sensor), gpio: gpioOf(sensor), value, unit: '%', quality: 'good', at: Date.now() });

  // Run i waits on sensor i % sensors for a reading above 100 + floor(i / sensors).
  const runIds: string[] = [];
  const runIndex = new Map<string, number>();
  const publishedAt = new Float64Array(runs);
  const latencies: number[] = [];
  let woken = 0;
  engine.events.subscribe((event) => {
    if (event.type === 'sequence_step') {
      const data = event.data as { run_id: string; step: number; status: string };
      if (data.step !== 1 || data.status !== 'starting') return;
      const index = runIndex.get(data.run_id);
      if (index === undefined) return;
      woken++;
      if (publishedAt[index]! > 0) latencies.push(performance.now() - publishedAt[index]!);
    }
  });

  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < runs; i++) {
    const sensor = i % sensorCount;
    const { run_id } = engine.start({
      sequence_id: `loop-${i}`,
      max_duration_seconds: 86_400,
      steps: [
        { name: 'Until wet', wait_for: { condition: { sensor: { esp_id: espOf(sensor), gpio: gpioOf(sensor) }, above: 100 + Math.floor(i / sensorCount), max_age_seconds: 3600 }, timeout_seconds: 80_000 } },
        // The next step: a long delay, so a woken run stays (its end is not what is measured).
        { name: 'Soak', delay_seconds: 3600 },
      ],
    });
    runIds.push(run_id);
    runIndex.set(run_id, i);
    if (i % 500 === 499) await nextTick();
  }
  await nextTick();
  gc?.();
  const heapPerRunBytes = (process.memoryUsage().heapUsed - heapBefore) / runs;

  /** Publishes `total` readings at `rate`, `value(n)` choosing each; returns readings per second delivered and CPU µs per reading. */
  const stream = async (total: number, reading: (n: number, scheduledAt: number) => void): Promise<{ perSecond: number; cpuUs: number }> => {
    const cpu = process.cpuUsage();
    const started = performance.now();
    let n = 0;
    while (n < total) {
      // Every reading whose time has come, as a broker would hand them over: one that comes late was queued.
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
      for (; n < due; n++) reading(n, started + (n * 1000) / rate);
      await nextTick();
    }
    const used = process.cpuUsage(cpu);
    return { perSecond: total / ((performance.now() - started) / 1000), cpuUs: (used.user + used.system) / total };
  };

  // Quiet: every reading is below every threshold; each still wakes its sensor's runs to be evaluated.
  const quiet = await stream(rate * quietSeconds, (n) => read(n % sensorCount, 50 + (n % 7)));
  // Waking: round r satisfies, on each sensor, the run whose threshold is 100 + r (and no other that waits).
  const waking = await stream(runs, (n, scheduledAt) => {
    const sensor = n % sensorCount;
    const round = Math.floor(n / sensorCount);
    const index = round * sensorCount + sensor;
    if (index >= runs) return;
    // Latency counts from when the reading was due, so time it spent queued behind others counts.
    publishedAt[index] = scheduledAt;
    read(sensor, 100.5 + round);
  });
  for (let i = 0; i < 100 && woken < runs; i++) await nextTick();
  await engine.close();
  await driver.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return {
    runs,
    sensors: sensorCount,
    rate,
    quietRate: quiet.perSecond,
    wakingRate: waking.perSecond,
    quietCpuUs: quiet.cpuUs,
    wakingCpuUs: waking.cpuUs,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: latencies[latencies.length - 1] ?? Number.NaN,
    heapPerRunBytes,
    woken,
  };
}

/** The result as a Markdown table. */
export function formatClosedLoopBench(r: ClosedLoopBenchResult): string {
  return [
    `${r.runs} runs waiting on ${r.sensors} sensors (${r.runs / r.sensors} per sensor), readings at ${r.rate}/s; ${r.woken} runs woken to their next step`,
    '',
    '| | value |',
    '|---|---:|',
    `| CPU per reading, none satisfied (${r.quietRate.toFixed(0)}/s delivered) | ${r.quietCpuUs.toFixed(1)} µs |`,
    `| CPU per reading, each satisfying one run (${r.wakingRate.toFixed(0)}/s delivered) | ${r.wakingCpuUs.toFixed(1)} µs |`,
    `| reading to the run's next step, p50 / p99 / max | ${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)} / ${r.maxMs.toFixed(2)} ms |`,
    `| heap per waiting run | ${(r.heapPerRunBytes / 1024).toFixed(1)} KiB |`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string) => {
    const at = process.argv.indexOf(`--${name}`);
    const value = at >= 0 ? Number(process.argv[at + 1]) : Number.NaN;
    return Number.isFinite(value) && value > 0 ? value : undefined;
  };
  console.log(formatClosedLoopBench(await runClosedLoopBench({ runs: arg('runs'), sensors: arg('sensors'), rate: arg('rate') })));
}
