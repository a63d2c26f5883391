/**
 * Dead peers are dropped by the stream's one ping interval: a client that does not answer a ping
 * is cut at the next tick, one that answers stays. Only `setInterval` is faked, so sockets and
 * the engine run for real.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { actuatorRun, connect, startTestServer, TestClient, type TestServer } from './ws-harness.ts';

let server: TestServer | null = null;

afterEach(async () => {
  vi.useRealTimers();
  await server?.close();
  server = null;
});

/** Resolves when the server has handled everything the client sent so far (a malformed message's answer comes back). */
async function roundTrip(client: TestClient): Promise<void> {
  const before = client.messages.length;
  client.send('ping?');
  await client.waitFor((m) => client.messages.indexOf(m) >= before && (m as unknown as { success?: boolean }).success === false);
}

describe('the heartbeat', () => {
  it('drops a peer that does not answer a ping and keeps one that does', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    server = await startTestServer();
    const alive = await connect(server.wsUrl());
    const deaf = new TestClient(server.wsUrl(), { autoPong: false });
    await deaf.opened();
    const pinged = (ws: WebSocket) => new Promise<void>((resolve) => ws.once('ping', () => resolve()));

    const firstPings = Promise.all([pinged(alive.ws), pinged(deaf.ws)]);
    vi.advanceTimersByTime(30_000);
    await firstPings;
    await roundTrip(alive);
    await roundTrip(deaf);

    const secondPing = pinged(alive.ws);
    vi.advanceTimersByTime(30_000);
    expect((await deaf.closed).code).toBe(1006);
    await secondPing;
    await roundTrip(alive);
    const { run_id } = await server.start(actuatorRun('still-watched', 1));
    await alive.completed(run_id);
    alive.ws.terminate();
  });
});
