import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EventEnvelope } from '../../src/events/event-types.ts';
import { actuatorRun, connect, startTestServer, TestClient, type TestServer } from './ws-harness.ts';

let server: TestServer | null = null;
const clients: TestClient[] = [];

async function open(url: string): Promise<TestClient> {
  const client = await connect(url);
  clients.push(client);
  return client;
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  await server?.close();
  server = null;
});

type StepData = { status: string; step: number; phase: string };

describe('the event stream of a run', () => {
  it('sends sequence_started first, each step starting before completed, sequence_completed last, seq one apart', async () => {
    server = await startTestServer();
    const client = await open(server.wsUrl());
    const { run_id } = await server.start(actuatorRun('order', 3));
    await client.completed(run_id);

    const events = client.of(run_id);
    expect(events[0]?.type).toBe('sequence_started');
    expect(events.at(-1)?.type).toBe('sequence_completed');
    expect(events.at(-1)?.data).toMatchObject({ status: 'completed', success: true, steps_completed: 3, steps_failed: 0 });
    expect(events.filter((e) => e.type === 'sequence_completed')).toHaveLength(1);
    // Every event of the server reached the client, in order, none twice.
    const all = client.messages.map((m) => m.seq);
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => (all[0] as number) + i));
    for (const e of events) {
      expect(Object.keys(e).sort()).toEqual(['data', 'seq', 'timestamp', 'type']);
      expect(e.timestamp).toBeGreaterThan(1_600_000_000);
      expect(e.timestamp).toBeLessThan(Date.now() / 1000 + 1);
    }
    const steps = events.filter((e) => e.type === 'sequence_step').map((e) => e.data as StepData);
    // Each step is announced before its result (the internal safe-state cleanup step stays quiet).
    expect(steps.map((s) => `${s.phase}:${s.step}:${s.status}`)).toEqual([
      'steps:0:starting',
      'steps:0:completed',
      'steps:1:starting',
      'steps:1:completed',
      'steps:2:starting',
      'steps:2:completed',
    ]);
  });

  it('serves the same stream on /ws/realtime/:client_id', async () => {
    server = await startTestServer();
    const client = await open(server.wsUrl({}, '/ws/realtime/dashboard-7'));
    const { run_id } = await server.start(actuatorRun('realtime', 1));
    const done = await client.completed(run_id);
    expect(done.data).toMatchObject({ status: 'completed' });
  });
});

describe('the event lag metric', () => {
  it('observes the events handed over to a client, and none that no client takes', async () => {
    server = await startTestServer();
    const lagCount = async () => {
      const text = await (await fetch(`${server?.base}/metrics`)).text();
      return Number(/^sequencer_event_lag_seconds_count (\d+)/m.exec(text)?.[1]);
    };
    // A run no client watches, every event of it on the stream (in the hub) before a client connects.
    const hub = server.services.hub;
    const unwatched = await server.start(actuatorRun('unwatched', 2));
    await vi.waitFor(() => expect(hub.since(0).some((e) => e.event.type === 'sequence_completed')).toBe(true));
    const watcher = await open(server.wsUrl({ types: 'sequence_completed', sequence_ids: 'watched' }));
    const watched = await server.start(actuatorRun('watched', 2));
    await watcher.completed(watched.run_id);

    expect(hub.since(0).filter((e) => (e.event.data as { run_id?: string }).run_id === unwatched.run_id).length).toBeGreaterThan(3);
    // Of every event of both runs, only the one the client took: the watched run's sequence_completed.
    expect(await lagCount()).toBe(1);
  });
});

describe('filters', () => {
  it('sends only the subscribed types and sequence_ids', async () => {
    server = await startTestServer();
    const byType = await open(server.wsUrl());
    byType.send({ action: 'subscribe', filters: { types: ['sequence_completed'] } });
    const byId = await open(server.wsUrl());
    byId.send({ action: 'subscribe', filters: { sequence_ids: ['wanted'] } });
    const fromUrl = await open(server.wsUrl({ types: 'sequence_started', sequence_ids: 'wanted' }));
    const watcher = await open(server.wsUrl());
    // The subscribe messages are in before the runs: a round trip through a bad message proves it.
    byType.send('not json');
    byId.send('not json');
    await byType.waitFor((m) => (m as unknown as { success?: boolean }).success === false);
    await byId.waitFor((m) => (m as unknown as { success?: boolean }).success === false);

    const other = await server.start(actuatorRun('other', 1));
    const wanted = await server.start(actuatorRun('wanted', 1));
    await watcher.completed(other.run_id);
    await watcher.completed(wanted.run_id);
    await byType.completed(wanted.run_id);
    await byId.completed(wanted.run_id);
    await fromUrl.waitFor((m) => m.type === 'sequence_started');

    const events = (c: TestClient) => c.messages.filter((m) => 'seq' in m);
    expect(events(byType).map((m) => [m.type, (m.data as { sequence_id: string }).sequence_id])).toEqual([
      ['sequence_completed', 'other'],
      ['sequence_completed', 'wanted'],
    ]);
    expect(events(byId).length).toBe(watcher.of(wanted.run_id).length);
    expect(events(byId).every((m) => (m.data as { sequence_id: string }).sequence_id === 'wanted')).toBe(true);
    expect(events(fromUrl).map((m) => m.type)).toEqual(['sequence_started']);
  });

  it('stops sending after unsubscribe and answers a malformed message with the error body without closing', async () => {
    server = await startTestServer();
    const client = await open(server.wsUrl());
    const watcher = await open(server.wsUrl());
    client.send({ action: 'unsubscribe' });
    client.send({ action: 'subscribe', filters: { types: ['no_such_event'] } });
    const error = (await client.waitFor((m) => (m as unknown as { success?: boolean }).success === false)) as unknown as {
      error: { code: number; details: { path: string }[] };
    };
    expect(error.error.code).toBe(5600);
    expect(error.error.details[0]?.path).toBe('filters.types[0]');

    const { run_id } = await server.start(actuatorRun('quiet', 1));
    await watcher.completed(run_id);
    client.send({ action: 'subscribe' });
    client.send('[]');
    await client.waitFor((m) => (m as unknown as { success?: boolean }).success === false && client.messages.length === 2);
    const again = await server.start(actuatorRun('loud', 1));
    await client.completed(again.run_id);
    expect(client.of(run_id)).toEqual([]);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });
});

