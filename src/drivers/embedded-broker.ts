/**
 * An in-process MQTT broker (aedes over a plain TCP server), so the `mqtt` driver works with
 * nothing else installed. Used when `--driver mqtt` is given without `--mqtt-url`.
 */
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { Aedes } from 'aedes';

/** Where the embedded broker listens. */
export interface EmbeddedBrokerOptions {
  /** Interface to bind. Default: `127.0.0.1` (never exposed beyond this machine unless asked). */
  host?: string;
  /** TCP port; 0 picks a free one. Default: 1883. */
  port?: number;
}

/** A running embedded broker. */
export interface EmbeddedBroker {
  /** `mqtt://host:port` with the port actually bound. */
  readonly url: string;
  /** The port actually bound (useful with port 0). */
  readonly port: number;
  /** Idempotent. Disconnects every client and stops listening; resolves when the port is free. */
  close(): Promise<void>;
}

/** Starts an aedes broker on `host:port`; rejects (and leaves nothing running) if it cannot listen. */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? '127.0.0.1';
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    // Command, ack and answer are tiny packets; Nagle's delay would dominate every round trip.
    socket.setNoDelay(true);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  const closeBroker = (): Promise<void> => new Promise((resolve) => broker.close(() => resolve()));

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 1883, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await closeBroker();
    throw new Error(`embedded MQTT broker cannot listen on ${host}:${options.port ?? 1883}: ${(err as Error).message}`);
  }

  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 1883);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | null = null;

  return {
    url: `mqtt://${urlHost}:${port}`,
    port,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await closeBroker();
        // Clients that never finished their handshake are unknown to aedes but still hold the port.
        for (const socket of sockets) socket.destroy();
        await stopped;
      })();
      return closing;
    },
  };
}
