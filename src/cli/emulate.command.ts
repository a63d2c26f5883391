/**
 * `sequencer emulate`: plays ESP32 nodes over MQTT (the device emulator) so a person can try the
 * `mqtt` driver end to end on one machine. Prints every command the nodes are told and every
 * answer, and runs until SIGINT or SIGTERM, then returns 0. Bad arguments print why and return 2.
 */
import { DeviceEmulator } from '../drivers/device-emulator.ts';

/** The flags `emulate` understands. */
export const EMULATE_USAGE = `Usage: sequencer emulate --esp ESP_1,ESP_2 [options]

  --mqtt-url URL        broker to connect to (MQTT_URL; default mqtt://127.0.0.1:1883)
  --esp IDS             comma-separated esp_ids of the nodes that answer normally
  --fail IDS            nodes that answer success:false (played even when not in --esp)
  --silent IDS          nodes that never answer (played even when not in --esp)
  --latency-ms N        answer delay of every node (default 20)
  --kaiser-id ID        kaiser_id topic segment (default god)
`;

/** What `emulate` was asked to do. */
export interface EmulateOptions {
  url: string;
  kaiserId: string;
  latencyMs: number;
  /** Every node played: `--esp`, `--fail` and `--silent` together, in that order, without repeats. */
  espIds: string[];
  fail: string[];
  silent: string[];
}

const FLAGS = new Set(['mqtt-url', 'esp', 'fail', 'silent', 'latency-ms', 'kaiser-id']);

/** Arguments that cannot be used; the message says which flag and why. */
class UsageError extends Error {}

function ids(value: string | undefined, flag: string): string[] {
  if (value === undefined) return [];
  const list = value.split(',').map((id) => id.trim()).filter((id) => id !== '');
  // The same rule as the driver's: an esp_id is one topic level.
  const bad = list.find((id) => /[/+#]/.test(id));
  if (bad !== undefined) throw new UsageError(`--${flag}: '${bad}' cannot be an esp_id (no '/', '+' or '#')`);
  return list;
}

/** Parses `emulate`'s arguments (`--flag value` or `--flag=value`); throws with the reason. */
export function parseEmulateArgs(args: readonly string[], env: NodeJS.ProcessEnv): EmulateOptions {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('--')) throw new UsageError(`Unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (!FLAGS.has(name)) throw new UsageError(`Unknown option --${name}`);
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined || (eq === -1 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  const url = flags.get('mqtt-url') ?? (env.MQTT_URL || 'mqtt://127.0.0.1:1883');
  if (!URL.canParse(url) || !['mqtt:', 'mqtts:'].includes(new URL(url).protocol)) {
    throw new UsageError(`--mqtt-url must be a URL such as mqtt://127.0.0.1:1883 (got '${url}')`);
  }
  const latency = flags.get('latency-ms') ?? '20';
  if (!/^\d+$/.test(latency) || Number(latency) > 600_000) throw new UsageError(`--latency-ms must be an integer 0..600000 (got '${latency}')`);
  const kaiserId = flags.get('kaiser-id') ?? 'god';
  if (kaiserId === '' || /[/+#]/.test(kaiserId)) throw new UsageError(`--kaiser-id '${kaiserId}' cannot be a topic level`);
  const fail = ids(flags.get('fail'), 'fail');
  const silent = ids(flags.get('silent'), 'silent');
  const espIds = [...new Set([...ids(flags.get('esp'), 'esp'), ...fail, ...silent])];
  if (espIds.length === 0) throw new UsageError('no node to play: give --esp ESP_1,ESP_2 (or --fail / --silent)');
  const both = fail.find((id) => silent.includes(id));
  if (both !== undefined) throw new UsageError(`${both} cannot be in both --fail and --silent`);
  return { url, kaiserId, latencyMs: Number(latency), espIds, fail, silent };
}

/** Runs the emulator until a signal; returns the exit code. */
export async function emulateCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(EMULATE_USAGE);
    return 0;
  }
  let options: EmulateOptions;
  try {
    options = parseEmulateArgs(args, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`sequencer emulate: ${error.message}\n${EMULATE_USAGE}`);
    return 2;
  }
  // Handlers first: a person may give up while the broker is still unreachable.
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const emulator = new DeviceEmulator({
    url: options.url,
    espIds: options.espIds,
    kaiserId: options.kaiserId,
    latencyMs: options.latencyMs,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  for (const id of options.fail) emulator.setBehaviour(id, { fail: true });
  for (const id of options.silent) emulator.setBehaviour(id, { silent: true });
  const behaviour = (id: string): string => (options.fail.includes(id) ? 'fails' : options.silent.includes(id) ? 'silent' : 'answers');
  const nodes = options.espIds.map((id) => `${id} (${behaviour(id)})`).join(', ');
  process.stdout.write(`emulating ${nodes} on ${redact(options.url)}, kaiser ${options.kaiserId}, latency ${options.latencyMs} ms\n`);

  // Until connected, the emulator reconnects every second and logs why it cannot.
  void emulator.start();
  const signal = await stopped;
  process.stdout.write(`emulator: ${signal}, stopping\n`);
  await emulator.close();
  return 0;
}

/** The URL without credentials, for what the terminal shows. */
function redact(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.toString().replace(/\/$/, '');
}
