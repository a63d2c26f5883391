import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { migratePg } from '../../src/store/postgres/postgres.migrations.ts';
import { readSince } from '../../src/cluster/event-log.ts';
import { NodeMembership } from '../../src/cluster/node-membership.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.ts';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = db.pool();
  await migratePg(pool);
});
afterAll(async () => {
  await db.drop();
});

const node = (nodeId: string) => new NodeMembership({ pool: db.pool(2), nodeId });

async function nodeEvents(): Promise<[string, string][]> {
  return (await readSince(pool, 0, 1000)).map((e) => [e.type, (e.data as { node_id: string }).node_id]);
}

describe('cluster membership', () => {
  it('reports a silent node lost exactly once however many nodes notice, and joined again when it is heard', async () => {
    const nodes = ['a', 'b', 'c', 'd'].map(node);
    for (const member of nodes) await member.join();
    // b has been silent for 20 s, as after a kill -9 (the database clock judges).
    await pool.query("UPDATE nodes SET heartbeat_at = now() - interval '20 seconds' WHERE node_id = 'b'");
    const [a, b, c, d] = nodes as [NodeMembership, NodeMembership, NodeMembership, NodeMembership];
    const marked = await Promise.all([a.tick(), c.tick(), d.tick(), a.tick(), c.tick()]);
    expect(marked.flat()).toEqual(['b']);
    const listed = await a.nodes();
    expect(listed.map((n) => [n.node_id, n.lost_at !== null])).toEqual([
      ['a', false],
      ['b', true],
      ['c', false],
      ['d', false],
    ]);
    await b.tick();
    expect(await nodeEvents()).toEqual([
      ['node_joined', 'a'],
      ['node_joined', 'b'],
      ['node_joined', 'c'],
      ['node_joined', 'd'],
      ['node_lost', 'b'],
      ['node_joined', 'b'],
    ]);
    const lostEvent = (await readSince(pool, 4, 1))[0];
    expect((lostEvent?.data as { silent_seconds: number }).silent_seconds).toBeGreaterThanOrEqual(20);
    expect((await b.nodes()).find((n) => n.node_id === 'b')?.lost_at).toBeNull();
  });

  it('does not report a node whose heartbeat is fresh', async () => {
    const e = node('e');
    await e.join();
    expect(await node('f').tick()).toEqual([]);
  });
});
