/**
 * The HTTP app over real services (sim driver, optionally a SQLite file) for the template and
 * start-mode tests: requests go through `app.inject`, every published event is recorded, and a
 * test can wait for any event it names.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/build-app.ts';
import { defaultConfig, type ServerConfig } from '../../src/config/server-config.ts';
import type { SimDriver } from '../../src/drivers/sim.driver.ts';
import type { EventEnvelope, EventType, SequenceEvents } from '../../src/events/event-types.ts';
import { createServices, type Services } from '../../src/services.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import { EventRecorder } from '../helpers/event.recorder.ts';
import { drive, useEngineFakeTimers } from '../helpers/fake-clock.ts';

export { drive, useEngineFakeTimers };

/** An answer of the app, its body parsed. */
export interface Answer {
  status: number;
  body: any;
}

/** A running app and what its engine published. */
export interface AppHarness {
  app: FastifyInstance;
  services: Services;
  sim: SimDriver;
  events: EventEnvelope[];
  /** Sends a request under `/api/v1` (a JSON body when given). */
  api(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<Answer>;
  /** Resolves with the first event (already published or future) of `type` that `match` accepts. */
  next<T extends EventType>(type: T, match?: (data: SequenceEvents[T]) => boolean): Promise<SequenceEvents[T]>;
  /** Resolves with a run's progress (over HTTP) once its `sequence_completed` event is out. */
  ended(runId: string): Promise<any>;
  /** The types of the events of one run, in order. */
  typesOf(runId: string): string[];
  close(): Promise<void>;
}

/** Options of the harness. */
export interface AppHarnessOptions {
  /** Keep runs and templates in a SQLite file in this directory (default: no store). */
  dbDir?: string;
  config?: Partial<ServerConfig>;
}

/** A fresh temporary directory for a SQLite file; remove it with `rmSync(dir, { recursive: true })`. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sequencer-templates-'));
}

/** Removes a temporary directory. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Builds services and the app over them; sim nodes answer after 1 ms. */
export async function startApp(options: AppHarnessOptions = {}): Promise<AppHarness> {
  const config: ServerConfig = { ...defaultConfig(), db: ':memory:', simLatencyMs: 1, ...options.config };
  const dbDir = options.dbDir;
  const services = await createServices(config, dbDir ? { openStore: () => openSqliteStore(join(dbDir, 'sequencer.db')) } : {});
  const sim = services.sim;
  if (!sim) throw new Error('these tests need the sim driver');
  const app = await buildApp(services);
  await app.ready();

  const recorder = new EventRecorder(services.engine.events);
  const events = recorder.all;
  const next = recorder.next.bind(recorder);

  const api: AppHarness['api'] = async (method, path, body) => {
    const response = await app.inject({
      method,
      url: `/api/v1${path}`,
      ...(body === undefined ? {} : { payload: body as object, headers: { 'content-type': 'application/json' } }),
    });
    return { status: response.statusCode, body: response.body === '' ? null : response.json() };
  };

  return {
    app,
    services,
    sim,
    events,
    api,
    next,
    async ended(runId) {
      await next('sequence_completed', (data) => data.run_id === runId);
      return (await api('GET', `/sequences/${runId}`)).body;
    },
    typesOf: (runId) => events.filter((e) => (e.data as { run_id?: string }).run_id === runId).map((e) => e.type),
    async close() {
      await app.close();
      await services.close();
    },
  };
}

