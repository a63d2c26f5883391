/**
 * Resolves the server configuration of SPEC 12 once at start-up: defaults, then the `--config`
 * file, then the environment, then the flags (each wins over the ones before). Tokens add up from
 * every source. Anything wrong stops the start with a `ConfigError` that names the flag, variable
 * or key path, including the one rule that matters most: no token, no address but loopback.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { parseCommandArgs, UsageError, type CommandSpec, type FlagSpec, type FlagSpecs, type ParsedArgs } from '../cli/command-line.ts';
import { formatPath } from '../domain/validate-definition.ts';
import { LOG_LEVELS } from '../logging/logger.ts';
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
  /** How the flag is parsed and shown in `serve --help`. */
  flag: FlagSpec;
  apply: Apply;
}

const OPTIONS: Record<string, Option> = {
  port: { env: 'PORT', flag: text('N', 'port (PORT; default 8000; 0 picks a free one)'), apply: (c, v, s) => (c.port = integer(v, s, 0, 65_535)) },
  host: {
    env: 'HOST',
    flag: text('ADDR', 'address (HOST; default 127.0.0.1; another address needs a token)'),
    apply: (c, v, s) => (c.host = nonEmpty(v, s)),
  },
  db: {
    env: 'SEQUENCER_DB',
    flag: text('FILE|URL', 'SQLite file, :memory:, or postgres://... shared by a cluster (SEQUENCER_DB; default ./data/sequencer.db)'),
    apply: (c, v, s) => (c.db = nonEmpty(v, s)),
  },
  'node-id': {
    env: 'SEQUENCER_NODE_ID',
    flag: text('ID', 'this node in a PostgreSQL cluster (SEQUENCER_NODE_ID; default host name:port)'),
    apply: (c, v, s) => (c.nodeId = token(v, s)),
  },
  driver: {
    env: 'SEQUENCER_DRIVER',
    flag: text('sim|mqtt', 'actuator driver (SEQUENCER_DRIVER; default sim)'),
    apply: (c, v, s) => (c.driver = oneOf(v, s, ['sim', 'mqtt'] as const)),
  },
  'mqtt-url': { env: 'MQTT_URL', flag: text('URL', 'external broker (MQTT_URL; default: embedded broker)'), apply: (c, v, s) => (c.mqttUrl = url(v, s)) },
  'mqtt-port': { flag: text('N', 'port of the embedded broker (default 1883)'), apply: (c, v, s) => (c.mqttPort = integer(v, s, 0, 65_535)) },
  token: {
    env: 'SEQUENCER_TOKEN',
    flag: { ...text('TOKEN', 'operator token (SEQUENCER_TOKEN); may be given more than once'), multiple: true },
    apply: (c, v, s) => addTokens(c, [{ token: token(v, s), role: 'operator' }]),
  },
  'tokens-file': { flag: text('FILE', 'JSON array of {"token", "role": "viewer"|"operator"}'), apply: (c, v) => addTokens(c, readTokensFile(v)) },
  recovery: {
    flag: text('resume|abort', 'unfinished runs after a restart (default resume)'),
    apply: (c, v, s) => (c.recovery = oneOf(v, s, ['resume', 'abort'] as const)),
  },
  'max-concurrent': {
    env: 'SEQUENCER_MAX_CONCURRENT',
    flag: text('N', 'runs at once (SEQUENCER_MAX_CONCURRENT; default 1000)'),
    apply: (c, v, s) => (c.limits.max_concurrent = integer(v, s, 1, 1_000_000)),
  },
  'sim-latency-ms': { flag: text('N', 'answer delay of simulated nodes (default 20)'), apply: (c, v, s) => (c.simLatencyMs = integer(v, s, 0, 600_000)) },
  inspect: { flag: { type: 'boolean', help: 'start the Stately inspector relay' }, apply: (c) => (c.inspect = true) },
  'inspect-port': { flag: text('N', 'port of the inspector relay (default 8080)'), apply: (c, v, s) => (c.inspectPort = integer(v, s, 0, 65_535)) },
  'log-level': {
    env: 'LOG_LEVEL',
    flag: text('LEVEL', `log lines on stderr from this level on: ${LOG_LEVELS.join(', ')} (LOG_LEVEL; default info)`),
    apply: (c, v, s) => (c.logLevel = oneOf(v, s, LOG_LEVELS)),
  },
  config: { flag: text('FILE', 'JSON file: limits, rate_limits, safety, tokens, mqtt (flags and environment win)'), apply: () => {} },
};

function text(value: string, help: string): FlagSpec {
  return { type: 'string', value, help };
}

/** `sequencer serve`: its flags are the configuration's. */
export const SERVE_SPEC: CommandSpec = {
  name: 'serve',
  summary: 'Run the server (the default command).',
  flags: Object.fromEntries(Object.entries(OPTIONS).map(([name, option]) => [name, option.flag])),
  notes: 'Exit codes: 0 after SIGINT or SIGTERM, 1 cannot start, 2 bad configuration, 3..8 unusable database (docs/operations.md).',
};

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** True for an address only this machine can reach. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Resolves the configuration from `serve`'s arguments and the environment. Throws ConfigError. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ServerConfig {
  let parsed: ReturnType<typeof parseCommandArgs>;
  try {
    parsed = parseCommandArgs(SERVE_SPEC, argv);
  } catch (error) {
    if (error instanceof UsageError) throw new ConfigError(`${error.message} (see --help)`);
    throw error;
  }
  return configFromFlags(typeof parsed === 'string' ? {} : parsed.values, env);
}

/** Resolves the configuration from `serve`'s parsed flags and the environment. Throws ConfigError. */
export function configFromFlags(flags: ParsedArgs<FlagSpecs>['values'], env: NodeJS.ProcessEnv): ServerConfig {
  const config = defaultConfig();
  const file = flags.config;
  if (typeof file === 'string') applyFile(config, readConfigFile(file), file);
  for (const option of Object.values(OPTIONS)) {
    const value = option.env ? env[option.env] : undefined;
    if (value !== undefined && value !== '') option.apply(config, value, option.env as string);
  }
  for (const [name, option] of Object.entries(OPTIONS)) {
    const given = flags[name];
    if (given === undefined) continue;
    for (const value of Array.isArray(given) ? given : [String(given)]) option.apply(config, value, `--${name}`);
  }
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
  if (file.node_id !== undefined) config.nodeId = file.node_id;
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
        heartbeatIntervalSeconds: mqtt.heartbeat_interval_seconds,
        missedHeartbeats: mqtt.missed_heartbeats,
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
