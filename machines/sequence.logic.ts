/**
 * The step logic of the sequence statechart, as pure functions: given a run's context and an
 * event, each returns the move to make (the target state, the new context and the effects to
 * ask of the host), or null when the event changes nothing. The machine turns every move into a
 * single guarded transition with a single context update, so a step boundary costs one
 * microstep instead of a chain of transient states.
 */
import type {
  HeldResult,
  Outcome,
  PlanStep,
  ResumeTarget,
  RunActionParams,
  SequenceContext,
  SequenceEvent,
  StepEventParams,
  StepOutcome,
} from './sequence.types.ts';

/** Codes the machine itself assigns (a subset of the SPEC 4 registry). */
export const MachineCodes = {
  CANCELLED: 5612,
  TIMEOUT: 5613,
  STEP_FAILED: 5614,
  STEP_TIMEOUT: 5615,
  MAX_DURATION_EXCEEDED: 5616,
  STATE_CORRUPTION: 5633,
} as const;

/** Where a move goes: a step substate of a phase, paused, or a final state. */
export type Target =
  | `${'running' | 'cleanup'}.${ResumeTarget}`
  | 'paused'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'timeout';

/** An effect the host performs after the transition. */
export type Effect =
  | { type: 'runAction'; params: RunActionParams }
  | { type: 'emitStep'; params: StepEventParams }
  | { type: 'abortAction' }
  | { type: 'forwardPause' }
  | { type: 'forwardResume' };

/** One transition: its target, the new context, its effects. */
export interface Move {
  target: Target;
  patch: Partial<SequenceContext>;
  effects: Effect[];
}

type Ctx = SequenceContext;

/** A move under construction: a private copy of the context and the effects so far. */
class Draft {
  readonly c: Ctx;
  readonly effects: Effect[] = [];
  constructor(
    context: Ctx,
    readonly now: number,
  ) {
    this.c = { ...context };
  }
  get list(): PlanStep[] {
    return this.c.phase === 'steps' ? this.c.plan.steps : this.c.plan.cleanup;
  }
  get step(): PlanStep | undefined {
    return this.list[this.c.currentStep];
  }
  at(state: ResumeTarget): Target {
    return `${this.c.phase === 'steps' ? 'running' : 'cleanup'}.${state}`;
  }
  move(target: Target): Move {
    return { target, patch: this.c, effects: this.effects };
  }
}

/** The pause before the next attempt after `failedAttempts` failures; doubles per failure with backoff. */
export function retryDelayMs(step: PlanStep, failedAttempts: number): number {
  return step.backoff ? step.retryDelayMs * 2 ** (failedAttempts - 1) : step.retryDelayMs;
}

function stepEvent(d: Draft, status: StepEventParams['status'], outcome?: StepOutcome, message = ''): void {
  const step = d.step as PlanStep;
  d.effects.push({
    type: 'emitStep',
    params: {
      status,
      phase: d.c.phase,
      stepIndex: d.c.currentStep,
      stepName: step.name,
      message: outcome?.message ?? message,
      success: outcome ? outcome.success : null,
      durationMs: outcome ? outcome.endedAt - outcome.startedAt : null,
      errorCode: outcome?.code ?? (status === 'retrying' ? (d.c.lastError?.code ?? null) : null),
      attempt: d.c.attempt,
    },
  });
}

/** Records the current step's outcome in the list of its phase and publishes it. */
function record(d: Draft, success: boolean, message: string, code: number | null): void {
  const outcome: StepOutcome = {
    index: d.c.currentStep,
    name: (d.step as PlanStep).name,
    success,
    message,
    code,
    startedAt: d.c.stepStartedAt ?? d.now,
    endedAt: d.now,
    retries: d.c.attempt,
  };
  if (d.c.phase === 'steps') d.c.results = [...d.c.results, outcome];
  else d.c.cleanupResults = [...d.c.cleanupResults, outcome];
  d.c.stepRecorded = true;
  d.c.deadline = null;
  stepEvent(d, success ? 'completed' : 'failed', outcome);
}

