/**
 * Builds the `mqtt` actuator driver from the server configuration: the given broker with
 * `--mqtt-url`, otherwise an embedded broker in the process, so `--driver mqtt` works out of the box.
 */
import type { ServerConfig } from '../config/server-config.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker.ts';
import { MqttDriver, type MqttDriverOptions } from './mqtt.driver.ts';

/** An MQTT driver that owns the embedded broker it talks to: closing the driver stops the broker too. */
export class EmbeddedBrokerMqttDriver extends MqttDriver {
  /** The broker this driver started and will stop. */
  readonly broker: EmbeddedBroker;

  /** Wraps a running broker; nothing connects before `start()`. */
  constructor(options: MqttDriverOptions, broker: EmbeddedBroker) {
    super(options);
    this.broker = broker;
  }

  /** Idempotent. Closes the connection first, so the driver never sees its own broker go as a lost link. */
  override async close(): Promise<void> {
    await super.close();
    await this.broker.close();
  }
}

/**
 * The `mqtt` driver for `config` (not started yet: `start()` connects). With `config.mqttUrl` it
 * uses that broker with the credentials, TLS files, client id, `kaiser_id` and heartbeat interval of `config.mqtt`;
 * without it, it first starts an embedded broker on 127.0.0.1:`config.mqttPort` and rejects when
 * that port cannot be bound.
 */
export async function createMqttDriver(config: ServerConfig): Promise<MqttDriver> {
  const { username, password, caFile, certFile, keyFile, clientId, kaiserId, heartbeatIntervalSeconds, missedHeartbeats } = config.mqtt;
  const presence = { heartbeatIntervalMs: heartbeatIntervalSeconds === undefined ? undefined : heartbeatIntervalSeconds * 1000, missedHeartbeats };
  if (config.mqttUrl !== null) {
    return new MqttDriver({ url: config.mqttUrl, username, password, caFile, certFile, keyFile, clientId, kaiserId, ...presence });
  }
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: config.mqttPort }).catch((error: unknown) => {
    const hint = 'pass --mqtt-url to use a broker already listening there, or --mqtt-port to pick another port';
    throw new Error(`${(error as Error).message} (${hint})`);
  });
  // Credentials and TLS belong to external brokers; the embedded one accepts anonymous plain TCP.
  return new EmbeddedBrokerMqttDriver({ url: broker.url, clientId, kaiserId, ...presence }, broker);
}
