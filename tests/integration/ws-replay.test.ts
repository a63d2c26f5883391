/**
 * Replay under pressure: a replay far larger than the socket can take at once is paced by what
 * the socket flushes, events published meanwhile come after it exactly once, and a client that
 * falls a whole buffer behind while replaying is closed with 1013.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, startTestServer, type TestClient, type TestServer } from './ws-harness.ts';

let server: TestServer | null = null;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  await server?.close();
  server = null;
});

/** Publishes `count` notification events of about 2 KB each on the engine's bus. */
function publish(target: TestServer, count: number): void {
  for (let i = 0; i < count; i++) {
    target.services.engine.events.publish(
      'notification',
      { sequence_id: 'load', run_id: 'run-load', title: 'load', message: 'x'.repeat(2000), severity: 'info', step_name: `step ${i}` },
      Date.now(),
    );
  }
}

function paused(client: TestClient): { resume(): void } {
  const socket = (client.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  socket.pause();
  return socket;
}

/**
 * A fresh server with a full buffer of events and a client replaying all of them from `since=0`
 * through a socket that reads nothing until `socket.resume()`.
 */
async function replayingClientNotReading() {
  server = await startTestServer();
  const { hub } = server.services;
  publish(server, hub.capacity);
  const client = await connect(server.wsUrl({ since: 0 }));
  clients.push(client);
  return { server, hub, client, socket: paused(client) };
}

describe('a replay larger than the socket can hold', () => {
  it('is paced by the socket, then live events follow once, in order, with no gap', async () => {
    // 10,000 events of ~2 KB: about 23 MB, far more than the kernel buffers of a socket nobody reads.
    const { server, hub, client, socket } = await replayingClientNotReading();

    // While the replay waits for the reader, new events only grow the buffer.
    publish(server, 100);
    socket.resume();
    await client.waitFor((m) => m.seq === hub.lastSeq);
    const seqs = client.messages.map((m) => m.seq);
    // The first chunks left before the buffer moved on, so nothing was lost: 1 to the newest.
    expect(seqs).toEqual(Array.from({ length: hub.lastSeq }, (_, i) => 1 + i));
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  it('closes a replaying client with 1013 once the buffer has moved past what it still needs', async () => {
    const { server, hub, client, socket } = await replayingClientNotReading();

    publish(server, hub.capacity);
    socket.resume();
    expect((await client.closed).code).toBe(1013);
    // It got a prefix of the replay, in order, and nothing after the cut.
    const seqs = client.messages.map((m) => m.seq);
    expect(seqs.length).toBeGreaterThan(0);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => 1 + i));
    expect(seqs.length).toBeLessThan(hub.capacity);
  });
});
