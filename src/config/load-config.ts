/**
 * Resolves the server configuration of SPEC 12 once at start-up: defaults, then the `--config`
 * file, then the environment, then the flags (each wins over the ones before). Tokens add up from
 * every source. Anything wrong stops the start with a `ConfigError` that names the flag, variable
 * or key path, including the one rule that matters most: no token, no address but loopback.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { formatPath } from '../domain/validate-definition.ts';
import { ConfigFileSchema, TokensFileSchema, type ConfigFile } from './config-file.schema.ts';
import { defaultConfig, type ServerConfig, type TokenConfig } from './server-config.ts';

/** A configuration that cannot be used; the message says which flag, variable or key and why. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Apply = (config: ServerConfig, value: string, source: string) => void;

interface Option {
  /** Environment variable that sets it too. */
  env?: string;
  /** A switch: present means true, no value follows. */
  boolean?: boolean;
  apply: Apply;
}

const OPTIONS: Record<string, Option> = {
  port: { env: 'PORT', apply: (c, v, s) => (c.port = integer(v, s, 0, 65_535)) },
  host: { env: 'HOST', apply: (c, v, s) => (c.host = nonEmpty(v, s)) },
  db: { env: 'SEQUENCER_DB', apply: (c, v, s) => (c.db = nonEmpty(v, s)) },
  driver: { env: 'SEQUENCER_DRIVER', apply: (c, v, s) => (c.driver = oneOf(v, s, ['sim', 'mqtt'] as const)) },
  'mqtt-url': { env: 'MQTT_URL', apply: (c, v, s) => (c.mqttUrl = url(v, s)) },
  'mqtt-port': { apply: (c, v, s) => (c.mqttPort = integer(v, s, 0, 65_535)) },
  token: { env: 'SEQUENCER_TOKEN', apply: (c, v, s) => addTokens(c, [{ token: token(v, s), role: 'operator' }]) },
  'tokens-file': { apply: (c, v) => addTokens(c, readTokensFile(v)) },
  recovery: { apply: (c, v, s) => (c.recovery = oneOf(v, s, ['resume', 'abort'] as const)) },
  'max-concurrent': { env: 'SEQUENCER_MAX_CONCURRENT', apply: (c, v, s) => (c.limits.max_concurrent = integer(v, s, 1, 1_000_000)) },
  'sim-latency-ms': { apply: (c, v, s) => (c.simLatencyMs = integer(v, s, 0, 600_000)) },
  inspect: { boolean: true, apply: (c, v, s) => (c.inspect = oneOf(v, s, ['true', 'false'] as const) === 'true') },
  'inspect-port': { apply: (c, v, s) => (c.inspectPort = integer(v, s, 0, 65_535)) },
  config: { apply: () => {} },
};

/** The flags `serve` understands, for its usage text. */
export const SERVE_USAGE = `Usage: sequencer serve [options]

  --port N              port (PORT; default 8000; 0 picks a free one)
  --host ADDR           address (HOST; default 127.0.0.1; another address needs a token)
  --db FILE             SQLite file or :memory: (SEQUENCER_DB; default ./data/sequencer.db)
  --driver sim|mqtt     actuator driver (SEQUENCER_DRIVER; default sim)
  --mqtt-url URL        external broker (MQTT_URL; default: embedded broker)
  --mqtt-port N         port of the embedded broker (default 1883)
  --token TOKEN         operator token (SEQUENCER_TOKEN)
  --tokens-file FILE    JSON array of {"token", "role": "viewer"|"operator"}
  --recovery resume|abort   unfinished runs after a restart (default resume)
  --max-concurrent N    runs at once (SEQUENCER_MAX_CONCURRENT; default 1000)
  --sim-latency-ms N    answer delay of simulated nodes (default 20)
  --inspect             start the Stately inspector relay
  --inspect-port N      port of the inspector relay (default 8080)
  --config FILE         JSON file: limits, rate_limits, safety, tokens, mqtt
`;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** True for an address only this machine can reach. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Resolves the configuration from `serve`'s arguments and the environment. Throws ConfigError. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ServerConfig {
  const flags = parseFlags(argv);
  const config = defaultConfig();
  const file = flags.get('config');
  if (file !== undefined) applyFile(config, readConfigFile(file), file);
  for (const option of Object.values(OPTIONS)) {
    const value = option.env ? env[option.env] : undefined;
    if (value !== undefined && value !== '') option.apply(config, value, option.env as string);
  }
  for (const [name, value] of flags) (OPTIONS[name] as Option).apply(config, value, `--${name}`);
  assertReachableSafely(config);
  return config;
}

