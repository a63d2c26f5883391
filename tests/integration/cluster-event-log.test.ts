import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { migratePg } from '../../src/store/postgres/postgres.migrations.ts';
import { appendEvents, headSeq, logEvents, pruneEvents, readSince } from '../../src/cluster/event-log.ts';
import { EventTail } from '../../src/cluster/event-tail.ts';
import type { EventEnvelope, PendingEvent } from '../../src/events/event-types.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.ts';

let db: TestDatabase;
let writer: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  writer = db.pool(8);
  await migratePg(writer);
});
afterAll(async () => {
  await db.drop();
});

/** The n-th event of a run: a notification whose title is n. */
function signal(runId: string, n: number): PendingEvent {
  return { type: 'notification', data: { sequence_id: 's', run_id: runId, title: String(n), message: '', severity: 'info', step_name: null }, at: 1_700_000_000_000 + n };
}

const runOf = (event: EventEnvelope) => (event.data as { run_id: string }).run_id;

/** A tailer on a pool of its own (another node), collecting what it is handed. */
async function tailer(): Promise<{ tail: EventTail; seen: EventEnvelope[] }> {
  const seen: EventEnvelope[] = [];
  const tail = new EventTail({ pool: db.pool(2), pollMs: 50, onEvents: (events) => seen.push(...events) });
  await tail.start();
  return { tail, seen };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('the cluster event log', () => {
  it('numbers concurrent appends without gaps and hands every tailer the same order, each run in its own order', async () => {
    const a = await tailer();
    const b = await tailer();
    // 8 writers, each a run appending 25 turns of 4 events in transactions of their own, all at once.
    const runs = Array.from({ length: 8 }, (_, r) => `run-${r}`);
    await Promise.all(
      runs.map(async (runId) => {
        for (let turn = 0; turn < 25; turn++) {
          const client = await writer.connect();
          try {
            await client.query('BEGIN');
            await appendEvents(client, [0, 1, 2, 3].map((i) => signal(runId, turn * 4 + i)));
            await client.query('COMMIT');
          } finally {
            client.release();
          }
        }
      }),
    );
    await until(() => a.seen.length === 800 && b.seen.length === 800);
    expect(a.seen.map((e) => e.seq)).toEqual(Array.from({ length: 800 }, (_, i) => i + 1));
    expect(b.seen).toEqual(a.seen);
    for (const runId of runs) {
      const names = a.seen.filter((e) => runOf(e) === runId).map((e) => Number((e.data as { title: string }).title));
      expect(names).toEqual(Array.from({ length: 100 }, (_, i) => i));
    }
    expect(a.seen[0]?.timestamp).toBe(1_700_000_000);
    await Promise.all([a.tail.close(), b.tail.close()]);
  });

  it('leaves no gap for a transaction that rolled back, and replays by seq from the table', async () => {
    const start = (await readSince(writer, 0, 10_000)).length;
    const client = await writer.connect();
    await client.query('BEGIN');
    await appendEvents(client, [signal('run-rolled-back', 0)]);
    await client.query('ROLLBACK');
    client.release();
    await logEvents(writer, [signal('run-after', 0), signal('run-after', 1)]);
    const replay = await readSince(writer, start, 10);
    expect(replay.map((e) => [e.seq, runOf(e)])).toEqual([
      [start + 1, 'run-after'],
      [start + 2, 'run-after'],
    ]);
  });

  it('keeps the newest events when pruned, and numbers on after them', async () => {
    const head = await headSeq(writer);
    await pruneEvents(writer, 2);
    expect((await readSince(writer, 0, 10_000)).map((e) => e.seq)).toEqual([head - 1, head]);
    await logEvents(writer, [signal('run-after-prune', 0)]);
    expect((await readSince(writer, head, 10)).map((e) => e.seq)).toEqual([head + 1]);
  });

  it('still delivers by polling when its listening connection is cut', async () => {
    const { tail, seen } = await tailer();
    await writer.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()");
    await logEvents(writer, [signal('run-polled', 0)]);
    await until(() => seen.length === 1);
    expect(seen.map(runOf)).toEqual(['run-polled']);
    await tail.close();
  });
});
