/**
 * Turns a validated definition into the plan the statechart runs: durations in ms, the failure
 * policy of SPEC 2 decided per step, nested sequences resolved to child plans, and the safe-state
 * step appended to the cleanup steps.
 */
import type { PlanAction, PlanStep, SequencePlan } from '../../machines/sequence.types.ts';
import type { SequenceDefinition, Step } from '../domain/definition.schema.ts';
import { definitionSchema, DEFAULT_LIMITS, type DefinitionLimits } from '../domain/definition.schema.ts';
import { effectiveMaxDuration, type TemplateResolver } from '../domain/validate-definition.ts';

/** Default attempt timeout of an action (SPEC 2). */
const DEFAULT_TIMEOUT_SECONDS = 30;
/** Retries of `on_failure: "retry"` when `retry_count` is not given (SPEC 2). */
const DEFAULT_RETRIES = 3;
/** A nested run's attempt outlives the child's own limit a little, so the child reports its timeout. */
const NESTED_GRACE_MS = 1000;

/** The type of the step that turns off what a run still holds (SPEC 10); internal to the engine. */
export const SAFE_STATE_ACTION = 'safe_state';

/** Options of plan building. */
export interface PlanOptions {
  limits?: DefinitionLimits;
  templates?: TemplateResolver;
  /** Append the safe-state step to the cleanup steps (default true). */
  safeState?: boolean;
}

/** Builds the plan of a definition that passed validation. */
export function buildPlan(def: SequenceDefinition, options: PlanOptions = {}): SequencePlan {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const toStep = (step: Step, index: number) => planStep(step, index, def.abort_on_failure, options);
  const cleanup = def.cleanup_steps.map(toStep);
  if (options.safeState !== false) cleanup.push(safeStateStep());
  return {
    steps: def.steps.map(toStep),
    cleanup,
    maxDurationMs: effectiveMaxDuration(def, limits) * 1000,
  };
}

function planStep(step: Step, index: number, abortOnFailure: boolean, options: PlanOptions): PlanStep {
  const base = {
    name: step.name ?? `Step ${index + 1}`,
    beforeMs: step.delay_before_seconds * 1000,
    afterMs: step.delay_after_seconds * 1000,
    retries: step.retry_count ?? (step.on_failure === 'retry' ? DEFAULT_RETRIES : 0),
    retryDelayMs: step.retry_delay_seconds * 1000,
    backoff: step.retry_backoff,
    onFailure: failurePolicy(step, abortOnFailure),
  };
  const timeoutMs = (step.timeout_seconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
  const action = step.action;
  if (!action) return { ...base, action: null, waitMs: (step.delay_seconds ?? 0) * 1000, timeoutMs };
  if (action.type === 'delay') return { ...base, action: null, waitMs: Number(action.seconds) * 1000, timeoutMs };
  if (action.type === 'sequence') {
    const child = nestedPlan(action, options);
    const childTimeout = step.timeout_seconds === undefined ? child.maxDurationMs + NESTED_GRACE_MS : timeoutMs;
    return { ...base, action: { type: 'sequence', idempotent: action.idempotent, plan: child }, waitMs: 0, timeoutMs: childTimeout };
  }
  return { ...base, action: action as PlanAction, waitMs: 0, timeoutMs };
}

/** A step's policy once its retries are spent: its own word wins over `abort_on_failure`. */
function failurePolicy(step: Step, abortOnFailure: boolean): 'abort' | 'continue' {
  if (step.on_failure === 'abort' || step.on_failure === 'continue') return step.on_failure;
  return abortOnFailure ? 'abort' : 'continue';
}

/** The child plan of a nested sequence action (inline or template). */
function nestedPlan(action: Record<string, unknown>, options: PlanOptions): SequencePlan {
  let body: unknown;
  if (typeof action.template === 'string') {
    const resolved = options.templates?.resolve(action.template, action.params ?? {});
    if (!resolved || 'errors' in resolved) throw new Error(`Template '${action.template}' cannot be resolved`);
    body = resolved.definition;
  } else {
    const { type: _type, idempotent: _idempotent, ...inline } = action;
    body = inline;
  }
  const def = definitionSchema(options.limits ?? DEFAULT_LIMITS).parse(body);
  // The root run's safe state covers what its children hold; a child must not switch off its parent's actuators.
  return buildPlan(def, { ...options, safeState: false });
}

function safeStateStep(): PlanStep {
  return {
    name: 'Safe state',
    // Turning OFF what a run holds is safe to repeat: a restart that lost it in flight sends it again.
    action: { type: SAFE_STATE_ACTION, idempotent: true },
    waitMs: 0,
    beforeMs: 0,
    afterMs: 0,
    timeoutMs: DEFAULT_TIMEOUT_SECONDS * 1000,
    retries: 0,
    retryDelayMs: 0,
    backoff: false,
    onFailure: 'continue',
  };
}

