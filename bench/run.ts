/**
 * `npm run bench`: the engine benchmark, then the HTTP, store and MQTT benchmarks when their
 * files are present, server memory, recovery, the engine at 100,000 runs with 30 s waits
 * (`scale`), the console in Chromium and the closed loop (waiting runs fed readings), each with its
 * defaults. `--runs N` sets the engine's concurrent runs and `--batch N` its starts per turn of the
 * event loop (0: one synchronous loop); `--soak-seconds S` shortens the memory soak (default 600);
 * `--bench engine,store` picks which to run (`cluster`, which needs PostgreSQL at 127.0.0.1:5432,
 * only when named).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatEngineBench, runEngineBench } from './engine.bench.ts';
import { formatMemoryBench, runMemoryBench } from './memory.bench.ts';

/** The optional benchmarks: file, the function that runs it with defaults, its formatter if any. */
const OTHERS = [
  { name: 'http', file: 'http.bench.ts', run: 'runHttpBench', format: 'formatHttpBench' },
  { name: 'store', file: 'store.bench.ts', run: 'runStoreBench', format: 'formatStoreBench' },
  { name: 'store-growth', file: 'store-growth.bench.ts', run: 'runStoreGrowthBench', format: 'formatStoreGrowthBench' },
  { name: 'store-engine', file: 'store-engine.bench.ts', run: 'runStoreEngineBench', format: 'formatStoreEngineBench' },
  { name: 'mqtt', file: 'mqtt.bench.ts', run: 'runMqttBench', format: 'formatMqttBench' },
  { name: 'machine', file: 'machine.bench.ts', run: 'runMachineBench', format: 'formatMachineBench' },
  { name: 'startup', file: 'startup.bench.ts', run: 'runStartupBench', format: 'formatStartupBench' },
  { name: 'recovery', file: 'recovery.bench.ts', run: 'runRecoveryBench', format: 'formatRecoveryBench' },
  { name: 'console', file: 'console.bench.ts', run: 'runConsoleBench', format: 'formatConsoleBench' },
  { name: 'closed-loop', file: 'closed-loop.bench.ts', run: 'runClosedLoopBench', format: 'formatClosedLoopBench' },
  { name: 'cluster', file: 'cluster.bench.ts', run: 'runClusterBench', format: 'formatClusterBench' },
] as const;

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const chosen = new Set((argument('bench') ?? 'engine,http,store,store-growth,store-engine,mqtt,machine,startup,memory,recovery,scale,console,closed-loop').split(','));
const runs = Number(argument('runs'));
const batch = Number(argument('batch'));

if (chosen.has('engine')) {
  console.log('## engine\n');
  const options = { runs: Number.isFinite(runs) && runs > 0 ? runs : undefined, batch: argument('batch') !== undefined && batch >= 0 ? batch : undefined };
  console.log(formatEngineBench(await runEngineBench(options)));
}

if (chosen.has('memory')) {
  console.log('\n## memory\n');
  const soakSeconds = Number(argument('soak-seconds'));
  console.log(formatMemoryBench(await runMemoryBench({ soakSeconds: soakSeconds > 0 ? soakSeconds : undefined })));
}

if (chosen.has('scale')) {
  console.log('\n## scale: 100,000 concurrent runs, 30 s waits\n');
  console.log(formatEngineBench(await runEngineBench({ runs: 100_000, delayMs: 30_000 })));
}

for (const bench of OTHERS) {
  if (!chosen.has(bench.name)) continue;
  const path = join(import.meta.dirname, bench.file);
  if (!existsSync(path)) {
    console.log(`\n## ${bench.name}: skipped (bench/${bench.file} is not there)`);
    continue;
  }
  const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const run = module[bench.run];
  if (typeof run !== 'function') {
    console.log(`\n## ${bench.name}: skipped (bench/${bench.file} exports no ${bench.run})`);
    continue;
  }
  console.log(`\n## ${bench.name}\n`);
  const result: unknown = await run();
  const format = module[bench.format];
  console.log(typeof format === 'function' ? format(result) : JSON.stringify(result, null, 2));
}
