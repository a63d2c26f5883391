/**
 * An engine over the sim driver for tests, with an event recorder and collected internal errors.
 * Create it after `vi.useFakeTimers()` so every timer of the engine is fake; close it after each test.
 */
import { afterEach, beforeEach, vi } from 'vitest';
import type { ActuatorResponse } from '../../src/drivers/actuator-driver.ts';
import { Engine, type EngineLimits, type EngineOptions } from '../../src/engine/engine.ts';
import { SimDriver } from '../../src/drivers/sim.driver.ts';
import { builtinExecutors } from '../../src/executors/builtin-executors.ts';
import type { ExecutorRegistry } from '../../src/executors/executor.ts';
import { EventRecorder } from './event.recorder.ts';

/** What a test may change about the engine it gets. */
export interface HarnessOptions extends Partial<Omit<EngineOptions, 'executors' | 'limits'>> {
  /** Sim answer delay in ms (default 20, the SPEC default). */
  latencyMs?: number;
  limits?: Partial<EngineLimits>;
  /** Extra set-up of the executor registry (custom action types). */
  executors?: (registry: ExecutorRegistry) => void;
}

/** Builds an engine with the built-in executors over a fresh sim driver. */
export function engineHarness(options: HarnessOptions = {}) {
  const { latencyMs = 20, executors: extend, ...engineOptions } = options;
  const driver = new SimDriver(latencyMs);
  const registry = builtinExecutors(driver);
  extend?.(registry);
  const errors: { error: unknown; message: string }[] = [];
  const engine = new Engine({
    ...engineOptions,
    executors: registry,
    onError: (error, message) => {
      errors.push({ error, message });
    },
  });
  const events = new EventRecorder(engine.events);
  return { engine, driver, events, executors: registry, errors };
}

/** A harness as `engineHarness` builds it. */
export type EngineHarness = ReturnType<typeof engineHarness>;

/**
 * Gives every test of the surrounding `describe` a fresh harness on fake timers and closes it
 * after the test. The returned object always holds the current test's harness.
 */
export function useEngineHarness(options: HarnessOptions = {}): EngineHarness {
  const current = {} as EngineHarness;
  beforeEach(() => {
    vi.useFakeTimers();
    Object.assign(current, engineHarness(options));
  });
  afterEach(async () => {
    await current.engine.close();
    vi.useRealTimers();
  });
  return current;
}

/**
 * Records what the sim driver is asked: each command's answer (its rejection is handled here, so a
 * test may check it or not) and the abort signal each command got.
 */
export function recordSends(driver: SimDriver): { sent: Promise<ActuatorResponse>[]; signals: AbortSignal[] } {
  const sent: Promise<ActuatorResponse>[] = [];
  const signals: AbortSignal[] = [];
  const send = driver.send.bind(driver);
  vi.spyOn(driver, 'send').mockImplementation((command, options) => {
    signals.push(options.signal);
    const answer = send(command, options);
    answer.catch(() => {});
    sent.push(answer);
    return answer;
  });
  return { sent, signals };
}
