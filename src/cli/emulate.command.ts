/**
 * `sequencer emulate`: plays ESP32 nodes over MQTT (the device emulator) so a person can try the
 * `mqtt` driver end to end on one machine. Prints every command the nodes are told and every
 * answer, and runs until SIGINT or SIGTERM, then returns 0. Bad arguments print why and return 2.
 */
import { DeviceEmulator } from '../drivers/device-emulator.ts';
import { redactUrl } from '../logging/redact-url.ts';
import { parseCommandArgs, UsageError, type Command, type CommandSpec, type ParsedArgs } from './command-line.ts';

const FLAGS = {
  'mqtt-url': { type: 'string', value: 'URL', help: 'broker to connect to (MQTT_URL; default mqtt://127.0.0.1:1883)' },
  esp: { type: 'string', value: 'IDS', help: 'comma-separated esp_ids of the nodes that answer normally' },
  fail: { type: 'string', value: 'IDS', help: 'nodes that answer success:false (played even when not in --esp)' },
  silent: { type: 'string', value: 'IDS', help: 'nodes that never answer (played even when not in --esp)' },
  'latency-ms': { type: 'string', value: 'N', help: 'answer delay of every node (default 20)' },
  'kaiser-id': { type: 'string', value: 'ID', help: 'kaiser_id topic segment (default god)' },
  firmware: { type: 'boolean', help: "answer exactly as AutomationOne's firmware does: no correlation_id, its messages" },
} as const;

const SPEC: CommandSpec<typeof FLAGS> = {
  name: 'emulate',
  summary: 'Play ESP32 nodes over MQTT for the mqtt driver, printing every command and answer.',
  flags: FLAGS,
  notes: 'Runs until SIGINT or SIGTERM (exit 0); bad arguments exit 2.',
};

/** `sequencer emulate`. */
export const command: Command<typeof FLAGS> = { spec: SPEC, run: emulate };

/** What `emulate` was asked to do. */
export interface EmulateOptions {
  url: string;
  kaiserId: string;
  latencyMs: number;
  /** Every node played: `--esp`, `--fail` and `--silent` together, in that order, without repeats. */
  espIds: string[];
  fail: string[];
  silent: string[];
  /** `--firmware`: answer as the firmware does (absent: echo the correlation id). */
  firmware?: true;
}

function ids(value: string | undefined, flag: string): string[] {
  if (value === undefined) return [];
  const list = value.split(',').map((id) => id.trim()).filter((id) => id !== '');
  // The same rule as the driver's: an esp_id is one topic level.
  const bad = list.find((id) => /[/+#]/.test(id));
  if (bad !== undefined) throw new UsageError(`--${flag}: '${bad}' cannot be an esp_id (no '/', '+' or '#')`);
  return list;
}

/** Parses `emulate`'s arguments (`--flag value` or `--flag=value`); throws UsageError with the reason. */
export function parseEmulateArgs(args: readonly string[], env: NodeJS.ProcessEnv): EmulateOptions {
  const parsed = parseCommandArgs(SPEC, args);
  if (typeof parsed === 'string') throw new UsageError(`--${parsed} is not an emulator setting`);
  return emulateOptions(parsed, env);
}

/** Checks parsed arguments and applies the defaults; throws UsageError with the reason. */
function emulateOptions({ values }: ParsedArgs<typeof FLAGS>, env: NodeJS.ProcessEnv): EmulateOptions {
  const flags = new Map(Object.entries(values).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
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
  return { url, kaiserId, latencyMs: Number(latency), espIds, fail, silent, ...(values.firmware === true ? { firmware: true as const } : {}) };
}

/** Runs the emulator until a signal; returns the exit code. */
async function emulate(args: ParsedArgs<typeof FLAGS>): Promise<number> {
  const options = emulateOptions(args, process.env);
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
    firmware: options.firmware === true,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  for (const id of options.fail) emulator.setBehaviour(id, { fail: true });
  for (const id of options.silent) emulator.setBehaviour(id, { silent: true });
  const behaviour = (id: string): string => (options.fail.includes(id) ? 'fails' : options.silent.includes(id) ? 'silent' : 'answers');
  const nodes = options.espIds.map((id) => `${id} (${behaviour(id)})`).join(', ');
  const style = options.firmware ? ', answering as the firmware (no correlation_id)' : '';
  process.stdout.write(`emulating ${nodes} on ${redactUrl(options.url)}, kaiser ${options.kaiserId}, latency ${options.latencyMs} ms${style}\n`);

  // Until connected, the emulator reconnects every second and logs why it cannot.
  void emulator.start();
  const signal = await stopped;
  process.stdout.write(`emulator: ${signal}, stopping\n`);
  await emulator.close();
  return 0;
}