/** Begins the step at `currentStep`, or ends its list. */
function enterCurrent(d: Draft): Target {
  const step = d.step;
  if (!step) return finishList(d);
  d.c.stepStartedAt = d.now;
  d.c.attempt = 0;
  d.c.stepRecorded = false;
  d.c.lastError = null;
  stepEvent(d, 'starting');
  if (step.beforeMs > 0) {
    d.c.deadline = d.now + step.beforeMs;
    return d.at('beforeDelay');
  }
  return startBody(d);
}

/** After the before-delay: the wait of a delay step, or the first attempt of the action. */
function startBody(d: Draft): Target {
  const step = d.step as PlanStep;
  if (step.action === null) {
    d.c.deadline = d.now + step.waitMs;
    return d.at('delaying');
  }
  return startAttempt(d);
}

/** Starts an attempt of the action with its own deadline; late answers of older attempts are ignored. */
function startAttempt(d: Draft): Target {
  const step = d.step as PlanStep;
  d.c.attemptId += 1;
  d.c.deadline = d.now + step.timeoutMs;
  d.c.stepStartedAt ??= d.now;
  d.effects.push({
    type: 'runAction',
    params: { attemptId: d.c.attemptId, phase: d.c.phase, stepIndex: d.c.currentStep, step, attempt: d.c.attempt, deadline: d.c.deadline },
  });
  return d.at('executing');
}

/** The step is over (succeeded, or failed with `continue`): its after-delay, or the next step. */
function afterStep(d: Draft): Target {
  const step = d.step as PlanStep;
  if (step.afterMs > 0) {
    d.c.deadline = d.now + step.afterMs;
    return d.at('afterDelay');
  }
  return nextStep(d);
}

function nextStep(d: Draft): Target {
  d.c.currentStep += 1;
  d.c.deadline = null;
  return enterCurrent(d);
}

function finishList(d: Draft): Target {
  d.c.deadline = null;
  d.c.endedAt = d.now;
  return d.c.phase === 'steps' ? 'completed' : (d.c.outcome ?? 'failed');
}

/** An attempt failed: retry it, go on (`continue`), or end the run failed. */
function attemptFailed(d: Draft, message: string, code: number): Target {
  const step = d.step as PlanStep;
  d.c.lastError = { message, code };
  d.c.deadline = null;
  if (d.c.attempt < step.retries && code !== MachineCodes.STATE_CORRUPTION) {
    d.c.attempt += 1;
    d.c.deadline = d.now + retryDelayMs(step, d.c.attempt);
    stepEvent(d, 'retrying', undefined, message);
    return d.at('retrying');
  }
  record(d, false, message, code);
  if (d.c.phase === 'cleanup' || step.onFailure === 'continue') return afterStep(d);
  d.c.outcome = 'failed';
  d.c.error = `Step '${step.name}' failed: ${message}`;
  d.c.errorCode = code;
  return toCleanup(d);
}

/** After an early end: the cleanup steps, or straight to the final state. */
function toCleanup(d: Draft): Target {
  if (d.c.plan.cleanup.length === 0) return final(d);
  d.c.phase = 'cleanup';
  d.c.currentStep = 0;
  d.c.stepStartedAt = null;
  d.c.stepRecorded = false;
  d.c.attempt = 0;
  d.c.lastError = null;
  d.c.deadline = null;
  return enterCurrent(d);
}

function final(d: Draft): Target {
  d.c.deadline = null;
  d.c.endedAt = d.now;
  return d.c.outcome ?? 'failed';
}

const INTERRUPT_CODE: Record<Outcome, number> = {
  cancelled: MachineCodes.CANCELLED,
  timeout: MachineCodes.MAX_DURATION_EXCEEDED,
  failed: MachineCodes.STATE_CORRUPTION,
};

/** Ends the run early: aborts the action in flight and records the step in flight as failed with the cause. */
function endEarly(d: Draft, outcome: Outcome, message: string, stepCode: number): Target {
  const runCode = outcome === 'cancelled' ? MachineCodes.CANCELLED : outcome === 'timeout' ? MachineCodes.TIMEOUT : stepCode;
  d.effects.push({ type: 'abortAction' });
  if (d.c.stepStartedAt !== null && !d.c.stepRecorded && d.step) record(d, false, message, stepCode);
  Object.assign(d.c, { outcome, error: message, errorCode: runCode, held: null, resumeTo: null, remainingMs: null, restartAttempt: false });
  return toCleanup(d);
}

