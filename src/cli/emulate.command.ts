/**
 * `sequencer emulate`: plays ESP32 nodes over MQTT (the device emulator) so a person can try the
 * `mqtt` driver end to end on one machine. Prints every command the nodes are told and every
 * answer, publishes readings of the sensors it is given (which follow its actuators), and runs
 * until SIGINT or SIGTERM, then returns 0. Bad arguments print why and return 2.
 */
import { DeviceEmulator, type EmulatedSensorSpec } from '../drivers/device-emulator.ts';
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
  sensor: {
    type: 'string',
    value: 'SPEC',
    multiple: true,
    help: 'a sensor to publish, ESP_1:34=35% (value and unit); add ,follows=ESP_1:5,rate=0.5 to move it while that actuator is ON, ,drift=-0.01 otherwise (per second); repeatable',
  },
  'sensor-interval-ms': { type: 'string', value: 'N', help: 'how often every sensor reports (default 5000; also at once after a change)' },
} as const;

const SPEC: CommandSpec<typeof FLAGS> = {
  name: 'emulate',
  summary: 'Play ESP32 nodes over MQTT for the mqtt driver, printing every command and answer.',
  flags: FLAGS,
  notes: [
    'Example: sequencer emulate --esp ESP_1 --sensor ESP_1:34=35%,follows=ESP_1:5,rate=0.5,drift=-0.01',
    '  (soil moisture on gpio 34 rises 0.5 %/s while the valve on gpio 5 is ON, and dries 0.01 %/s otherwise)',
    'Runs until SIGINT or SIGTERM (exit 0); bad arguments exit 2.',
  ].join('\n'),
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
  /** `--sensor`: the sensors to publish. */
  sensors: EmulatedSensorSpec[];
  sensorIntervalMs: number;
}

const NUMBER = /^-?\d+(?:\.\d+)?$/;

/** One `--sensor` value: `ESP_1:34=35%[,follows=ESP_1:5][,rate=0.5][,drift=-0.01]`. */
export function parseSensorSpec(text: string): EmulatedSensorSpec {
  const [head = '', ...options] = text.split(',').map((part) => part.trim());
  const match = /^([^/+#:=]+):(\d{1,3})=(-?\d+(?:\.\d+)?)(.*)$/.exec(head);
  if (!match) throw new UsageError(`--sensor '${text}': expected ESP_ID:GPIO=VALUE[UNIT], e.g. ESP_1:34=35%`);
  const [, espId = '', gpio = '', value = '', unit = ''] = match;
  if (Number(gpio) > 255) throw new UsageError(`--sensor '${text}': gpio ${gpio} is above 255`);
  const spec: EmulatedSensorSpec = { esp_id: espId, gpio: Number(gpio), setting: { value: Number(value), unit: unit.trim() || null } };
  let rate: number | undefined;
  for (const option of options) {
    const [key, raw = ''] = option.split('=');
    if (key === 'follows') {
      const target = /^([^/+#:=]+):(\d{1,2})$/.exec(raw);
      if (!target) throw new UsageError(`--sensor '${text}': follows=ESP_ID:GPIO names the actuator it follows`);
      spec.setting.follows = { esp_id: target[1] as string, gpio: Number(target[2]), rate_per_second: 0 };
    } else if ((key === 'rate' || key === 'drift') && NUMBER.test(raw)) {
      if (key === 'rate') rate = Number(raw);
      else spec.setting.drift_per_second = Number(raw);
    } else {
      throw new UsageError(`--sensor '${text}': '${option}' is not follows=ESP_ID:GPIO, rate=N or drift=N`);
    }
  }
  if (rate !== undefined && !spec.setting.follows) throw new UsageError(`--sensor '${text}': rate= needs follows=ESP_ID:GPIO`);
  if (spec.setting.follows) spec.setting.follows.rate_per_second = rate ?? 1;
  return spec;
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
  const sensors = (values.sensor ?? []).map(parseSensorSpec);
  const interval = flags.get('sensor-interval-ms') ?? '5000';
  if (!/^\d+$/.test(interval) || Number(interval) < 10 || Number(interval) > 3_600_000) {
    throw new UsageError(`--sensor-interval-ms must be an integer 10..3600000 (got '${interval}')`);
  }
  return {
    url,
    kaiserId,
    latencyMs: Number(latency),
    espIds,
    fail,
    silent,
    ...(values.firmware === true ? { firmware: true as const } : {}),
    sensors,
    sensorIntervalMs: Number(interval),
  };
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
    sensors: options.sensors,
    sensorIntervalMs: options.sensorIntervalMs,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  for (const id of options.fail) emulator.setBehaviour(id, { fail: true });
  for (const id of options.silent) emulator.setBehaviour(id, { silent: true });
  const behaviour = (id: string): string => (options.fail.includes(id) ? 'fails' : options.silent.includes(id) ? 'silent' : 'answers');
  const nodes = options.espIds.map((id) => `${id} (${behaviour(id)})`).join(', ');
  const style = options.firmware ? ', answering as the firmware (no correlation_id)' : '';
  process.stdout.write(`emulating ${nodes} on ${redactUrl(options.url)}, kaiser ${options.kaiserId}, latency ${options.latencyMs} ms${style}\n`);
  for (const { esp_id, gpio, setting } of options.sensors) {
    const follows = setting.follows ? `, ${setting.follows.rate_per_second}/s while ${setting.follows.esp_id}:${setting.follows.gpio} is ON` : '';
    process.stdout.write(`sensor ${esp_id}:${gpio} from ${setting.value}${setting.unit ?? ''}${follows}, drift ${setting.drift_per_second ?? 0}/s, every ${options.sensorIntervalMs} ms\n`);
  }

  // Until connected, the emulator reconnects every second and logs why it cannot.
  void emulator.start();
  const signal = await stopped;
  process.stdout.write(`emulator: ${signal}, stopping\n`);
  await emulator.close();
  return 0;
}
