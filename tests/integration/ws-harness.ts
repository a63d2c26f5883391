/**
 * A real server on a free loopback port (memory only, sim driver answering at once) and WebSocket
 * clients that record every message, for the stream's end-to-end tests.
 */
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import type { ServerConfig } from '../../src/config/server-config.ts';
import type { EventEnvelope } from '../../src/events/event-types.ts';
import { startServer, type ServerHooks } from '../../src/server.ts';
import type { Services } from '../../src/services.ts';
import { testConfig } from './api-harness.ts';

/** A listening server. */
export interface TestServer {
  services: Services;
  app: FastifyInstance;
  /** `http://127.0.0.1:PORT`. */
  base: string;
  /** The stream URL with a query string. */
  wsUrl(query?: Record<string, string | number>, path?: string): string;
  /** Starts a run over HTTP and returns its 202 body. */
  start(definition: object, token?: string): Promise<{ sequence_id: string; run_id: string }>;
  close(): Promise<void>;
}

/** Starts a server with the test defaults plus `overrides`. */
export async function startTestServer(overrides: Partial<ServerConfig> = {}, hooks: ServerHooks = {}): Promise<TestServer> {
  const server = await startServer(testConfig(overrides), hooks);
  const { services, app } = server;
  const { port } = app.server.address() as { port: number };
  const base = server.url;
  return {
    services,
    app,
    base,
    wsUrl(query = {}, path = '/api/v1/ws') {
      const search = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
      return `ws://127.0.0.1:${port}${path}${search.size ? `?${search}` : ''}`;
    },
    async start(definition, token) {
      const response = await fetch(`${base}/api/v1/sequences`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(definition),
      });
      const body = (await response.json()) as { sequence_id: string; run_id: string };
      if (response.status !== 202) throw new Error(`start answered ${response.status}: ${JSON.stringify(body)}`);
      return body;
    },
    close: () => server.close(),
  };
}

/** A definition of `steps` actuator steps on one simulated node. */
export function actuatorRun(sequenceId: string, steps = 2): object {
  return {
    sequence_id: sequenceId,
    mode: 'parallel',
    steps: Array.from({ length: steps }, (_, i) => ({
      name: `step ${i + 1}`,
      action: { type: 'actuator_command', esp_id: 'ESP_TEST', gpio: 5, command: i % 2 === 0 ? 'ON' : 'OFF' },
    })),
  };
}

/** A WebSocket client that keeps every message and can wait for one. */
export class TestClient {
  readonly ws: WebSocket;
  readonly messages: EventEnvelope[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #waiters = new Set<() => void>();

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, options);
    this.ws.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()) as EventEnvelope);
      for (const wake of this.#waiters) wake();
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        for (const wake of this.#waiters) wake();
        resolve({ code, reason: reason.toString() });
      });
    });
  }

  /** Resolves once the socket is open. */
  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState === WebSocket.OPEN) return resolve();
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  /** Resolves with the first message (already received or to come) that satisfies `match`. */
  waitFor(match: (message: EventEnvelope) => boolean): Promise<EventEnvelope> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.messages.find(match);
        if (found) {
          this.#waiters.delete(check);
          resolve(found);
        } else if (this.ws.readyState === WebSocket.CLOSED) {
          this.#waiters.delete(check);
          reject(new Error(`socket closed before the awaited message; got ${this.messages.length} messages`));
        }
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Waits for the `sequence_completed` of a run. */
  completed(runId: string): Promise<EventEnvelope> {
    return this.waitFor((m) => m.type === "sequence_completed" && (m.data as { run_id: string }).run_id === runId);
  }

  /** Sends a client message. */
  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Messages about one run. */
  of(runId: string): EventEnvelope[] {
    return this.messages.filter((m) => (m.data as { run_id?: string } | undefined)?.run_id === runId);
  }
}

/** Opens a client and waits until it is connected. */
export async function connect(url: string): Promise<TestClient> {
  const client = new TestClient(url);
  await client.opened();
  return client;
}
