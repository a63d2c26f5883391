/**
 * A client that stops reading must not make the server hold its events: once its unsent data
 * passes 4 MiB it is closed with 1013, and the server's memory stays flat while far more than
 * that keeps flowing.
 *
 * The bound: the slow client may hold at most 4 MiB plus one message in its socket until the close
 * completes; the replay buffer is already full (its entries encoded) before the baseline is taken,
 * so it does not grow. Measured: about 2 MiB of heap and 5 MiB of buffers.
 * 16 MiB leaves room for allocator and GC noise, and the test pushes at least 64 MiB of events
 * past the paused client: a server that kept them would grow by far more than the bound (the
 * kernel's loopback buffers absorb only a few MiB of a socket nobody reads).
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../src/events/event-types.ts';
import { connect, startTestServer, type TestServer } from './ws-harness.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
const BOUND = 16 * MiB;
const VOLUME = 64 * MiB;
const BATCH = 10;

/** A run of 50 notification steps with 2,000-character messages: about 180 KB of events. */
function chattyRun(sequenceId: string): object {
  return {
    sequence_id: sequenceId,
    steps: Array.from({ length: 50 }, (_, i) => ({
      name: `notify ${i}`,
      action: { type: 'notification', title: 'load', message: `${i} ${'x'.repeat(1990)}` },
    })),
  };
}

function memory(): number {
  // A second pass frees the buffers whose release the first one only scheduled.
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

let server: TestServer | null = null;
let runs = 0;

afterEach(async () => {
  await server?.close();
  server = null;
});

/** Starts `BATCH` runs and resolves when all of them have completed. */
async function batch(target: TestServer): Promise<void> {
  const ids = new Set<string>();
  const done = new Promise<void>((resolve) => {
    const stop = target.services.engine.events.subscribe((event: EventEnvelope) => {
      if (event.type !== 'sequence_completed') return;
      ids.delete((event.data as { run_id: string }).run_id);
      if (ids.size === 0) {
        stop();
        resolve();
      }
    });
  });
  for (let i = 0; i < BATCH; i++) ids.add(target.services.engine.start(chattyRun(`chatty-${runs++}`)).run_id);
  await done;
}

describe('a slow reader', () => {
  it('is closed with 1013 while the server keeps its memory flat and other clients keep up', async () => {
    server = await startTestServer();
    const { hub } = server.services;
    const healthy = await connect(server.wsUrl());
    healthy.ws.removeAllListeners('message');
    const firstSeq = hub.lastSeq + 1;
    let healthyCount = 0;
    let wake = () => {};
    let broken: Error | null = null;
    healthy.ws.on('message', () => {
      healthyCount++;
      wake();
    });
    healthy.ws.once('close', (code) => {
      broken = new Error(`healthy client closed with ${code}`);
      wake();
    });
    /** Resolves once the healthy client has every event so far (it shares this process's CPU). */
    const healthyCaughtUp = () =>
      new Promise<void>((resolve, reject) => {
        wake = () => (broken ? reject(broken) : healthyCount === hub.lastSeq - firstSeq + 1 && resolve());
        wake();
      });
    // Fill the replay buffer first (with a client, so its entries hold their wire bytes): from
    // then on it holds a constant amount.
    while (hub.size < hub.capacity) {
      await batch(server);
      await healthyCaughtUp();
    }

    const slow = await connect(server.wsUrl());
    slow.ws.removeAllListeners('message');
    let slowCount = 0;
    slow.ws.on('message', () => slowCount++);
    (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const slowFirstSeq = hub.lastSeq + 1;

    const before = memory();
    let published = 0;
    const stopCounting = server.services.engine.events.subscribe((event) => {
      published += JSON.stringify(event).length;
    });
    while (published < VOLUME) {
      await batch(server);
      await healthyCaughtUp();
    }
    stopCounting();
    const growth = memory() - before;

    expect(growth).toBeLessThan(BOUND);
    expect(healthy.ws.readyState).toBe(healthy.ws.OPEN);
    // The slow one, once it reads again, finds what was queued before the cut, then the 1013.
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    const closed = await slow.closed;
    expect(closed.code).toBe(1013);
    expect(slowCount).toBeGreaterThan(0);
    expect(slowCount).toBeLessThan(hub.lastSeq - slowFirstSeq + 1);
    healthy.ws.terminate();
  }, 60_000);
});
