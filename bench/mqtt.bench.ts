/**
 * MQTT round-trip benchmark: the `mqtt` driver commanding emulated ESP32 nodes (latency 0)
 * through Mosquitto when it is installed, else through the embedded broker.
 * Run with `tsx bench/mqtt.bench.ts [--count N] [--window N] [--broker auto|mosquitto|embedded]`.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { DeviceEmulator } from '../src/drivers/device-emulator.ts';
import { startEmbeddedBroker } from '../src/drivers/embedded-broker.ts';
import { MqttDriver } from '../src/drivers/mqtt.driver.ts';
import { findMosquitto, MOSQUITTO_MISSING, startMosquitto } from '../tests/helpers/mosquitto.ts';

/** Options of the benchmark; all have defaults. */
export interface MqttBenchOptions {
  /** Commands measured. Default: 5000. */
  count?: number;
  /** Commands in flight at once. Default: 200. */
  window?: number;
  /** Emulated nodes the commands are spread over (5 GPIOs each). Default: 10. */
  espCount?: number;
  /** Which broker: `auto` takes Mosquitto when its binary is found. Default: `auto`. */
  broker?: 'auto' | 'mosquitto' | 'embedded';
}

/** What one benchmark run measured. */
export interface MqttBenchResult {
  broker: string;
  count: number;
  window: number;
  seconds: number;
  commandsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface RunningBroker {
  name: string;
  url: string;
  close(): Promise<void>;
}

async function startBroker(choice: MqttBenchOptions['broker']): Promise<RunningBroker> {
  const bin = choice === 'embedded' ? null : findMosquitto();
  if (bin) {
    const mosquitto = await startMosquitto(bin);
    return { name: `mosquitto ${mosquitto.version}`, url: mosquitto.url, close: () => mosquitto.close() };
  }
  if (choice === 'mosquitto') throw new Error(MOSQUITTO_MISSING);
  const broker = await startEmbeddedBroker({ port: 0 });
  return { name: 'embedded (aedes)', url: broker.url, close: () => broker.close() };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Sends `count` commands, `window` at a time, and measures throughput and round-trip times. */
export async function runMqttBench(options: MqttBenchOptions = {}): Promise<MqttBenchResult> {
  const count = options.count ?? 5000;
  const window = options.window ?? 200;
  const espIds = Array.from({ length: options.espCount ?? 10 }, (_, i) => `ESP_BENCH_${i}`);
  const broker = await startBroker(options.broker ?? 'auto');
  const emulator = new DeviceEmulator({ url: broker.url, espIds, latencyMs: 0 });
  const driver = new MqttDriver({ url: broker.url });
  let sequence = 0;

  const burst = async (total: number, rtts: number[]): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        const i = next++;
        const began = performance.now();
        const answer = await driver.send(
          {
            esp_id: espIds[i % espIds.length],
            gpio: 10 + (Math.floor(i / espIds.length) % 5),
            command: i % 2 === 0 ? 'ON' : 'OFF',
            value: i % 2 === 0 ? 1 : 0,
            duration_seconds: 0,
            correlation_id: `bench-${++sequence}`,
          },
          // One signal per attempt, as the executor does; nothing aborts it here.
          { signal: new AbortController().signal, timeoutMs: 30_000 },
        );
        if (!answer.success) throw new Error(`command ${i} failed: ${answer.message}`);
        rtts.push(performance.now() - began);
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, total) }, worker));
  };

  try {
    await emulator.start();
    await driver.start();
    await driver.whenConnected();
    // Warm the JIT and the connections so the measurement sees the steady state.
    await burst(Math.min(1000, count), []);
    const rtts: number[] = [];
    const began = performance.now();
    await burst(count, rtts);
    const seconds = (performance.now() - began) / 1000;
    rtts.sort((a, b) => a - b);
    return {
      broker: broker.name,
      count,
      window,
      seconds,
      commandsPerSecond: count / seconds,
      p50Ms: percentile(rtts, 50),
      p99Ms: percentile(rtts, 99),
      maxMs: rtts[rtts.length - 1],
    };
  } finally {
    await driver.close();
    await emulator.close();
    await broker.close();
  }
}

/** The result as a small Markdown table. */
export function formatMqttBench(r: MqttBenchResult): string {
  return [
    '| broker | commands | in flight | commands/s | p50 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|---:|---:|---:|',
    `| ${r.broker} | ${r.count} | ${r.window} | ${Math.round(r.commandsPerSecond)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.maxMs.toFixed(2)} |`,
  ].join('\n');
}

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runMqttBench({
    count: argument('count') ? Number(argument('count')) : undefined,
    window: argument('window') ? Number(argument('window')) : undefined,
    broker: argument('broker') as MqttBenchOptions['broker'],
  });
  console.log(formatMqttBench(result));
}
