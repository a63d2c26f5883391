/**
 * The options of the MQTT driver: what each means, its default, resolved once, and the MQTT.js
 * client options they make.
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import { Codes, SequencerError } from '../domain/errors.ts';

/** Options of the MQTT driver; every field but `url` has a default. */
export interface MqttDriverOptions {
  /** Broker URL, `mqtt://host:port` or `mqtts://host:port`. Required. */
  url: string;
  /** Broker user name. Default: none (anonymous). */
  username?: string;
  /** Broker password. Default: none. */
  password?: string;
  /** PEM file of the CA that signed the broker's certificate (TLS). Default: the system CAs. */
  caFile?: string;
  /** PEM file of this client's certificate (mutual TLS). Default: none. */
  certFile?: string;
  /** PEM file of this client's private key (mutual TLS). Default: none. */
  keyFile?: string;
  /** MQTT client id. Default: `sequencer-` + 8 random hex digits, so two instances never evict each other. */
  clientId?: string;
  /** The `kaiser_id` topic segment. Default: `god`. */
  kaiserId?: string;
  /** How long `start()` and each connection attempt wait for the broker. Default: 5000 ms. */
  connectTimeoutMs?: number;
  /** Pause between reconnection attempts while the broker is down. Default: 1000 ms. */
  reconnectPeriodMs?: number;
  /** MQTT keepalive; a silently dead broker is noticed within 1.5x this. Default: 30 s. */
  keepaliveSeconds?: number;
  /** The nodes' heartbeat interval (the firmware's is 60 s). Default: 60000 ms. */
  heartbeatIntervalMs?: number;
  /** Heartbeat intervals without a word before a node counts as offline. Default: 3. */
  missedHeartbeats?: number;
}

/** The options with every default filled in. */
export type ResolvedOptions = Required<Omit<MqttDriverOptions, 'username' | 'password' | 'caFile' | 'certFile' | 'keyFile'>> &
  Pick<MqttDriverOptions, 'username' | 'password' | 'caFile' | 'certFile' | 'keyFile'>;

/** Fills in the defaults; `??` per field, so an explicit `undefined` from a parsed config still gets the default. */
export function resolveOptions(options: MqttDriverOptions): ResolvedOptions {
  return {
    ...options,
    clientId: options.clientId ?? `sequencer-${Math.random().toString(16).slice(2, 10)}`,
    kaiserId: options.kaiserId ?? 'god',
    connectTimeoutMs: options.connectTimeoutMs ?? 5000,
    reconnectPeriodMs: options.reconnectPeriodMs ?? 1000,
    keepaliveSeconds: options.keepaliveSeconds ?? 30,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 60_000,
    missedHeartbeats: options.missedHeartbeats ?? 3,
  };
}

/** The MQTT.js options of the driver's client; reads the TLS files (5631 when one is unreadable). */
export function clientOptions(o: ResolvedOptions): IClientOptions {
  return {
    clientId: o.clientId,
    username: o.username,
    password: o.password,
    ca: readPem('ca', o.caFile),
    cert: readPem('cert', o.certFile),
    key: readPem('key', o.keyFile),
    connectTimeout: o.connectTimeoutMs,
    reconnectPeriod: o.reconnectPeriodMs,
    // A broker refusing us (credentials, overload) may accept later; an unattended service keeps trying.
    reconnectOnConnackError: true,
    keepalive: o.keepaliveSeconds,
    clean: true,
    // The driver subscribes itself on every connect, so it knows when responses can arrive.
    resubscribe: false,
  };
}

function readPem(kind: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new SequencerError(Codes.INTERNAL_ERROR, `MQTT TLS ${kind} file unreadable (${path}): ${(err as Error).message}`);
  }
}
