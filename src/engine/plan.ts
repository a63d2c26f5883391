/**
 * Turns a validated definition into the plan the statechart runs: durations in ms, the failure
 * policy of SPEC 2 decided per step, nested sequences resolved to child plans, and the safe-state
 * step appended to the cleanup steps.
 */
import type { PlanAction, PlanCondition, PlanStep, PlanWait, SequencePlan } from '../../machines/sequence.types.ts';
import type { Condition } from '../conditions/condition.schema.ts';
import { describeCondition } from '../conditions/evaluate-condition.ts';
import type { RepeatPlanAction } from '../executors/repeat.executor.ts';
import type { SequenceDefinition, Step } from '../domain/definition.schema.ts';
import { DEFAULT_LIMITS, type DefinitionLimits } from '../domain/definition.schema.ts';
import { effectiveMaxDuration, validateDefinition, type ActionCatalog, type TemplateResolver } from '../domain/validate-definition.ts';

/** Default attempt timeout of an action (SPEC 2). */
const DEFAULT_TIMEOUT_SECONDS = 30;
/** Retries of `on_failure: "retry"` when `retry_count` is not given (SPEC 2). */
const DEFAULT_RETRIES = 3;
/** A nested run's attempt outlives the child's own limit a little, so the child reports its timeout. */
const NESTED_GRACE_MS = 1000;

/** The type of the step that turns off what a run still holds (SPEC 10); internal to the engine. */
export const SAFE_STATE_ACTION = 'safe_state';
/** The safe-state step's message when the run held nothing: its progress then says `safe_state: "not_needed"`. */
export const NOTHING_HELD = 'No actuator held';

/** Options of plan building. */
export interface PlanOptions {
  limits?: DefinitionLimits;
  /** The executors' schemas: a nested definition's actions are parsed by them, as validation does. */
  actions: ActionCatalog;
  templates?: TemplateResolver;
  /** Append the safe-state step to the cleanup steps (default true). */
  safeState?: boolean;
}

/** Builds the plan of a definition that passed validation. */
export function buildPlan(def: SequenceDefinition, options: PlanOptions): SequencePlan {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const toStep = (step: Step, index: number) => planStep(step, index, def, options);
  const own = def.cleanup_steps.map(toStep);
  // concat makes a list of its length; a push would leave room for ~16 more (136 B a run).
  const cleanup = options.safeState !== false ? own.concat(SAFE_STATE_STEP) : own;
  return {
    steps: def.steps.map(toStep),
    cleanup,
    maxDurationMs: effectiveMaxDuration(def, limits) * 1000,
  };
}

function planStep(step: Step, index: number, def: SequenceDefinition, options: PlanOptions): PlanStep {
  const abortOnFailure = def.abort_on_failure;
  const timeoutMs = (step.timeout_seconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
  const action = step.action;
  if (step.wait_for) return waitStep(step, index, abortOnFailure);
  if (action?.type === 'repeat') {
    const body = repeatPlan(action, def, options);
    // Without its own timeout_seconds, a repeat is bounded by the run's max duration, like a nested sequence.
    const repeatTimeout = step.timeout_seconds === undefined ? body.plan.maxDurationMs + NESTED_GRACE_MS : timeoutMs;
    return stepOf(step, index, abortOnFailure, body, 0, repeatTimeout);
  }
  if (!action) return stepOf(step, index, abortOnFailure, null, (step.delay_seconds ?? 0) * 1000, timeoutMs);
  if (action.type === 'delay') return stepOf(step, index, abortOnFailure, null, Number(action.seconds) * 1000, timeoutMs);
  if (action.type === 'sequence') {
    const child = nestedPlan(action, options);
    const childTimeout = step.timeout_seconds === undefined ? child.maxDurationMs + NESTED_GRACE_MS : timeoutMs;
    return stepOf(step, index, abortOnFailure, { type: 'sequence', idempotent: action.idempotent, plan: child }, 0, childTimeout);
  }
  return stepOf(step, index, abortOnFailure, action as PlanAction, 0, timeoutMs);
}

/** One literal per plan step (V8 adds keys after a spread on a slow path, ~0.5 us a key). */
function stepOf(step: Step, index: number, abortOnFailure: boolean, action: PlanAction | null, waitMs: number, timeoutMs: number): PlanStep {
  return {
    name: step.name ?? defaultName(index),
    action,
    waitMs,
    beforeMs: step.delay_before_seconds * 1000,
    afterMs: step.delay_after_seconds * 1000,
    timeoutMs,
    retries: step.retry_count ?? (step.on_failure === 'retry' ? DEFAULT_RETRIES : 0),
    retryDelayMs: step.retry_delay_seconds * 1000,
    backoff: step.retry_backoff,
    onFailure: failurePolicy(step, abortOnFailure),
    wait: null,
    when: (step.when as PlanCondition | undefined) ?? null,
  };
}

/** A `wait_for` step: its timeout bounds the wait, `on_timeout` is its failure policy, and it is never retried. */
function waitStep(step: Step, index: number, abortOnFailure: boolean): PlanStep {
  const waitFor = step.wait_for as NonNullable<Step['wait_for']>;
  const wait: PlanWait = { condition: waitFor.condition as PlanCondition, forMs: waitFor.for_seconds * 1000, description: describeCondition(waitFor.condition) };
  return { ...stepOf(step, index, abortOnFailure, null, 0, waitFor.timeout_seconds * 1000), wait, onFailure: waitFor.on_timeout };
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
  return childPlan(body, options);
}

/**
 * A `repeat` action as the engine runs it: the plan of one iteration (its steps under the
 * enclosing sequence's failure policy and max duration, SPEC 2.1) and when to stop.
 */
function repeatPlan(action: Record<string, unknown>, def: SequenceDefinition, options: PlanOptions): RepeatPlanAction {
  const body = { steps: action.steps, abort_on_failure: def.abort_on_failure, max_duration_seconds: def.max_duration_seconds };
  return {
    type: 'repeat',
    idempotent: action.idempotent === true,
    plan: childPlan(body, options),
    count: (action.count as number | undefined) ?? null,
    until: (action.until as Condition | undefined) ?? null,
    maxIterations: action.max_iterations as number,
  };
}

/** The plan of a definition run inside a step (a nested sequence, an iteration of a repeat). */
function childPlan(body: unknown, options: PlanOptions): SequencePlan {
  const validated = validateDefinition(body, { limits: options.limits ?? DEFAULT_LIMITS, actions: options.actions, templates: options.templates });
  if (!validated.ok) throw new Error(`Nested sequence is invalid: ${validated.errors.map((e) => `${e.path} ${e.message}`).join('; ')}`);
  // The root run's safe state covers what its children hold; a child must not switch off its parent's actuators.
  return buildPlan(validated.definition, { ...options, safeState: false });
}

/** The names of unnamed steps by index: `Step n` is one string for every run, not one a run. */
const DEFAULT_NAMES: string[] = [];

function defaultName(index: number): string {
  return (DEFAULT_NAMES[index] ??= `Step ${index + 1}`);
}

/** Every top-level run's last cleanup step, one object shared by all (plans are never changed). */
const SAFE_STATE_STEP: PlanStep = safeStateStep();

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
    wait: null,
    when: null,
  };
}

