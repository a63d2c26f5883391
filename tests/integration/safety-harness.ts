/**
 * Services with the sim driver for the safety tests: starts them from `defaultConfig()` plus
 * overrides, records every event, and lets a test wait for a run's end or any event it names.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, vi } from 'vitest';
import { defaultConfig, type ServerConfig } from '../../src/config/server-config.ts';
import type { Progress } from '../../src/domain/progress.ts';
import type { EventEnvelope, EventType, SequenceEvents } from '../../src/events/event-types.ts';
import { createServices, type ServiceHooks, type Services } from '../../src/services.ts';
import type { SimDriver } from '../../src/drivers/sim.driver.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite.store.ts';
import { EventRecorder } from '../helpers/event.recorder.ts';
import { drive, useEngineFakeTimers } from '../helpers/fake-clock.ts';

export { drive, useEngineFakeTimers };

/** Config fields a test may override; nested blocks are merged over the defaults. */
export interface ConfigOverrides extends Partial<Omit<ServerConfig, 'limits' | 'rate_limits'>> {
  limits?: Partial<ServerConfig['limits']>;
  rate_limits?: Partial<ServerConfig['rate_limits']>;
}

/** Running services and what they published. */
export interface SafetyHarness {
  services: Services;
  sim: SimDriver;
  /** Every event published so far, in order. */
  events: EventEnvelope[];
  /** Resolves with the first event (already published or future) of `type` that `match` accepts. */
  next<T extends EventType>(type: T, match?: (data: SequenceEvents[T]) => boolean): Promise<SequenceEvents[T]>;
  /** Resolves with a run's progress once its `sequence_completed` event is out. */
  ended(runId: string): Promise<Progress>;
  /** Resolves once a run's step `index` (of the main steps) has completed. */
  stepDone(runId: string, index: number): Promise<SequenceEvents['sequence_step']>;
  /** Starts a definition and returns its run_id. */
  start(definition: Record<string, unknown>): string;
  close(): Promise<void>;
}

/** A config of the SPEC defaults with `overrides`, in memory, sim nodes answering after 1 ms. */
export function testConfig(overrides: ConfigOverrides = {}): ServerConfig {
  const base = defaultConfig();
  return {
    ...base,
    db: ':memory:',
    simLatencyMs: 1,
    ...overrides,
    limits: { ...base.limits, ...overrides.limits },
    rate_limits: { ...base.rate_limits, ...overrides.rate_limits },
  };
}

/** Starts services with the sim driver and records their events. */
export async function startHarness(overrides: ConfigOverrides = {}, hooks: ServiceHooks = {}): Promise<SafetyHarness> {
  const services = await createServices(testConfig(overrides), hooks);
  const sim = services.sim;
  if (!sim) throw new Error('the safety tests need the sim driver');
  const recorder = new EventRecorder(services.engine.events);
  const events = recorder.all;
  const next = recorder.next.bind(recorder);

  return {
    services,
    sim,
    events,
    next,
    async ended(runId) {
      await next('sequence_completed', (data) => data.run_id === runId);
      return (await services.engine.get(runId)) as Progress;
    },
    stepDone: (runId, index) =>
      next('sequence_step', (d) => d.run_id === runId && d.phase === 'steps' && d.step === index && d.status === 'completed'),
    start: (definition) => services.engine.start(definition).run_id,
    close: () => services.close(),
  };
}

/**
 * Gives every test of the file (or `describe`) fresh services on the engine's fake clocks and
 * closes them after it. The returned object always holds the current test's harness.
 */
export function useSafetyHarness(overrides: ConfigOverrides = {}): SafetyHarness {
  const current = {} as SafetyHarness;
  beforeEach(async () => {
    useEngineFakeTimers();
    Object.assign(current, await startHarness(overrides));
  });
  afterEach(async () => {
    await current.close();
    vi.useRealTimers();
  });
  return current;
}

/** An `actuator_command` step. */
export function actuator(esp: string, gpio: number, command: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { name, timeout_seconds, on_failure, retry_count, ...action } = extra;
  return {
    name: name ?? `${command} ${esp}:${gpio}`,
    action: { type: 'actuator_command', esp_id: esp, gpio, command, ...action },
    ...(timeout_seconds === undefined ? {} : { timeout_seconds }),
    ...(on_failure === undefined ? {} : { on_failure }),
    ...(retry_count === undefined ? {} : { retry_count }),
  };
}

/** A pure delay step. */
export function wait(seconds: number): Record<string, unknown> {
  return { name: `Wait ${seconds} s`, delay_seconds: seconds };
}

/** Every command the simulated devices are told from now on, as `esp:gpio COMMAND` (and the value of a PWM). */
export function recordCommands(sim: SimDriver): string[] {
  const told: string[] = [];
  const send = sim.send.bind(sim);
  vi.spyOn(sim, 'send').mockImplementation((command, options) => {
    told.push(`${command.esp_id}:${command.gpio} ${command.command}${command.command === 'PWM' ? ` ${command.value}` : ''}`);
    return send(command, options);
  });
  return told;
}

/**
 * Gives `body` a way to start services on one database file that outlives them, so a test can
 * restart the server; the file goes afterwards.
 */
export async function withDatabaseFile(body: (serve: () => Promise<SafetyHarness>) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sequencer-restart-'));
  const path = join(dir, 'sequencer.db');
  try {
    await body(() => startHarness({ db: path }, { openStore: () => openSqliteStore(path) }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
