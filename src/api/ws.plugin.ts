/**
 * The WebSocket event stream (SPEC 8) on `/api/v1/ws` and `/ws/realtime/:client_id`. It forwards
 * the engine's one EventBus through the replay buffer (EventHub): every message is an event
 * envelope, filtered per client, replayed from `since` and then live with no gap and no duplicate.
 * A client whose unsent data passes the limit is closed with 1013, a peer that stops answering
 * pings is dropped, and the app's close closes every socket with 1001.
 *
 * Events are serialised once (EventHub), framed a turn's worth at a time and written to each
 * client's TCP socket directly; `ws` keeps the handshake, pings, client messages and close.
 */
import websocket from '@fastify/websocket';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { Codes, errorBody, SequencerError } from '../domain/errors.ts';
import { textFrame, textFrames, type EventHub, type HubEntry } from '../events/event-hub.ts';
import { compileFilter, filtersFromQuery, NO_EVENTS, parseClientMessage, type StreamFilter } from '../events/stream-filter.ts';
import type { Services } from '../services.ts';
import { roleOf } from './auth.ts';
import type { UpgradeSockets } from './socket-errors.ts';

/** Options of the stream plugin. */
export interface WsPluginOptions {
  services: Services;
  /** Replay buffer (default `services.hub`). */
  hub?: EventHub;
  /** Unsent bytes after which a client is closed with 1013 (default 4 MiB). */
  maxBufferedBytes?: number;
  /** About how many bytes a replay sends before it waits for them to be flushed (default 64 KiB). */
  replayChunkBytes?: number;
  /** Interval of the ping that drops dead peers (default 30 s). */
  pingIntervalMs?: number;
  /** How long the app's close waits for sockets to finish closing before it cuts them (default 1 s). */
  closeGraceMs?: number;
  /** The app's upgrade sockets: told which became WebSockets; refuses bad handshakes in the SPEC 4 shape (default: `ws`'s plain text). */
  upgrades?: UpgradeSockets;
}

/** Close codes of the stream. */
export const CloseCodes = {
  /** Missing or unknown token. */
  UNAUTHORIZED: 4001,
  /** The client read too slowly (SPEC 8). */
  TRY_AGAIN_LATER: 1013,
  /** The server is shutting down. */
  GOING_AWAY: 1001,
  /** Invalid `since` or filters in the connect URL. */
  POLICY: 1008,
} as const;

interface Limits {
  maxBufferedBytes: number;
  replayChunkBytes: number;
}

