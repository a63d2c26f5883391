/**
 * The brokers the MQTT tests run against, behind one shape: the embedded aedes broker here, and
 * Mosquitto (`mosquitto.ts`), which has the same shape.
 */
import { startEmbeddedBroker } from '../../src/drivers/embedded-broker.ts';

/** A broker the tests can kill and bring back on the same port. */
export interface BrokerHarness {
  readonly url: string;
  kill(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** The embedded aedes broker on a free loopback port. */
export async function startAedes(): Promise<BrokerHarness> {
  let broker = await startEmbeddedBroker({ port: 0 });
  const { port, url } = broker;
  return {
    url,
    kill: () => broker.close(),
    restart: async () => {
      broker = await startEmbeddedBroker({ port });
    },
    close: () => broker.close(),
  };
}
