/**
 * Every answer that acknowledges a change (start, batch, template start, cancel, pause, resume) leaves
 * only once the change is committed to the store (SPEC 11): the store is watched, and at the
 * moment each answer has been sent the test reads what the store had committed for the run.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/build-app.ts';
import { createServices, type Services } from '../../src/services.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import { testConfig } from './api-harness.ts';

/** The events each run's journal holds as committed, and what was committed when each answer had been sent. */
let committed: Map<string, string[]>;
let atAnswer: Map<string, Map<string, string[]>>;
let services: Services;
let app: FastifyInstance;

beforeEach(async () => {
  committed = new Map();
  atAnswer = new Map();
  services = await createServices(testConfig(), {
    openStore: () => {
      const store = openSqliteStore(':memory:');
      const commit = store.commit.bind(store);
      store.commit = async (batch) => {
        const result = await commit(batch);
        for (const start of batch.starts) committed.set(start.run_id, []);
        for (const record of batch.records) {
          const body = JSON.parse(record.body) as { events?: { type: string }[] };
          committed.get(record.run_id)?.push(...(body.events ?? []).map((event) => event.type));
        }
        for (const end of batch.ends) committed.get(end.run_id)?.push(`ended ${end.status}`);
        return result;
      };
      return store;
    },
  });
  app = await buildApp(services);
  app.addHook('onResponse', async (request) => {
    atAnswer.set(`${request.method} ${request.url}`, new Map([...committed].map(([runId, events]) => [runId, [...events]])));
  });
  await app.ready();
});

afterEach(async () => {
  await app.close();
  await services.close();
});

async function call(method: 'POST' | 'PUT', url: string, body: object = {}): Promise<{ status: number; json: Record<string, unknown>; stored: Map<string, string[]> }> {
  const response = await app.inject({ method, url: `/api/v1${url}`, payload: body });
  return { status: response.statusCode, json: response.json(), stored: atAnswer.get(`${method} /api/v1${url}`) as Map<string, string[]> };
}

const longSoak = (sequenceId: string) => ({ sequence_id: sequenceId, steps: [{ name: 'Soak', delay_seconds: 600 }] });

describe('answers that acknowledge a change wait for its commit', () => {
  it('a start answers 202 with its run already stored', async () => {
    const start = await call('POST', '/sequences', longSoak('durable-start'));
    expect(start.status).toBe(202);
    expect(start.stored.get(start.json.run_id as string)).toEqual(['START']);
  });

  it('a template start answers 202 with its run already stored', async () => {
    expect((await call('PUT', '/sequence-templates/soak', longSoak('from-template'))).status).toBe(201);
    const start = await call('POST', '/sequence-templates/soak/start');
    expect(start.status).toBe(202);
    expect(start.stored.get(start.json.run_id as string)).toEqual(['START']);
  });

  it('a batch answers 207 with every run it admitted already stored', async () => {
    const batch = await call('POST', '/sequences/batch', { sequences: [longSoak('batch-a'), { steps: [] }, longSoak('batch-b')] });
    expect(batch.status).toBe(207);
    const runIds = (batch.json.results as { run_id?: string }[]).map((r) => r.run_id);
    expect(runIds.map((runId) => (runId ? batch.stored.get(runId) : 'refused'))).toEqual([['START'], 'refused', ['START']]);
  });

  it('pause, resume and cancel answer with their transition already stored', async () => {
    const runId = (await call('POST', '/sequences', longSoak('durable-control'))).json.run_id as string;

    const pause = await call('POST', `/sequences/${runId}/pause`);
    expect([pause.status, pause.stored.get(runId)]).toEqual([200, ['START', 'PAUSE']]);
    const resume = await call('POST', `/sequences/${runId}/resume`);
    expect([resume.status, resume.stored.get(runId)]).toEqual([200, ['START', 'PAUSE', 'RESUME']]);
    const cancel = await call('POST', `/sequences/${runId}/cancel`, { reason: 'rain' });
    expect(cancel.status).toBe(200);
    // Cancelled, or on its way there: its cleanup and safe state run after the answer.
    const stored = cancel.stored.get(runId);
    expect(stored?.slice(0, 3)).toEqual(['START', 'PAUSE', 'RESUME']);
    // The turn a run ends in writes its history row instead of its last journal record.
    expect(['CANCEL', 'ended cancelled']).toContain(stored?.[3]);
  });
});