describe('replay', () => {
  it('after a reconnect with ?since=, sends the missed events then live ones, with no gap and no duplicate', async () => {
    server = await startTestServer();
    const watcher = await open(server.wsUrl());
    const first = await open(server.wsUrl());
    const a = await server.start(actuatorRun('replay-a', 2));
    await first.completed(a.run_id);
    const lastSeen = first.messages.at(-1)?.seq as number;
    first.ws.close();
    await first.closed;

    // Missed while disconnected.
    const b = await server.start(actuatorRun('replay-b', 2));
    await watcher.completed(b.run_id);

    const second = await open(server.wsUrl({ since: lastSeen }));
    const c = await server.start(actuatorRun('replay-c', 2));
    await second.completed(c.run_id);
    const seqs = second.messages.map((m) => m.seq);
    expect(seqs[0]).toBe(lastSeen + 1);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => lastSeen + 1 + i));
    expect(second.of(b.run_id).map((m) => m.type)).toContain('sequence_completed');
  });

  it('replays on request, respecting the filters, while events keep flowing', async () => {
    server = await startTestServer();
    const watcher = await open(server.wsUrl());
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => server!.start(actuatorRun(`burst-${i}`, 3))));
    for (const run of runs) await watcher.completed(run.run_id);

    const client = await open(server.wsUrl());
    client.send({ action: 'subscribe', filters: { types: ['sequence_completed', 'sequence_started'] } });
    client.send({ action: 'replay', since: 0 });
    // Runs that start while the replay is being sent are delivered once, after it, in order.
    const late = await Promise.all(Array.from({ length: 5 }, (_, i) => server!.start(actuatorRun(`late-${i}`, 1))));
    for (const run of late) await client.completed(run.run_id);
    const seqs = client.messages.map((m) => m.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    const expected = watcher.messages.filter((m) => m.type === 'sequence_completed' || m.type === 'sequence_started').map((m) => m.seq);
    expect(seqs.slice(0, expected.length)).toEqual(expected);
    expect(client.messages.filter((m) => m.type === 'sequence_completed')).toHaveLength(25);
  });

  it('replays everything buffered when since comes from before a restart (beyond the newest seq)', async () => {
    server = await startTestServer();
    const watcher = await open(server.wsUrl());
    const run = await server.start(actuatorRun('restart', 1));
    await watcher.completed(run.run_id);
    const client = await open(server.wsUrl({ since: 1_000_000 }));
    await client.completed(run.run_id);
    expect(client.messages.map((m) => m.seq)).toEqual(watcher.messages.map((m) => m.seq));
  });

  it('answers a plain HTTP request on the stream routes with 426 in the one error shape', async () => {
    server = await startTestServer();
    for (const path of ['/api/v1/ws', '/ws/realtime/x']) {
      const response = await fetch(`${server.base}${path}`);
      expect(response.status).toBe(426);
      expect(((await response.json()) as { error: { code: number } }).error.code).toBe(5600);
    }
  });

  it('refuses a since that is not a number with close code 1008', async () => {
    server = await startTestServer();
    const client = await open(server.wsUrl({ since: 'yesterday' }));
    expect((await client.closed).code).toBe(1008);
  });
});

describe('auth', () => {
  const tokens = [
    { token: 'op-secret', role: 'operator' as const },
    { token: 'view-secret', role: 'viewer' as const },
  ];

  it('closes a socket without a token or with a bad one with 4001', async () => {
    server = await startTestServer({ tokens });
    const none = await open(server.wsUrl());
    const bad = await open(server.wsUrl({ token: 'guess' }, '/ws/realtime/x'));
    expect(await none.closed).toEqual({ code: 4001, reason: 'Unauthorized' });
    expect((await bad.closed).code).toBe(4001);
  });

  it('lets a viewer token watch a run an operator starts', async () => {
    server = await startTestServer({ tokens });
    const viewer = await open(server.wsUrl({ token: 'view-secret' }));
    const { run_id } = await server.start(actuatorRun('watched', 1), 'op-secret');
    const done = await viewer.completed(run_id);
    expect(done.data).toMatchObject({ status: 'completed' });
  });
});

describe('shutdown', () => {
  it('closes every socket with 1001 when the app closes', async () => {
    server = await startTestServer();
    const a = await open(server.wsUrl());
    const b = await open(server.wsUrl({}, '/ws/realtime/b'));
    const closing = server.close();
    server = null;
    expect((await a.closed).code).toBe(1001);
    expect((await b.closed).code).toBe(1001);
    await closing;
  });

  it('does not let a peer that ignores the close hold the shutdown', async () => {
    server = await startTestServer();
    const deaf = await open(server.wsUrl());
    const socket = (deaf.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    // Without the cut, the close handshake would wait for this peer for 30 s (beyond the test's time).
    await server.close();
    server = null;
    // The close frame was already on its way, so the peer still learns why once it reads.
    socket.resume();
    expect((await deaf.closed).code).toBe(1001);
  });
});

export type { EventEnvelope };
