/**
 * The server side of the operator console: the page and its assets at `/` (open without a token,
 * since they hold no data), the statechart route that the page draws, the caller's role, and the
 * start time in `/health` by which the page tells a restart.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chartGraph } from '../../machines/chart-graph.ts';
import { sequenceMachine } from '../../machines/sequence.machine.ts';
import { expectError, testApp, type TestApp } from './api-harness.ts';
import { buildApp } from '../../src/api/build-app.ts';

const TOKENS = [
  { token: 'operator-secret', role: 'operator' as const },
  { token: 'viewer-secret', role: 'viewer' as const },
];

let app: TestApp | null = null;
const dirs: string[] = [];

afterEach(async () => {
  await app?.close();
  app = null;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A built console in a temporary directory: a page that loads one hashed asset. */
function fakeConsole(): string {
  const dir = mkdtempSync(join(tmpdir(), 'console-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="/assets/index-abc123.js"></script>');
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log("console")');
  return dir;
}

async function appWithConsole(root: string): Promise<TestApp> {
  const base = await testApp({ tokens: TOKENS });
  await base.app.close();
  const built = await buildApp(base.services, { console: { root } });
  await built.ready();
  return { ...base, app: built, inject: (options) => built.inject(options), close: async () => { await built.close(); await base.services.close(); } };
}

describe('the console at /', () => {
  it('serves the page and its assets without a token, while the API still needs one', async () => {
    app = await appWithConsole(fakeConsole());
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.body).toContain('/assets/index-abc123.js');
    const asset = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toContain('immutable');
    expectError(await app.inject({ method: 'GET', url: '/api/v1/sequences' }), 401, 5650);
    // Only the built files are served: any other path is still the API's 404 body.
    const headers = { authorization: 'Bearer operator-secret' };
    expectError(await app.inject({ method: 'GET', url: '/assets/missing.js', headers }), 404, 5652);
    expectError(await app.inject({ method: 'GET', url: '/secrets.txt', headers }), 404, 5652);
  });

  it('says how to build the console when it was not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'console-'));
    dirs.push(empty);
    app = await appWithConsole(empty);
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('npm run build:console');
  });
});

describe('GET /api/v1/statechart', () => {
  it('answers the graph of the sequence machine the server runs', async () => {
    app = await testApp({ tokens: TOKENS });
    const response = await app.inject({ method: 'GET', url: '/api/v1/statechart', headers: { authorization: 'Bearer viewer-secret' } });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toEqual({ success: true, ...chartGraph(sequenceMachine) });
    expect(body.nodes.map((n: { id: string }) => n.id)).toContain('running.executing');
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(doc.paths['/api/v1/statechart']).toBeDefined();
  });
});

describe('GET /api/v1/whoami', () => {
  it("tells the caller its token's role, and 401 without a token", async () => {
    app = await testApp({ tokens: TOKENS });
    const as = (token: string) => app!.inject({ method: 'GET', url: '/api/v1/whoami', headers: { authorization: `Bearer ${token}` } });
    expect((await as('operator-secret')).json()).toEqual({ success: true, role: 'operator', auth_required: true });
    expect((await as('viewer-secret')).json()).toEqual({ success: true, role: 'viewer', auth_required: true });
    expectError(await app.inject({ method: 'GET', url: '/api/v1/whoami' }), 401, 5650);
  });

  it('calls everyone an operator on a server without tokens', async () => {
    app = await testApp();
    expect((await app.inject({ method: 'GET', url: '/api/v1/whoami' })).json()).toEqual({ success: true, role: 'operator', auth_required: false });
  });
});

describe('GET /health', () => {
  it('says when this server started, the same on every call', async () => {
    app = await testApp();
    const first = (await app.inject({ method: 'GET', url: '/health' })).json();
    const second = (await app.inject({ method: 'GET', url: '/health' })).json();
    expect(new Date(first.started_at).toISOString()).toBe(first.started_at);
    expect(second.started_at).toBe(first.started_at);
  });
});

describe('GET /api/v1/sequences?sequence_id=', () => {
  it("lists only that sequence's runs, newest first, with the status filters as usual", async () => {
    app = await testApp();
    const start = async (sequenceId: string) => {
      const response = await app!.inject({ method: 'POST', url: '/api/v1/sequences', payload: { sequence_id: sequenceId, mode: 'parallel', steps: [{ delay_seconds: 0 }] } });
      const { run_id } = response.json();
      await app!.ended(run_id);
      return run_id as string;
    };
    const first = await start('zone-a');
    await start('zone-b');
    const second = await start('zone-a');
    const list = (query: string) => app!.inject({ method: 'GET', url: `/api/v1/sequences?${query}` }).then((r) => r.json());
    const all = await list('sequence_id=zone-a');
    expect(all.total).toBe(2);
    expect(all.sequences.map((p: { run_id: string }) => p.run_id)).toEqual([second, first]);
    expect((await list('sequence_id=zone-a&status=completed')).total).toBe(2);
    expect((await list('sequence_id=zone-a&status=failed')).total).toBe(0);
    expect((await list('sequence_id=zone-a&running_only=true')).total).toBe(0);
    expect((await list('sequence_id=zone-a&running_only=true&status=completed')).total).toBe(0);
    expect((await list('sequence_id=zone-a&limit=1&offset=1')).sequences[0].run_id).toBe(first);
    expect((await list('sequence_id=nobody')).total).toBe(0);
  });
});