/** Moves of each event. `state` is the substate the run is in (for events whose meaning depends on it). */
export const moves = {
  start(context: Ctx, now: number): Move {
    const d = new Draft(context, now);
    d.c.startedAt = now;
    d.c.runDeadline = now + d.c.plan.maxDurationMs;
    return d.move(enterCurrent(d));
  },

  wake(context: Ctx, now: number, state: ResumeTarget): Move | null {
    if (context.deadline === null || now < context.deadline) return null;
    const d = new Draft(context, now);
    switch (state) {
      case 'beforeDelay':
        return d.move(startBody(d));
      case 'delaying':
        record(d, true, `Waited ${(d.step as PlanStep).waitMs / 1000} s`, null);
        return d.move(afterStep(d));
      case 'executing':
        d.effects.push({ type: 'abortAction' });
        return d.move(attemptFailed(d, `Step timed out after ${(d.step as PlanStep).timeoutMs / 1000} s`, MachineCodes.STEP_TIMEOUT));
      case 'retrying':
        return d.move(startAttempt(d));
      case 'afterDelay':
        return d.move(nextStep(d));
    }
  },

  result(context: Ctx, event: HeldResult, now: number): Move | null {
    if (event.attemptId !== context.attemptId) return null;
    const d = new Draft(context, now);
    if (event.type === 'STEP_DONE') {
      record(d, true, event.message, null);
      return d.move(afterStep(d));
    }
    return d.move(attemptFailed(d, event.message, event.code));
  },

  /** After a restart the action that was in flight is lost: idempotent ones are sent again. */
  recover(context: Ctx, now: number): Move {
    const d = new Draft(context, now);
    if (d.step?.action?.idempotent === true) return d.move(startAttempt(d));
    return d.move(attemptFailed(d, 'Action was in flight when the server stopped', MachineCodes.STATE_CORRUPTION));
  },

  endEarly(context: Ctx, event: SequenceEvent): Move {
    const d = new Draft(context, 'now' in event ? event.now : 0);
    if (event.type === 'CANCEL') return d.move(endEarly(d, 'cancelled', `Cancelled: ${event.reason}`, MachineCodes.CANCELLED));
    if (event.type === 'ABORT') return d.move(endEarly(d, 'failed', event.message, event.code));
    return d.move(endEarly(d, 'timeout', 'Maximum sequence duration exceeded', INTERRUPT_CODE.timeout));
  },

  pause(context: Ctx, now: number, from: ResumeTarget): Move {
    const d = new Draft(context, now);
    d.c.resumeTo = from;
    d.c.remainingMs = context.deadline === null ? null : Math.max(0, context.deadline - now);
    d.c.deadline = null;
    d.effects.push({ type: 'forwardPause' });
    return d.move('paused');
  },

  resume(context: Ctx, now: number): Move {
    const d = new Draft(context, now);
    const { held, restartAttempt, resumeTo, remainingMs } = context;
    Object.assign(d.c, { resumeTo: null, remainingMs: null, held: null, restartAttempt: false });
    d.effects.push({ type: 'forwardResume' });
    if (held) {
      if (held.type === 'STEP_DONE') {
        record(d, true, held.message, null);
        return d.move(afterStep(d));
      }
      return d.move(attemptFailed(d, held.message, held.code));
    }
    if (restartAttempt) return d.move(startAttempt(d));
    d.c.deadline = remainingMs === null ? null : now + remainingMs;
    return d.move(`running.${resumeTo ?? 'executing'}`);
  },
};

/** While paused, a lost in-flight action (restart) becomes a held failure, or a fresh attempt if idempotent. */
export function lostWhilePaused(context: Ctx, now: number): Partial<Ctx> {
  const step = (context.phase === 'steps' ? context.plan.steps : context.plan.cleanup)[context.currentStep];
  if (step?.action?.idempotent === true) return { restartAttempt: true };
  const held: HeldResult = {
    type: 'STEP_FAILED',
    attemptId: context.attemptId,
    now,
    message: 'Action was in flight when the server stopped',
    code: MachineCodes.STATE_CORRUPTION,
  };
  return { held };
}
