/**
 * Real `sequencer serve` processes as nodes of one cluster: every test file gets a fresh
 * PostgreSQL database, and `node(id)` starts a node on it (sim driver) with its event stream open.
 * After each test every process is killed and every stream closed; the database goes after the file.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.ts';
import { killAll, startServe, stream, type ServeProcess, type Stream } from './recovery-process.harness.ts';

/** A node process and its stream. */
export type NodeProcess = ServeProcess & { events: Stream };

/** Returns `node(nodeId, ...args)`, which starts a node of this file's cluster. */
export function useClusterNodes(): (nodeId: string, ...args: string[]) => Promise<NodeProcess> {
  let database: TestDatabase;
  const streams: Stream[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await killAll();
  });
  afterAll(() => database.drop());
  return async (nodeId, ...args) => {
    const server = await startServe(['--db', database.url, '--node-id', nodeId, '--sim-latency-ms', '5', ...args]);
    const events = await stream(server.url);
    streams.push(events);
    return { ...server, events };
  };
}