/** Registers `/api/v1/ws` and `/ws/realtime/:client_id`. */
export async function wsPlugin(app: FastifyInstance, options: WsPluginOptions): Promise<void> {
  const { services } = options;
  const hub = options.hub ?? services.hub;
  const { metrics } = services;
  const limits: Limits = {
    maxBufferedBytes: options.maxBufferedBytes ?? 4 * 1024 * 1024,
    replayChunkBytes: options.replayChunkBytes ?? 64 * 1024,
  };
  const closeGraceMs = options.closeGraceMs ?? 1000;
  /** Clients that receive events. */
  const clients = new Set<StreamClient>();
  /** Every open or closing socket, so shutdown can wait for (or cut) each one. */
  const sockets = new Set<WebSocket>();

  if (!app.hasDecorator('websocketServer')) {
    await app.register(websocket, { options: { maxPayload: 64 * 1024 }, preClose: (done) => done() });
  }
  const { upgrades } = options;
  if (upgrades) app.websocketServer.on('wsClientError', upgrades.refuseHandshake);

  // Events come in bursts (a write-ahead batch, a run that ends within one turn). Each client
  // collects the frames of the turn and writes them once when the turn's code is done; clients
  // that get the same events share one buffer, so a burst costs one write per client.
  const pending = new Set<StreamClient>();
  const shared = new Map<string, Buffer>();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    for (const client of pending) client.flush(shared);
    pending.clear();
    shared.clear();
  };
  const stopFanOut = hub.subscribe((entry) => {
    let handedOver = false;
    for (const client of clients) {
      if (!client.offer(entry)) continue;
      pending.add(client);
      handedOver = true;
    }
    // The lag of an event some client takes; one no client wants is handed over to nobody.
    if (handedOver) metrics.eventLagSeconds.observe(Math.max(0, Date.now() / 1000 - entry.event.timestamp));
    if (!scheduled && pending.size > 0) {
      scheduled = true;
      process.nextTick(flush);
    }
  });
  // One timer for every client: a peer that did not answer the last ping is gone.
  const heartbeat = setInterval(() => {
    for (const client of clients) client.heartbeat();
  }, options.pingIntervalMs ?? 30_000);
  heartbeat.unref();

  const handler = (socket: WebSocket, request: FastifyRequest): void => {
    upgrades?.handedOver(request.raw.socket);
    const query = request.query as Record<string, string | undefined>;
    if (roleOf(services.config.tokens, query.token) === null) {
      socket.close(CloseCodes.UNAUTHORIZED, 'Unauthorized');
      return;
    }
    const filters = filtersFromQuery(query);
    const since = query.since === undefined ? null : /^\d{1,15}$/.test(query.since) ? Number(query.since) : NaN;
    if (filters === null || Number.isNaN(since)) {
      socket.close(CloseCodes.POLICY, 'Invalid since or filters');
      return;
    }
    sockets.add(socket);
    metrics.wsClients.inc();
    const client = new StreamClient(socket, request.raw.socket, hub, limits, compileFilter(filters), () => clients.delete(client));
    clients.add(client);
    socket.on('close', () => {
      clients.delete(client);
      sockets.delete(socket);
      metrics.wsClients.dec();
    });
    socket.on('message', (data) => client.command(data.toString()));
    if (since !== null) client.replay(since);
  };
  const upgradeRequired = new SequencerError(Codes.INVALID_DEFINITION, 'This is a WebSocket stream: connect with Upgrade: websocket', [], 426);
  for (const url of ['/api/v1/ws', '/ws/realtime/:client_id']) {
    app.route({
      method: 'GET',
      url,
      // The OpenAPI document describes HTTP; the stream is documented in docs/events.md.
      schema: { hide: true },
      handler: (_request, reply) => reply.code(426).header('upgrade', 'websocket').send(errorBody(upgradeRequired)),
      wsHandler: handler,
    });
  }

  app.addHook('preClose', async () => {
    clearInterval(heartbeat);
    stopFanOut();
    const closed = [...sockets].map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
    for (const client of clients) client.close(CloseCodes.GOING_AWAY, 'Server shutting down');
    clients.clear();
    // A peer that does not answer the close handshake would hold the server open for 30 s.
    const grace = setTimeout(() => {
      for (const socket of sockets) socket.terminate();
    }, closeGraceMs);
    await Promise.all(closed);
    clearTimeout(grace);
  });
}

/**
 * One client of the stream. `cursor` is the `seq` of the last event it has been offered (sent or
 * filtered out). Live events go out at the end of the turn they happen in; while it replays, live
 * events only grow the buffer and the replay reads on from the cursor until it is level with the
 * newest event, then the client turns live, so no event is missed or sent twice.
 */
class StreamClient {
  readonly #socket: WebSocket;
  /** The TCP socket under the WebSocket: event frames are written to it directly. */
  readonly #raw: Socket;
  readonly #hub: EventHub;
  readonly #limits: Limits;
  readonly #onGone: () => void;
  #filter: StreamFilter;
  #cursor: number;
  /** Live events of this turn, written by `flush`. */
  #batch: HubEntry[] = [];
  #replaying = false;
  #alive = true;
  #gone = false;

  constructor(socket: WebSocket, raw: Socket, hub: EventHub, limits: Limits, filter: StreamFilter, onGone: () => void) {
    this.#socket = socket;
    this.#raw = raw;
    this.#hub = hub;
    this.#limits = limits;
    this.#filter = filter;
    this.#onGone = onGone;
    this.#cursor = hub.lastSeq;
    socket.on('pong', () => {
      this.#alive = true;
    });
  }

