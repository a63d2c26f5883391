/**
 * `sequencer backup <file>` against a running server that holds its database exclusively: the copy
 * is taken while the server keeps taking runs, opens as a database with the same runs and
 * templates, and a server started on it restores them. Only an operator may take one, and an
 * existing file is not overwritten by accident.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { defaultConfig, type ServerConfig } from '../../src/config/server-config.ts';
import type { EventEnvelope } from '../../src/events/event-types.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { cli } from '../helpers/cli.harness.ts';

const OPERATOR = 'backup-operator';
const VIEWER = 'backup-viewer';
const dir = mkdtempSync(join(tmpdir(), 'sequencer-backup-'));
const servers: RunningServer[] = [];
afterAll(async () => {
  for (const server of servers) await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const config = (db: string): ServerConfig => ({
  ...defaultConfig(),
  port: 0,
  db,
  simLatencyMs: 0,
  tokens: [
    { token: OPERATOR, role: 'operator' },
    { token: VIEWER, role: 'viewer' },
  ],
});

async function call(server: RunningServer, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${OPERATOR}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

/** Every run of a server as `run_id status`, sorted. */
async function runs(server: RunningServer): Promise<string[]> {
  const { json } = await call(server, 'GET', '/sequences?limit=500');
  return (json.sequences as { run_id: string; status: string }[]).map((run) => `${run.run_id} ${run.status}`).sort();
}

it('copies the database of a running server to a file that restores the same runs and templates', { timeout: 90_000 }, async () => {
  const live = await startServer(config(join(dir, 'live.db')));
  servers.push(live);
  const ended = new Set<string>();
  live.services.engine.events.subscribe((event) => {
    if (event.type === 'sequence_completed') ended.add((event as EventEnvelope<'sequence_completed'>).data.run_id);
  });
  for (const zone of [1, 2, 3]) {
    const { json } = await call(live, 'POST', '/sequences', { sequence_id: `zone-${zone}`, steps: [{ name: 'Valve', action: { type: 'actuator_command', esp_id: 'ESP_BK', gpio: zone, command: 'ON' } }] });
    await expect.poll(() => ended.has(json.run_id as string)).toBe(true);
  }
  expect((await call(live, 'POST', '/sequences', { sequence_id: 'long', steps: [{ name: 'Soak', delay_seconds: 600 }] })).status).toBe(202);
  expect((await call(live, 'PUT', '/sequence-templates/pulse', { params: {}, steps: [{ delay_seconds: 1 }] })).status).toBe(201);
  const before = await runs(live);

  const copy = join(dir, 'copy.db');
  const taken = await cli(['backup', copy, '--url', live.url, '--token', OPERATOR]);
  expect([taken.code, taken.stderr]).toEqual([0, '']);
  expect(taken.stdout).toMatch(new RegExp(`^backup written to ${copy}: 4 runs \\(1 unfinished\\), 1 templates, [\\d.]+ MB\\n$`));
  expect(existsSync(`${copy}.partial`)).toBe(false);

  // The server went on as it was: it still takes runs.
  expect((await call(live, 'POST', '/sequences', { sequence_id: 'after', steps: [{ delay_seconds: 0 }] })).status).toBe(202);

  const restored = await startServer(config(copy));
  servers.push(restored);
  expect(await runs(restored)).toEqual(before);
  expect((await call(restored, 'GET', '/sequence-templates/pulse')).json).toMatchObject({ name: 'pulse', version: 1 });
  expect((await call(restored, 'GET', '/sequences/long')).json).toMatchObject({ status: 'running', current_step_name: 'Soak' });

  const byViewer = await cli(['backup', join(dir, 'viewer.db'), '--url', live.url, '--token', VIEWER]);
  expect(byViewer.code).toBe(1);
  expect(byViewer.stderr).toMatch(/^sequencer backup: the server answered 403: A viewer token may only read/);
  expect(existsSync(join(dir, 'viewer.db'))).toBe(false);

  const taken2 = join(dir, 'taken.db');
  writeFileSync(taken2, 'notes');
  const refused = await cli(['backup', taken2, '--url', live.url, '--token', OPERATOR]);
  expect([refused.code, refused.stderr]).toEqual([2, `sequencer backup: ${taken2} already exists; give another name, or --force to replace it\n`]);
  expect((await cli(['backup', taken2, '--url', live.url, '--token', OPERATOR, '--force'])).code).toBe(0);
});
