/**
 * The floor server of the HTTP benchmark (`bench/http.bench.ts --serve-floor`): what any server
 * built on the mandated stack pays for a run, the figure the server's own is measured against.
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import type { AnyActorRef } from 'xstate';
import { SimDriver } from '../src/drivers/sim.driver.ts';
import { startFloorRun, type FloorHost } from './floor-run.ts';

/**
 * The floor server, until SIGTERM: Fastify with the same JSON body parsing, each definition
 * validated with the engine's zod schemas and run as a bare XState actor against the sim driver
 * (floor-run.ts), each transition's persisted snapshot written to SQLite `:memory:` in one
 * transaction per turn of the event loop (SPEC 11), and a 202 answer. No events, safety, metrics,
 * history or auth: what a server built as mandated pays before doing any of that.
 */
export async function serveFloor(): Promise<void> {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE runs (run_id INTEGER PRIMARY KEY, snapshot TEXT NOT NULL, updated_at INTEGER NOT NULL)');
  const upsert = db.prepare('INSERT INTO runs VALUES (?, ?, ?) ON CONFLICT(run_id) DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at');
  const commit = db.transaction((rows: [number, string][]) => {
    const now = Date.now();
    for (const [run, snapshot] of rows) upsert.run(run, snapshot, now);
  });
  let pending: [number, string][] = [];
  const persist = (run: number, actor: AnyActorRef) => {
    if (pending.length === 0) {
      setImmediate(() => {
        const rows = pending;
        pending = [];
        commit(rows);
      });
    }
    pending.push([run, JSON.stringify(actor.getPersistedSnapshot())]);
  };
  let finished = 0;
  // Runs it started, for the batch part (the server's `sequencer_runs_started_total`): an item refused 422 is not one.
  let started = 0;
  const host: FloorHost = { driver: new SimDriver(0), started: (_run, step) => void (step === 0 && started++), ended: () => {}, finished: () => finished++ };
  const app = Fastify();
  app.get('/api/v1/floor/finished', async () => ({ finished }));
  let runs = 0;
  app.post('/api/v1/sequences', async (request, reply) => {
    const totalSteps = startFloorRun(request.body, ++runs, host, persist);
    if (totalSteps === null) return reply.code(422).send({ success: false });
    return reply.code(202).send({ success: true, sequence_id: 'bench', run_id: `run-${randomUUID()}`, total_steps: totalSteps, status: 'running' });
  });
  // The batch route answers one result per item, as the server's does (SPEC 7).
  app.post('/api/v1/sequences/batch', async (request, reply) => {
    const items = (request.body as { sequences?: unknown[] }).sequences ?? [];
    const results = items.map((item) => {
      const totalSteps = startFloorRun(item, ++runs, host, persist);
      return totalSteps === null ? { status: 422 } : { status: 202, run_id: `run-${randomUUID()}`, total_steps: totalSteps };
    });
    return reply.code(207).send({ results });
  });
  // The one metric the bench reads of a server: runs started.
  app.get('/metrics', async () => `sequencer_runs_started_total ${started}\n`);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  process.once('SIGTERM', () => {
    void app.close().then(() => process.exit(0));
  });
  console.log(`listening on ${url}`);
}
