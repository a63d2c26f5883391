/**
 * Helpers of the REST API tests: an app on memory-only services with the sim driver answering at
 * once, a wait on the engine's events, and the SPEC 4 error shape as a check.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { buildApp } from '../../src/api/build-app.ts';
import { defaultConfig, type ServerConfig } from '../../src/config/server-config.ts';
import type { ActuatorDriver, DriverHealth } from '../../src/drivers/actuator-driver.ts';
import type { EventEnvelope } from '../../src/events/event-types.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { createServices, type ServiceHooks, type Services } from '../../src/services.ts';

/** An app and its services. */
export interface TestApp {
  app: FastifyInstance;
  services: Services;
  inject(options: InjectOptions): Promise<LightMyRequestResponse>;
  /** The `sequence_completed` event of a run, whether it already happened or is still to come. */
  ended(runId: string): Promise<EventEnvelope<'sequence_completed'>>;
  close(): Promise<void>;
}

/** Records every run's end from the moment it is created, so no end can be missed by a late wait. */
export function endRecorder(services: Services): (runId: string) => Promise<EventEnvelope<'sequence_completed'>> {
  const seen = new Map<string, EventEnvelope<'sequence_completed'>>();
  const waiting = new Map<string, (event: EventEnvelope<'sequence_completed'>) => void>();
  services.engine.events.subscribe((event) => {
    if (event.type !== 'sequence_completed') return;
    const ended = event as EventEnvelope<'sequence_completed'>;
    seen.set(ended.data.run_id, ended);
    waiting.get(ended.data.run_id)?.(ended);
  });
  return (runId) => {
    const done = seen.get(runId);
    if (done) return Promise.resolve(done);
    return new Promise((resolve) => waiting.set(runId, resolve));
  };
}

/** The test configuration: memory only, no rate limits, devices answer at once. */
export function testConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  return {
    ...defaultConfig(),
    port: 0,
    db: ':memory:',
    simLatencyMs: 0,
    rate_limits: { starts_per_second: 0, commands_per_second: 0, commands_per_esp_per_second: 0 },
    ...overrides,
  };
}

/** Builds an app (not listening) on fresh services. */
export async function testApp(overrides: Partial<ServerConfig> = {}, hooks: ServiceHooks = {}): Promise<TestApp> {
  const services = await createServices(testConfig(overrides), hooks);
  const app = await buildApp(services);
  await app.ready();
  return {
    app,
    services,
    inject: (options) => app.inject(options),
    ended: endRecorder(services),
    async close() {
      await app.close();
      await services.close();
    },
  };
}

/** A driver of kind `mqtt` that answers every command with success and reports `health`; it lists no nodes. */
export function fakeMqttDriver(health: DriverHealth): ActuatorDriver {
  return {
    kind: 'mqtt',
    start: async () => {},
    send: async () => ({ success: true, message: 'ok' }),
    health: () => health,
    close: async () => {},
  };
}

/** Resolves with the first engine event that matches. */
export function nextEvent(services: Services, match: (event: EventEnvelope) => boolean): Promise<EventEnvelope> {
  return new Promise((resolve) => {
    const stop = services.engine.events.subscribe((event) => {
      if (!match(event)) return;
      stop();
      resolve(event);
    });
  });
}

/** One actuator step on a simulated node. */
export function actuatorStep(espId = 'ESP_A', gpio = 5, command: 'ON' | 'OFF' = 'ON'): object {
  return { name: `${command} ${espId}:${gpio}`, action: { type: 'actuator_command', esp_id: espId, gpio, command } };
}

/** A valid two-step definition. */
export function definition(sequenceId?: string, extra: object = {}): object {
  return { ...(sequenceId ? { sequence_id: sequenceId } : {}), steps: [actuatorStep(), actuatorStep('ESP_A', 5, 'OFF')], ...extra };
}

/** The SPEC 4 body of an error. */
export interface ErrorBodyShape {
  success: false;
  error: { code: number; name: string; message: string; details: { path: string; code: number; message: string }[] };
}

/** Asserts the SPEC 4 error shape and the code; returns the body. */
export function expectError(response: { statusCode: number; body: string }, status: number, code: number): ErrorBodyShape {
  expect(response.statusCode, response.body).toBe(status);
  const body = JSON.parse(response.body) as ErrorBodyShape;
  expect(isErrorBody(body)).toBe(true);
  expect(body.error.code).toBe(code);
  return body;
}

/** True when a parsed body has exactly the SPEC 4 shape. */
export function isErrorBody(body: unknown): body is ErrorBodyShape {
  if (typeof body !== 'object' || body === null) return false;
  const { success, error } = body as Record<string, unknown>;
  if (success !== false || typeof error !== 'object' || error === null) return false;
  const e = error as Record<string, unknown>;
  return (
    Number.isInteger(e.code) &&
    (e.code as number) >= 5600 &&
    (e.code as number) <= 5699 &&
    typeof e.name === 'string' &&
    typeof e.message === 'string' &&
    Array.isArray(e.details) &&
    e.details.every((d: Record<string, unknown>) => typeof d.path === 'string' && Number.isInteger(d.code) && typeof d.message === 'string')
  );
}

/** The JSON of a text, or undefined when it is not JSON. */
export function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A server for a fuzz test, with a run held paused through the fuzz. */
export interface FuzzTarget {
  server: RunningServer;
  guardRun: string;
  ended: ReturnType<typeof endRecorder>;
}

/**
 * Starts a server on the test configuration and a guard run on it, paused in the turn it started
 * (so no step can end first); `expectHealthyAfterFuzz` checks that it still completes.
 */
export async function startFuzzTarget(): Promise<FuzzTarget> {
  const server = await startServer(testConfig());
  const ended = endRecorder(server.services);
  const guardRun = server.services.engine.start({
    sequence_id: 'guard',
    steps: [{ delay_seconds: 0.05 }, { action: { type: 'actuator_command', esp_id: 'ESP_GUARD', gpio: 2, command: 'ON' } }],
  }).run_id;
  expect((await server.services.engine.pause(guardRun)).status).toBe('paused');
  return { server, guardRun, ended };
}

/** After a fuzz: `/health` says ok, and the guard run resumes and completes, commanding its device. */
export async function expectHealthyAfterFuzz({ server, guardRun, ended }: FuzzTarget): Promise<void> {
  const health = await fetch(`${server.url}/health`);
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ status: 'ok' });
  expect((await fetch(`${server.url}/api/v1/sequences/${guardRun}/resume`, { method: 'POST' })).status).toBe(200);
  expect((await ended(guardRun)).data.status).toBe('completed');
  expect(server.services.sim?.actuator('ESP_GUARD', 2)).toMatchObject({ on: true });
}
