/**
 * The Stately inspector (`--inspect`): a relay on a loopback port and an inspector of
 * `@statelyai/inspect` that sends every actor, event and snapshot of the actor system to it. A
 * person opens the relay's page: it embeds the Stately inspector (loaded from stately.ai, so it needs
 * internet, which the page says; the operator console at `/` does not) and feeds it what arrives on
 * the relay's WebSocket. The relay remembers the latest state of each live
 * actor, so a page opened later still shows the registry and every running sequence.
 *
 * The package's own `createInspectorServer` listens on every interface, cannot report a free port
 * and crashes the process when its port is taken, so the relay here is our own, with the same
 * protocol (JSON inspection events, relayed to every other client).
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWebSocketInspector } from '@statelyai/inspect';
import { WebSocket, WebSocketServer } from 'ws';
import type { InspectionEvent, Observer } from 'xstate';

/** Options of the inspector; every field has a default. */
export interface InspectorOptions {
  /** Port of the relay (default 8080; 0 picks a free one). */
  port?: number;
  /** Address of the relay (default 127.0.0.1: it shows every run's context, so it stays local). */
  host?: string;
  /** The Stately inspector page the relay's page embeds (default https://stately.ai/inspect). */
  inspectorUrl?: string;
  /** Live actors whose latest state a newly connected page receives (default 2,000). */
  maxActors?: number;
}

/** A running inspector. */
export interface Inspector {
  /** The observer for the actor system (the Engine option `inspect`). */
  readonly inspect: Observer<InspectionEvent>;
  /** The relay's port. */
  readonly port: number;
  /** The page a person opens in a browser. */
  readonly pageUrl: string;
  /** The relay's WebSocket: the page, and any other inspector or viewer, connect here. */
  readonly wsUrl: string;
  /** Stops the inspector and the relay. Idempotent. */
  close(): Promise<void>;
}

/** A page that does not read its socket stops getting events past this many unsent bytes. */
const MAX_PAGE_BUFFER = 8 * 1024 * 1024;

/** Starts the relay, then the inspector connected to it. Rejects when the port is taken. */
export async function startInspector(options: InspectorOptions = {}): Promise<Inspector> {
  const host = options.host ?? '127.0.0.1';
  const inspectorUrl = options.inspectorUrl ?? 'https://stately.ai/inspect';
  const live = new LiveActors(options.maxActors ?? 2000);
  const http = createServer((request, response) => {
    if (request.method === 'GET' && (request.url === '/' || request.url?.startsWith('/?'))) {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(bridgePage(inspectorUrl));
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
    }
  });
  const relay = new WebSocketServer({ server: http, maxPayload: 16 * 1024 * 1024 });
  relay.on('error', () => {
    // Listen errors surface through the http server below.
  });
  relay.on('connection', (socket) => {
    socket.on('error', () => socket.terminate());
    for (const message of live.messages()) socket.send(message);
    socket.on('message', (data) => {
      const text = data.toString();
      // The page parses every message; anything that is not an inspection event stops here.
      if (!live.remember(text)) return;
      for (const client of relay.clients) {
        if (client !== socket && client.readyState === WebSocket.OPEN && client.bufferedAmount < MAX_PAGE_BUFFER) client.send(text);
      }
    });
  });
  await listen(http, options.port ?? 8080, host);
  const { port } = http.address() as AddressInfo;
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const wsUrl = `ws://${authority}`;
  const inspector = createWebSocketInspector({ url: wsUrl });

  let closing: Promise<void> | null = null;
  return {
    inspect: inspector.inspect,
    port,
    pageUrl: `http://${authority}/`,
    wsUrl,
    close() {
      closing ??= (async () => {
        inspector.stop();
        for (const client of relay.clients) client.terminate();
        relay.close();
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      })();
      return closing;
    },
  };
}

async function listen(server: Server, port: number, host: string): Promise<void> {
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (error) {
    throw new Error(`Stately inspector relay cannot listen on ${host}:${port}: ${(error as Error).message}`, { cause: error });
  }
}

interface ActorState {
  actor: string;
  snapshot: string | null;
}

/** The registration and latest snapshot of every live actor, oldest first, bounded. */
class LiveActors {
  readonly #max: number;
  readonly #actors = new Map<string, ActorState>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Keeps what a late page needs from one message; false when it is not an inspection event. */
  remember(text: string): boolean {
    let event: { type?: unknown; sessionId?: unknown; snapshot?: { status?: unknown } } | null;
    try {
      event = JSON.parse(text);
    } catch {
      return false;
    }
    if (typeof event?.type !== 'string' || typeof event.sessionId !== 'string') return false;
    if (event.type === '@xstate.actor') {
      this.#actors.set(event.sessionId, { actor: text, snapshot: null });
      if (this.#actors.size > this.#max) this.#actors.delete(this.#actors.keys().next().value as string);
    } else if (event.type === '@xstate.snapshot') {
      const state = this.#actors.get(event.sessionId);
      if (state && event.snapshot?.status === 'active') state.snapshot = text;
      else if (state) this.#actors.delete(event.sessionId);
    }
    return true;
  }

  /** Every remembered message, in the order a page should receive them. */
  *messages(): Iterable<string> {
    for (const { actor, snapshot } of this.#actors.values()) {
      yield actor;
      if (snapshot) yield snapshot;
    }
  }
}

/**
 * The page a person opens: the Stately inspector in an iframe, fed with the relay's messages once
 * it says it is ready (it announces itself with `@statelyai.connected`).
 */
function bridgePage(inspectorUrl: string): string {
  return `<!doctype html>
<html>
<head>
  <meta charset="utf-8">
  <title>Sequencer - Stately inspector</title>
  <style>
    html, body { margin: 0; height: 100%; display: flex; flex-direction: column; font-family: system-ui, sans-serif; }
    #offline-note { margin: 0; padding: 6px 12px; background: #fff7e0; border-bottom: 1px solid #e7cf8a; font-size: 14px; }
    iframe { flex: 1; width: 100%; border: 0; }
  </style>
</head>
<body>
  <p id="offline-note">The Stately inspector below is loaded from ${inspectorUrl} and needs internet: without it this page
    stays blank. The operator console at <code>/</code> of the Sequencer server (for example http://127.0.0.1:8000/) needs no
    internet and shows the same runs live, with their statechart.</p>
  <iframe id="inspector" src="${inspectorUrl}"></iframe>
  <script>
    const frame = document.getElementById('inspector');
    const waiting = [];
    let ready = false;
    const deliver = (event) => frame.contentWindow.postMessage(event, '*');
    window.addEventListener('message', (message) => {
      if (message.data && message.data.type === '@statelyai.connected' && !ready) {
        ready = true;
        waiting.splice(0).forEach(deliver);
      }
    });
    const socket = new WebSocket('ws://' + location.host);
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (ready) deliver(event);
      else waiting.push(event);
    };
  </script>
</body>
</html>`;
}
