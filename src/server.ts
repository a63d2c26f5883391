/**
 * Starts a listening server from a resolved configuration, and shuts it down gracefully (SPEC 12):
 * health turns 503 `draining`, intake stops, sockets close, runs are persisted and timers stop,
 * all within a few seconds. It prints nothing: the CLI decides what a person sees.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './api/build-app.ts';
import { assertReachableSafely } from './config/load-config.ts';
import { nodeIdOf, type ServerConfig } from './config/server-config.ts';
import { createServices, type ServiceHooks, type Services } from './services.ts';
import { openPostgresStore } from './store/postgres/postgres.store.ts';
import { isPostgresUrl } from './store/postgres/postgres.pool.ts';
import type { RunStore } from './store/run-store.ts';
import { openSqliteStore } from './store/sqlite/sqlite.store.ts';

/** Hooks of a server: those of its services (the logger among them). */
export type ServerHooks = ServiceHooks;

/** A listening server. */
export interface RunningServer {
  app: FastifyInstance;
  services: Services;
  /** `http://HOST:PORT` with the port actually bound. */
  url: string;
  /** Drains and stops everything; idempotent (a second call waits for the first). */
  close(): Promise<void>;
}

/** Builds the services and the app and listens on `config.host:config.port` (port 0 picks one). */
export async function startServer(config: ServerConfig, hooks: ServerHooks = {}): Promise<RunningServer> {
  assertReachableSafely(config);
  const openStore = hooks.openStore ?? openConfiguredStore;
  const services = await createServices(config, { ...hooks, openStore });
  let app: FastifyInstance | null = null;
  try {
    app = await buildApp(services);
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await app?.close();
    await services.close();
    throw error;
  }
  const listening = app;
  const address = listening.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | null = null;
  return {
    app: listening,
    services,
    url: `http://${host}:${address.port}`,
    close() {
      closing ??= (async () => {
        listening.lifecycle.phase = 'draining';
        try {
          await listening.close();
        } finally {
          await services.close();
        }
      })();
      return closing;
    },
  };
}

/**
 * The store `--db` names: PostgreSQL for a `postgres://` URL (shared by the nodes of a cluster),
 * else SQLite (`:memory:` takes the same path without a file), held exclusively so a second server
 * on the same file cannot recover the same runs and drive the same actuators.
 */
export async function openConfiguredStore(config: ServerConfig): Promise<RunStore> {
  if (isPostgresUrl(config.db)) return openPostgresStore(config.db, { nodeId: nodeIdOf(config) });
  return openSqliteStore(config.db, { exclusive: config.db !== ':memory:' });
}
