/**
 * Builders of definitions (what users send) and plans (what the machine runs) with the SPEC
 * defaults, so each test states only what it is about.
 */
import type { PlanStep, SequencePlan } from '../../machines/sequence.types.ts';

/** A resolved plan step: an action of type `act` with a 30 s timeout and no delays or retries. */
export function planStep(overrides: Partial<PlanStep> = {}): PlanStep {
  return {
    name: 'Step',
    action: { type: 'act' },
    waitMs: 0,
    beforeMs: 0,
    afterMs: 0,
    timeoutMs: 30_000,
    retries: 0,
    retryDelayMs: 1000,
    backoff: false,
    onFailure: 'abort',
    ...overrides,
  };
}

/** A pure wait of `ms`. */
export function waitStep(ms: number, overrides: Partial<PlanStep> = {}): PlanStep {
  return planStep({ name: 'Wait', action: null, waitMs: ms, ...overrides });
}

/** A `wait_for` plan step on `condition`, with its timeout and `for_seconds` in ms. */
export function waitForStep(timeoutMs: number, forMs = 0, overrides: Partial<PlanStep> = {}): PlanStep {
  const condition = { sensor: { esp_id: 'ESP_1', gpio: 34 }, above: 40 };
  return planStep({ name: 'Until moist', action: null, timeoutMs, wait: { condition, forMs, description: 'ESP_1:34 above 40' }, ...overrides });
}

/** A plan of `steps` (and optional cleanup steps) bounded by `maxDurationMs` (default 1 h). */
export function plan(steps: PlanStep[], cleanup: PlanStep[] = [], maxDurationMs = 3_600_000): SequencePlan {
  return { steps, cleanup, maxDurationMs };
}

/** An `actuator_command` step on node `esp` (default ESP_1), gpio 5, command ON. */
export function actuatorStep(overrides: Record<string, unknown> = {}, esp = 'ESP_1'): Record<string, unknown> {
  return { name: `Switch ${esp}`, action: { type: 'actuator_command', esp_id: esp, gpio: 5, command: 'ON' }, ...overrides };
}

/** A pure delay step of `seconds`. */
export function delayStep(seconds: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: `Wait ${seconds} s`, delay_seconds: seconds, ...overrides };
}

/** A definition with `steps` and any top-level fields. */
export function definition(steps: Record<string, unknown>[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { steps, ...extra };
}
