import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { migratePg } from '../../src/store/postgres/postgres.migrations.ts';
import { CommandBus, type CommandKind } from '../../src/cluster/command-bus.ts';
import { Codes, SequencerError } from '../../src/domain/errors.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.ts';

let db: TestDatabase;
let pool: pg.Pool;
const buses: CommandBus[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  pool = db.pool();
  await migratePg(pool);
});
afterAll(async () => {
  for (const bus of buses) await bus.close();
  await db.drop();
});

/** A node's bus; `executed` lists what it was asked to do. */
async function node(nodeId: string, execute: (kind: CommandKind, runId: string, body: unknown) => Promise<unknown> = async () => null, timeoutMs = 5000) {
  const executed: [CommandKind, string, unknown][] = [];
  const bus = new CommandBus({
    pool: db.pool(3),
    nodeId,
    timeoutMs,
    execute: (kind, runId, body) => {
      executed.push([kind, runId, body]);
      return execute(kind, runId, body);
    },
  });
  buses.push(bus);
  await bus.start();
  return { bus, executed };
}

describe('the cluster command bus', () => {
  it("carries a control call to the owning node and brings back its answer or its error", async () => {
    const owner = await node('owner', async (kind, runId) => {
      if (kind === 'resume') throw new SequencerError(Codes.INVALID_STATE, `Run ${runId} is running; only a paused run can be resumed`);
      return { run_id: runId, status: 'paused' };
    });
    const caller = await node('caller');
    await expect(caller.bus.send('owner', 'run-1', 'pause', { outputs: 'hold' })).resolves.toEqual({ run_id: 'run-1', status: 'paused' });
    const refused = await caller.bus.send('owner', 'run-1', 'resume').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SequencerError);
    expect(refused).toMatchObject({ code: 5619, httpStatus: 409, message: 'Run run-1 is running; only a paused run can be resumed' });
    expect(owner.executed).toEqual([
      ['pause', 'run-1', { outputs: 'hold' }],
      ['resume', 'run-1', {}],
    ]);
    expect(caller.executed).toEqual([]);
    expect((await pool.query('SELECT count(*)::int AS n FROM commands')).rows[0].n).toBe(0);
  });

  it('answers 503/5661 when the owner does not answer in time, and withdraws the command so it never runs late', async () => {
    const caller = await node('impatient', undefined, 300);
    const error = await caller.bus.send('silent', 'run-2', 'cancel', { reason: 'x' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 5661, httpStatus: 503 });
    expect((error as Error).message).toBe('Node silent did not answer within 0.3 s; the command was withdrawn');
    const late = await node('silent');
    expect(late.executed).toEqual([]);
  });
});