  /** A live event; true when it joined this turn's batch. */
  offer(entry: HubEntry): boolean {
    if (this.#replaying) {
      // The buffer is about to overwrite the next event this replay needs: the client is too slow.
      if (entry.event.seq - this.#hub.capacity > this.#cursor) this.#tooSlow();
      return false;
    }
    this.#cursor = entry.event.seq;
    if (!this.#filter.matches(entry.event)) return false;
    this.#batch.push(entry);
    return true;
  }

  /** Writes this turn's events in one go; `shared` holds the buffers other clients already built. */
  flush(shared: Map<string, Buffer>): void {
    const batch = this.#batch;
    this.#batch = [];
    const first = batch[0]?.event.seq ?? 0;
    const last = batch[batch.length - 1]?.event.seq ?? 0;
    // Consecutive events from first to last are the same bytes for every client that has them.
    const key = last - first + 1 === batch.length ? `${first}-${last}` : null;
    let chunk = key === null ? undefined : shared.get(key);
    if (!chunk) {
      chunk = textFrames(batch.map((entry) => entry.json));
      if (key !== null) shared.set(key, chunk);
    }
    this.#write(chunk);
  }

  /** A message from the client; a malformed one is answered with the SPEC 4 error body. */
  command(raw: string): void {
    const message = parseClientMessage(raw);
    if (message instanceof Error) {
      this.#write(textFrame(JSON.stringify(errorBody(message))));
      return;
    }
    if (message.action === 'subscribe') this.#filter = compileFilter(message.filters);
    else if (message.action === 'unsubscribe') this.#filter = NO_EVENTS;
    else this.replay(message.since);
  }

  /**
   * Sends every buffered event after `since`, then goes on live. A `since` beyond the newest event
   * comes from before a server restart (seq starts again at 1), so everything buffered is sent.
   */
  replay(since: number): void {
    const last = this.#hub.lastSeq;
    this.#cursor = since > last ? 0 : since;
    if (this.#cursor < this.#hub.firstSeq - 1) this.#cursor = this.#hub.firstSeq - 1;
    if (this.#replaying) return;
    this.#replaying = true;
    this.#pump();
  }

  /** Pings the peer, or drops it when it did not answer the previous ping. */
  heartbeat(): void {
    if (!this.#alive) {
      this.#leave();
      this.#socket.terminate();
      return;
    }
    this.#alive = false;
    this.#socket.ping();
  }

  /** Closes the socket with a code and stops sending. */
  close(code: number, reason: string): void {
    this.#leave();
    this.#socket.close(code, reason);
  }

  /** Sends replay chunks; each next chunk waits until the previous one left for the kernel. */
  readonly #pump = (): void => {
    if (this.#gone) return;
    const texts: string[] = [];
    // Counted in UTF-16 units: a chunk is a pace, not a limit.
    let units = 0;
    while (this.#cursor < this.#hub.lastSeq && units < this.#limits.replayChunkBytes) {
      // Present: offer() closes this client before the buffer drops an event the replay still needs.
      const entry = this.#hub.at(this.#cursor + 1) as HubEntry;
      this.#cursor = entry.event.seq;
      if (!this.#filter.matches(entry.event)) continue;
      texts.push(entry.json);
      units += entry.json.length;
    }
    const more = this.#cursor < this.#hub.lastSeq;
    if (!more) this.#replaying = false;
    if (texts.length > 0) this.#write(textFrames(texts), more ? this.#pump : undefined);
  };

  /** Writes whole frames to the socket, unless that would put it past the unsent-data limit. */
  #write(chunk: Buffer, flushed?: () => void): void {
    // Nothing may follow a close frame, whoever sent it.
    if (this.#gone || this.#socket.readyState !== this.#socket.OPEN) return;
    if (this.#socket.bufferedAmount + chunk.length > this.#limits.maxBufferedBytes) {
      this.#tooSlow();
      return;
    }
    this.#raw.write(chunk, flushed && ((error) => error || flushed()));
  }

  #tooSlow(): void {
    this.close(CloseCodes.TRY_AGAIN_LATER, `Too slow: over ${this.#limits.maxBufferedBytes} bytes unsent`);
  }

  #leave(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#onGone();
  }
}
