/**
 * Run ownership on a PostgreSQL store shared by two nodes (SPEC 14), with two store instances as
 * the two nodes on one real database: a run belongs to the node that started it; once its lease
 * expires another node claims it (fence raised) with its journal; the old owner's writes are then
 * refused and its renewal says it lost the run.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/server-config.ts';
import { openConfiguredStore } from '../../src/server.ts';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/postgres.store.ts';
import type { ClaimedRun } from '../../src/store/run-store.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.ts';
import { endOf, recordOf, startOf } from '../unit/run-store.fixtures.ts';

const empty = { starts: [], records: [], ends: [] };
/** Short enough for a test to wait out, long enough for a statement to run within it. */
const SHORT_LEASE_MS = 400;

let database: TestDatabase;
const opened: PostgresStore[] = [];
beforeAll(async () => {
  database = await createTestDatabase();
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await database.empty();
});
afterAll(() => database.drop());

async function node(nodeId: string, leaseMs = SHORT_LEASE_MS): Promise<PostgresStore> {
  const store = await openPostgresStore(database.url, { nodeId, leaseMs });
  opened.push(store);
  return store;
}

/** Claims on `store` until it gets something (the lease it waits for runs on the database clock). */
async function claimWhenExpired(store: PostgresStore, limit = 10): Promise<ClaimedRun[]> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const claimed = await store.claimExpired(limit);
    if (claimed.length > 0) return claimed;
    await new Promise((resolve) => setTimeout(resolve, SHORT_LEASE_MS / 4));
  }
  throw new Error('no lease expired');
}

describe('two nodes on one PostgreSQL store', () => {
  it('leave a run to the node that started it while its lease runs', async () => {
    const a = await node('node-a', 60_000);
    const b = await node('node-b');
    await a.commit({ ...empty, starts: [startOf({ run_id: 'r1' })] });
    expect(await b.claimExpired(10)).toEqual([]);
    // At its own start, b takes what it held before and what expired: nothing of a's.
    expect(await b.unfinishedRuns()).toEqual([]);
    expect((await a.commit({ ...empty, records: [recordOf('r1', { events: [1] })] })).lost).toEqual([]);
  });

  it('hand an expired run to the other node with a higher fence and its journal, and refuse the old owner', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    await a.commit({ ...empty, starts: [startOf({ run_id: 'r1', body: { plan: 'p' } })] });
    await a.commit({ ...empty, records: [recordOf('r1', { events: [1] }), recordOf('r1', { events: [2] })] });
    const [claimed] = await claimWhenExpired(b);
    expect(claimed).toMatchObject({ run_id: 'r1', fence: 2, body: { plan: 'p' }, records: [{ events: [1] }, { events: [2] }] });
    // The old owner wakes up: its record and its end are not written, and it learns it lost the run.
    expect(await a.commit({ ...empty, records: [recordOf('r1', { events: ['zombie'] })], ends: [endOf({ run_id: 'r1', status: 'failed' })] })).toEqual({ lost: ['r1'] });
    expect(await b.commit({ ...empty, records: [recordOf('r1', { events: [3] })] })).toEqual({ lost: [] });
    expect((await b.getRun('r1'))?.status).toBe('running');
    await b.commit({ ...empty, ends: [endOf({ run_id: 'r1' })] });
    expect((await a.getRun('r1'))?.status).toBe('completed');
  });

  it('report through renewal the runs a node lost (expired or claimed), and keep the others', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    await a.commit({ ...empty, starts: [startOf({ run_id: 'old-1', created_at: 1 }), startOf({ run_id: 'old-2', created_at: 2 })] });
    expect((await claimWhenExpired(b, 1)).map((run) => run.run_id)).toEqual(['old-1']);
    await a.commit({ ...empty, starts: [startOf({ run_id: 'fresh', created_at: 3 })] });
    const renewed = await a.renewLeases();
    expect(renewed.kept).toEqual(['fresh']);
    expect([...renewed.lost].sort()).toEqual(['old-1', 'old-2']);
    // A run it lost is no longer renewed, nor written: the next renewal knows only `fresh`.
    expect(await a.renewLeases()).toEqual({ kept: ['fresh'], lost: [] });
  });

  it('let another node claim at once the runs a node hands over at shutdown, and refuse the old owner after', async () => {
    const a = await node('node-a', 60_000);
    const b = await node('node-b', 60_000);
    await a.commit({ ...empty, starts: [startOf({ run_id: 'r1' })] });
    expect(await b.claimExpired(10)).toEqual([]);
    await a.handOver();
    expect((await b.claimExpired(10)).map((run) => [run.run_id, run.fence])).toEqual([['r1', 2]]);
    // What the old owner still tries to write of it is not written: it holds the run no more.
    await a.commit({ ...empty, records: [recordOf('r1', { events: ['late'] })] });
    expect((await b.pool.query('SELECT body FROM run_journal')).rows).toEqual([]);
    expect((await b.renewLeases()).kept).toEqual(['r1']);
  });

  it('split expired runs between nodes claiming at once, none claimed twice', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    const c = await node('node-c');
    await a.commit({ ...empty, starts: Array.from({ length: 40 }, (_, i) => startOf({ run_id: `r${i}`, created_at: i })) });
    await new Promise((resolve) => setTimeout(resolve, SHORT_LEASE_MS * 2));
    const [fromB, fromC] = await Promise.all([b.claimExpired(25), c.claimExpired(25)]);
    const ids = [...fromB, ...fromC].map((run) => run.run_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(40);
  });

  it('give a restarted node (same id) its own runs at once, and fence out its previous incarnation', async () => {
    const before = await node('node-a', 60_000);
    await before.commit({ ...empty, starts: [startOf({ run_id: 'mine' })] });
    const after = await node('node-a', 60_000);
    expect(await after.unfinishedRuns()).toMatchObject([{ run_id: 'mine' }]);
    expect(await before.commit({ ...empty, records: [recordOf('mine', { events: ['late'] })] })).toEqual({ lost: ['mine'] });
    expect(await after.commit({ ...empty, records: [recordOf('mine', { events: ['on'] })] })).toEqual({ lost: [] });
  });

  it('migrate once when nodes open an empty database together', async () => {
    const stores = await Promise.all(['n1', 'n2', 'n3'].map((id) => node(id)));
    const { rows } = await stores[0]!.pool.query<{ version: number }>('SELECT version FROM schema_version ORDER BY version');
    expect(rows.map((row) => row.version)).toEqual([1, 2, 3]);
  });

  it('is what --db postgres://... opens, owned by the configured node id', async () => {
    const store = await openConfiguredStore({ ...defaultConfig(), db: database.url, nodeId: 'greenhouse-2' });
    opened.push(store as PostgresStore);
    expect(store.ownership?.nodeId).toBe('greenhouse-2');
  });
});