/** Refuses a non-loopback address without a token (SPEC 7). */
export function assertReachableSafely(config: Pick<ServerConfig, 'host' | 'tokens'>): void {
  if (config.tokens.length === 0 && !isLoopback(config.host)) {
    throw new ConfigError(
      `Refusing to listen on ${config.host} without a token: anyone who can reach it could control actuators. ` +
        'Set --token, SEQUENCER_TOKEN, --tokens-file or "tokens" in --config, or listen on 127.0.0.1.',
    );
  }
}

function parseFlags(argv: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new ConfigError(`Unexpected argument '${arg}' (see --help)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const option = OPTIONS[name];
    if (!option) throw new ConfigError(`Unknown option --${name} (see --help)`);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (value === undefined && option.boolean) value = 'true';
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new ConfigError(`--${name} needs a value`);
      value = next;
      i++;
    }
    flags.set(name, value);
  }
  return flags;
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`Cannot read ${what} ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${what} ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Every zod issue as `path: message`, unknown keys one by one under their own path. */
function describeIssues(error: z.ZodError, base: string): string {
  return error.issues
    .flatMap((issue) => {
      const at = formatPath(base === '' ? issue.path : [base, ...issue.path]);
      if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `${formatPath([...(at ? [at] : []), key])}: unknown key`);
      return [`${at || '(root)'}: ${issue.message}`];
    })
    .join('; ');
}

/** Reads and validates a `--config` file. */
export function readConfigFile(path: string): ConfigFile {
  const parsed = ConfigFileSchema.safeParse(readJson(path, 'config file'));
  if (!parsed.success) throw new ConfigError(`Invalid config file ${path}: ${describeIssues(parsed.error, '')}`);
  return parsed.data;
}

function readTokensFile(path: string): TokenConfig[] {
  const parsed = TokensFileSchema.safeParse(readJson(path, 'tokens file'));
  if (!parsed.success) throw new ConfigError(`Invalid tokens file ${path}: ${describeIssues(parsed.error, 'tokens')}`);
  return parsed.data;
}

function applyFile(config: ServerConfig, file: ConfigFile, path: string): void {
  const defined = <T extends object>(o: T | undefined) => Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined));
  Object.assign(config.limits, defined(file.limits));
  Object.assign(config.rate_limits, defined(file.rate_limits));
  if (file.safety) config.safety = file.safety;
  if (file.tokens) addTokens(config, file.tokens);
  const mqtt = file.mqtt;
  if (mqtt) {
    if (mqtt.url !== undefined) config.mqttUrl = url(mqtt.url, `mqtt.url in ${path}`);
    if (mqtt.port !== undefined) config.mqttPort = mqtt.port;
    config.mqtt = {
      ...config.mqtt,
      ...defined({
        username: mqtt.username,
        password: mqtt.password,
        caFile: mqtt.ca_file,
        certFile: mqtt.cert_file,
        keyFile: mqtt.key_file,
        clientId: mqtt.client_id,
        kaiserId: mqtt.kaiser_id,
      }),
    };
  }
}

/** Adds tokens; a token given again takes its latest role. */
function addTokens(config: ServerConfig, tokens: readonly TokenConfig[]): void {
  for (const next of tokens) {
    config.tokens = [...config.tokens.filter((t) => t.token !== next.token), { token: next.token, role: next.role }];
  }
}

function integer(value: string, source: string, min: number, max: number): number {
  const n = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${source} must be an integer from ${min} to ${max} (got '${value}')`);
  }
  return n;
}

function nonEmpty(value: string, source: string): string {
  if (value.trim() === '') throw new ConfigError(`${source} must not be empty`);
  return value;
}

function token(value: string, source: string): string {
  if (!/^\S+$/.test(value)) throw new ConfigError(`${source} must be a non-empty token without whitespace`);
  return value;
}

function oneOf<const T extends readonly string[]>(value: string, source: string, allowed: T): T[number] {
  if (!allowed.includes(value)) throw new ConfigError(`${source} must be one of ${allowed.join(', ')} (got '${value}')`);
  return value as T[number];
}

function url(value: string, source: string): string {
  try {
    new URL(value);
  } catch {
    throw new ConfigError(`${source} must be a URL such as mqtt://host:1883 (got '${value}')`);
  }
  return value;
}
