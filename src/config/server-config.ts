/**
 * The resolved configuration of a Sequencer server (SPEC section 12): one interface, every field
 * with its default, resolved once at start-up from flags, environment and the `--config` file.
 */
import { hostname } from 'node:os';
import type { LogLevel } from '../logging/logger.ts';
import type { SafetyPolicyConfig } from '../safety/safety-policy.ts';

/** A bearer token and what it may do (SPEC 7). */
export interface TokenConfig {
  token: string;
  role: 'viewer' | 'operator';
}

/** Everything a server needs to know. */
export interface ServerConfig {
  /** Address to listen on (default 127.0.0.1; another address needs a token). */
  host: string;
  /** Port (default 8000; 0 picks a free one). */
  port: number;
  /** SQLite file (default ./data/sequencer.db), ':memory:', or a `postgres://` URL (SPEC 14: nodes that share it form a cluster). */
  db: string;
  /** This node's id in a cluster; null: `host name:port` (see `nodeIdOf`). */
  nodeId: string | null;
  /** Actuator driver (default sim). */
  driver: 'sim' | 'mqtt';
  /** Answer delay of simulated nodes in ms (default 20). */
  simLatencyMs: number;
  /** External MQTT broker; null runs the embedded broker on 127.0.0.1:mqttPort. */
  mqttUrl: string | null;
  /** Port of the embedded broker (default 1883). */
  mqttPort: number;
  /**
   * Broker credentials, TLS files, client id and `kaiser_id`; `heartbeatIntervalSeconds` (the
   * nodes' heartbeat, default 60 as the firmware's) times `missedHeartbeats` (default 3) is how
   * long a node may be silent before it is offline.
   */
  mqtt: { username?: string; password?: string; caFile?: string; certFile?: string; keyFile?: string; clientId?: string; kaiserId: string; heartbeatIntervalSeconds?: number; missedHeartbeats?: number };
  /** Bearer tokens; empty: no auth, loopback only. */
  tokens: TokenConfig[];
  /** What happens to runs found unfinished at start (default resume). */
  recovery: 'resume' | 'abort';
  /** Start the Stately inspector relay (default false). */
  inspect: boolean;
  /** Loopback port of the inspector relay (default 8080; 0 picks a free one). */
  inspectPort: number;
  /** Least severe level of the log lines on stderr (default info). */
  logLevel: LogLevel;
  limits: {
    max_concurrent: number;
    max_steps: number;
    max_duration_seconds: number;
    history_days: number;
  };
  rate_limits: {
    starts_per_second: number;
    commands_per_second: number;
    commands_per_esp_per_second: number;
  };
  safety: SafetyPolicyConfig;
}

/** SPEC 10: how long the safe state waits for each OFF. */
export const DEFAULT_SAFE_STATE_TIMEOUT_SECONDS = 2;

/** The defaults of SPEC 12. */
export function defaultConfig(): ServerConfig {
  return {
    host: '127.0.0.1',
    port: 8000,
    db: './data/sequencer.db',
    nodeId: null,
    driver: 'sim',
    simLatencyMs: 20,
    mqttUrl: null,
    mqttPort: 1883,
    mqtt: { kaiserId: 'god' },
    tokens: [],
    recovery: 'resume',
    inspect: false,
    inspectPort: 8080,
    logLevel: 'info',
    limits: { max_concurrent: 1000, max_steps: 50, max_duration_seconds: 3600, history_days: 7 },
    rate_limits: { starts_per_second: 200, commands_per_second: 100, commands_per_esp_per_second: 20 },
    safety: { actuators: [], safe_state_timeout_seconds: DEFAULT_SAFE_STATE_TIMEOUT_SECONDS },
  };
}

/**
 * The node id of a server (SPEC 14): the configured one, else `host name:port`. A server on port 0
 * has no port of its own yet, so its process id stands in (two such servers on one host differ).
 */
export function nodeIdOf(config: Pick<ServerConfig, 'nodeId' | 'port'>): string {
  return config.nodeId ?? `${hostname()}:${config.port === 0 ? `pid${process.pid}` : config.port}`;
}
