/**
 * Two nodes of a cluster in this process: real servers on free loopback ports sharing one fresh
 * PostgreSQL database, and the small helpers their tests share.
 */
import { afterAll, beforeAll } from 'vitest';
import type { ServerConfig } from '../../src/config/server-config.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg-database.ts';
import { startTestServer, type TestServer } from './ws-harness.ts';

/** Two nodes and their database. */
export interface TwoNodes {
  db: TestDatabase;
  a: TestServer;
  b: TestServer;
  close(): Promise<void>;
}

/** Starts `node-a` and `node-b` on a new database, both with `config` over the test defaults. */
export async function startTwoNodes(config: Partial<ServerConfig> = {}): Promise<TwoNodes> {
  const db = await createTestDatabase();
  const a = await startTestServer({ ...config, db: db.url, nodeId: 'node-a' });
  const b = await startTestServer({ ...config, db: db.url, nodeId: 'node-b' });
  return {
    db,
    a,
    b,
    async close() {
      await a.close();
      await b.close();
      await db.drop();
    },
  };
}

/** Two nodes for the tests of one file: started before them, closed after them. */
export function twoNodesPerFile(config: Partial<ServerConfig> = {}): { readonly a: TestServer; readonly b: TestServer } {
  let nodes: TwoNodes | undefined;
  beforeAll(async () => {
    nodes = await startTwoNodes(config);
  });
  afterAll(() => nodes?.close());
  const started = () => {
    if (!nodes) throw new Error('the nodes start before the tests');
    return nodes;
  };
  return {
    get a() {
      return started().a;
    },
    get b() {
      return started().b;
    },
  };
}

/** A REST call's status and JSON body. */
export async function call(server: TestServer, method: string, path: string, body?: object): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.base}/api/v1${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Resolves once `check` holds (for state another node changes, which no event here announces). */
export async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 20));
}
