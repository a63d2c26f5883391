/**
 * What the sequence statechart does on its transitions, one named action each: the context
 * updates (pure functions of context and event, applied with XState's `assign`) and the params of
 * the effects the host performs (`runAction`, `emitStep`). Like the guards, every one reads time
 * only from the event's `now`.
 */
import { indexToStart, MachineCodes, stepOf, stepToStart } from './sequence.guards.ts';
import type {
  CheckParams,
  HeldResult,
  Outcome,
  PauseKeep,
  PausedOutputsParams,
  PlanStep,
  RunActionParams,
  SequenceContext,
  SequenceEvent,
  StepEventParams,
  StepOutcome,
} from './sequence.types.ts';

type Ctx = SequenceContext;
type Args = { context: Ctx; event: SequenceEvent };
type Update = Partial<Ctx>;

const current = (context: Ctx): PlanStep => stepOf(context) as PlanStep;
const starting = (context: Ctx): PlanStep => stepToStart(context) as PlanStep;

/** The pause before the next attempt after `failedAttempts` failures; doubles per failure with backoff. */
export function retryDelayMs(step: PlanStep, failedAttempts: number): number {
  return step.backoff ? step.retryDelayMs * 2 ** (failedAttempts - 1) : step.retryDelayMs;
}

/** The step's outcome appended to the results of its list: the step is over. */
function record(context: Ctx, now: number, success: boolean, message: string, code: number | null, skipped = false): Update {
  const outcome: StepOutcome = {
    index: context.currentStep,
    name: current(context).name,
    success,
    skipped,
    message,
    code,
    startedAt: context.stepStartedAt ?? now,
    endedAt: now,
    retries: context.attempt,
  };
  // concat, not [...list, outcome]: a spread leaves room for ~16 more (136 B a run), concat makes the list its length.
  return context.phase === 'steps'
    ? { results: context.results.concat(outcome), stepRecorded: true, deadline: null, awaitingAnswer: false }
    : { cleanupResults: context.cleanupResults.concat(outcome), stepRecorded: true, deadline: null, awaitingAnswer: false };
}

/** The step-in-flight code of an early end: the run's own code, but 5616 for a run that timed out. */
const INTERRUPTED_STEP_CODE: Partial<Record<Outcome, number>> = { timeout: MachineCodes.MAX_DURATION_EXCEEDED };

/** The context updates, by the name the chart shows. */
export const sequenceUpdates = {
  /** START: the run's clock starts, and `max_duration_seconds` with it. */
  beginRun: ({ event }: Args): Update => ({ startedAt: event.now }),
  /** The next step begins with its before-delay. */
  beginDelayBefore: ({ context, event }: Args): Update => begin(context, event.now, event.now + starting(context).beforeMs),
  /** The next step, a delay step, begins its wait. */
  beginDelay: ({ context, event }: Args): Update => begin(context, event.now, event.now + starting(context).waitMs),
  /** The next step begins with the first attempt of its action. */
  beginAttempt: ({ context, event }: Args): Update => ({
    currentStep: indexToStart(context),
    stepStartedAt: event.now,
    attempt: 0,
    stepRecorded: false,
    lastError: null,
    deadline: event.now + starting(context).timeoutMs,
    attemptId: context.attemptId + 1,
    awaitingAnswer: true,
  }),
  /** The next step, which has a `when`, is reached: it begins while the host answers whether that holds. */
  beginCheck: ({ context, event }: Args): Update => begin(context, event.now, null),
  /** The step's `when` did not hold (or is unknown): the step is recorded as skipped, a success. */
  recordSkipped: ({ context, event }: Args): Update =>
    record(context, event.now, true, `skipped: ${event.type === 'CONDITION' ? event.message : 'condition did not hold'}`, null, true),
  /** The next step, a `wait_for` step, begins its wait: at most its timeout. */
  beginWait: ({ context, event }: Args): Update => ({ ...begin(context, event.now, event.now + starting(context).timeoutMs), hold: null }),
  /** Past its before-delay, a `wait_for` step begins its wait. */
  armWait: ({ context, event }: Args): Update => ({ deadline: event.now + current(context).timeoutMs, hold: null }),
  /** The wait's condition holds: the hold begins (again, if its readings had aged out), or its readings last longer. */
  noteHold: ({ context, event }: Args): Update => {
    if (event.type !== 'CONDITION') return {};
    const hold = context.hold;
    const standing = hold !== null && (hold.until === null || hold.until > event.now);
    return { hold: { since: standing ? hold.since : event.now, until: event.until, message: event.message } };
  },
  /** The wait's condition stopped holding (a dip, or its readings aged out): `for_seconds` starts over. */
  dropHold: (): Update => ({ hold: null }),
  /** The wait is over: its condition held; the result names the value that satisfied it. */
  recordWaitSuccess: ({ context, event }: Args): Update => {
    const forMs = current(context).wait?.forMs ?? 0;
    const value = event.type === 'CONDITION' ? event.message : (context.hold?.message ?? '');
    const message = forMs > 0 ? `${value} (held ${forMs / 1000} s)` : value;
    return { ...record(context, event.now, true, message, null), hold: null };
  },
  /** The wait's timeout came before its condition held (5621); its `on_timeout` decides. */
  noteWaitTimeout: ({ context }: Args): Update => {
    const step = current(context);
    return {
      lastError: { message: `Wait timed out after ${step.timeoutMs / 1000} s: ${step.wait?.description ?? 'the condition'} did not hold`, code: MachineCodes.WAIT_TIMEOUT },
      deadline: null,
      hold: null,
    };
  },
  /** A signal came: the run keeps it until it ends. */
  keepSignal: ({ context, event }: Args): Update => (event.type === 'SIGNAL' ? { signals: context.signals.concat(event.name) } : {}),
  /** Past its before-delay, a delay step begins its wait. */
  armDelay: ({ context, event }: Args): Update => ({ deadline: event.now + current(context).waitMs }),
  /** A new attempt with its own id (late answers of older ones are ignored) and its own deadline. */
  startAttempt: ({ context, event }: Args): Update => ({
    attemptId: context.attemptId + 1,
    awaitingAnswer: true,
    deadline: event.now + current(context).timeoutMs,
  }),
  /** The step succeeded: its action answered, or its delay is over. */
  recordSuccess: ({ context, event }: Args): Update =>
    record(context, event.now, true, event.type === 'STEP_DONE' ? event.message : `Waited ${current(context).waitMs / 1000} s`, null),
  /** The attempt's action answered with a failure. */
  noteFailure: ({ event }: Args): Update =>
    event.type === 'STEP_FAILED' ? { lastError: { message: event.message, code: event.code }, deadline: null, awaitingAnswer: false } : {},
  /** The attempt's deadline passed before its action answered (5615). */
  noteTimeout: ({ context }: Args): Update => ({
    lastError: { message: `Step timed out after ${current(context).timeoutMs / 1000} s`, code: MachineCodes.STEP_TIMEOUT },
    deadline: null,
    awaitingAnswer: false,
  }),
  /** The attempt in flight was lost to a restart (5633). */
  noteLost: (): Update => ({
    lastError: { message: 'Action was in flight when the server stopped', code: MachineCodes.STATE_CORRUPTION },
    deadline: null,
    awaitingAnswer: false,
  }),
  /** One more failed attempt; the next one starts after the retry delay (doubling with backoff). */
  scheduleRetry: ({ context, event }: Args): Update => ({
    attempt: context.attempt + 1,
    deadline: event.now + retryDelayMs(current(context), context.attempt + 1),
  }),
  /** The step failed for good, with its last attempt's error. */
  recordFailure: ({ context, event }: Args): Update => {
    const error = context.lastError ?? { message: 'Step failed', code: MachineCodes.STEP_FAILED };
    return record(context, event.now, false, error.message, error.code);
  },
  /** A failed step aborts the run: it ends failed, with the step's error, after its cleanup. */
  failRun: ({ context }: Args): Update => {
    const error = context.lastError ?? { message: 'Step failed', code: MachineCodes.STEP_FAILED };
    return { end: { outcome: 'failed', message: `Step '${current(context).name}' failed: ${error.message}`, code: error.code } };
  },
  /** Waits `delay_after_seconds`. */
  armDelayAfter: ({ context, event }: Args): Update => ({ deadline: event.now + current(context).afterMs }),
  /** The list is over (`currentStep` past its end): the run ends now (after its cleanup, if it ended early). */
  finish: ({ context, event }: Args): Update => ({ currentStep: indexToStart(context), deadline: null, endedAt: event.now }),
  /** PAUSE: the current wait stops; what it had left is kept for the resume. */
  pauseClock: ({ context, event }: Args): Update => ({
    pause: { remainingMs: context.deadline === null ? null : Math.max(0, context.deadline - event.now), held: null, restartAttempt: false, outputs: null },
    deadline: null,
    // A wait's condition is looked at afresh on resume: its for_seconds start over.
    hold: null,
  }),
  /** PAUSE with `outputs: "off"`: what the run held, to turn OFF now and back on resume. */
  notePausedOutputs: ({ context, event }: Args): Update => ({ pause: { ...paused(context), outputs: event.type === 'PAUSE' ? (event.held ?? []) : [] } }),
  /** RESUME: the wait goes on for what it had left; nothing is held any more. */
  resumeClock: ({ context, event }: Args): Update => {
    const remainingMs = context.pause?.remainingMs ?? null;
    return { deadline: remainingMs === null ? null : event.now + remainingMs, pause: null };
  },
  /** Paused: the answer of the attempt in flight is kept until the resume. */
  holdAnswer: ({ context, event }: Args): Update =>
    event.type === 'STEP_DONE' || event.type === 'STEP_FAILED' ? { pause: { ...paused(context), held: event } } : {},
  /** Paused: the attempt in flight was lost to a restart; the resume fails it with 5633. */
  holdLoss: ({ context, event }: Args): Update => {
    const held: HeldResult = {
      type: 'STEP_FAILED',
      attemptId: context.attemptId,
      now: event.now,
      message: 'Action was in flight when the server stopped',
      code: MachineCodes.STATE_CORRUPTION,
    };
    return { pause: { ...paused(context), held } };
  },
  /** Paused: the attempt in flight was lost to a restart; the resume sends its idempotent action again. */
  markRestart: ({ context }: Args): Update => ({ pause: { ...paused(context), restartAttempt: true } }),
  /** CANCEL: the run ends cancelled (5612) after its cleanup. */
  endCancelled: ({ event }: Args): Update =>
    ended('cancelled', event.type === 'CANCEL' ? `Cancelled: ${event.reason}` : 'Cancelled', MachineCodes.CANCELLED),
  /** TIMEOUT: `max_duration_seconds` ran out; the run ends timeout (5613) after its cleanup. */
  endTimedOut: (): Update => ended('timeout', 'Maximum sequence duration exceeded', MachineCodes.TIMEOUT),
  /** ABORT: the run ends failed with the code and message the event carries, after its cleanup. */
  endAborted: ({ event }: Args): Update =>
    event.type === 'ABORT' ? ended('failed', event.message, event.code) : ended('failed', 'Aborted', MachineCodes.STEP_FAILED),
  /** The step under way when the run ended early failed with the cause (5616 when the run timed out). */
  recordInterrupted: ({ context, event }: Args): Update =>
    record(context, event.now, false, context.end?.message ?? '', INTERRUPTED_STEP_CODE[context.end?.outcome as Outcome] ?? context.end?.code ?? null),
  /** The cleanup steps begin, from the first. */
  beginCleanup: (): Update => ({
    phase: 'cleanup',
    currentStep: 0,
    stepStartedAt: null,
    stepRecorded: false,
    attempt: 0,
    lastError: null,
    deadline: null,
  }),
};

/** The step to begin: its duration counts from here (before-delay included), until `deadline`. */
function begin(context: Ctx, now: number, deadline: number | null): Update {
  return { currentStep: indexToStart(context), stepStartedAt: now, attempt: 0, stepRecorded: false, lastError: null, deadline };
}

/** An early end: its outcome and error, and nothing left of a pause. */
function ended(outcome: Outcome, message: string, code: number): Update {
  return { end: { outcome, message, code }, pause: null, awaitingAnswer: false };
}

/** What the current pause keeps (a paused run always has it; a snapshot of an older chart gets one on upgrade). */
function paused(context: Ctx): PauseKeep {
  return context.pause ?? { remainingMs: null, held: null, restartAttempt: false, outputs: null };
}

/** The answer held while paused, as the event it was, taken at the time of the resume. */
export function heldEvent({ context, event }: Args): HeldResult {
  return { ...(context.pause?.held as HeldResult), now: event.now };
}

/** Params of `turnOutputsOff` / `restoreOutputs`: the outputs the pause keeps, and the current step's attempt timeout. */
export function pausedOutputsParams({ context }: { context: Ctx }): PausedOutputsParams {
  return { outputs: context.pause?.outputs ?? [], timeoutMs: current(context).timeoutMs };
}

/** Params of `runAction`: the attempt just started. */
export function attemptParams({ context }: { context: Ctx }): RunActionParams {
  return {
    attemptId: context.attemptId,
    phase: context.phase,
    stepIndex: context.currentStep,
    step: current(context),
    attempt: context.attempt,
    deadline: context.deadline as number,
  };
}

/** Params of `checkCondition`: the `when` of the step being reached, or the wait of the current step. */
export function checkParams(which: CheckParams['which']): (args: { context: Ctx }) => CheckParams {
  return ({ context }) => {
    const step = which === 'when' ? starting(context) : current(context);
    return { which, condition: (which === 'when' ? step.when : step.wait?.condition) ?? {} };
  };
}

/** Params of `emitStep` for a `sequence_step` event of `status` about the current step. */
export function stepEventParams(status: StepEventParams['status']): (args: { context: Ctx }) => StepEventParams {
  // Whole literals, not `{ ...base, more }`: V8 (Node 20) adds each key after a spread on a slow path.
  return ({ context }) => {
    const { phase, currentStep: stepIndex, attempt } = context;
    const stepName = current(context).name;
    if (status === 'starting') {
      return { status, phase, stepIndex, stepName, attempt, message: '', success: null, durationMs: null, errorCode: null };
    }
    if (status === 'waiting') {
      const message = `waiting for ${current(context).wait?.description ?? 'its condition'}`;
      return { status, phase, stepIndex, stepName, attempt, message, success: null, durationMs: null, errorCode: null };
    }
    if (status === 'retrying') {
      const error = context.lastError;
      return { status, phase, stepIndex, stepName, attempt, message: error?.message ?? '', success: null, durationMs: null, errorCode: error?.code ?? null };
    }
    const results = phase === 'steps' ? context.results : context.cleanupResults;
    const outcome = results[results.length - 1] as StepOutcome;
    return {
      status,
      phase,
      stepIndex,
      stepName,
      attempt,
      message: outcome.message,
      success: outcome.success,
      durationMs: outcome.endedAt - outcome.startedAt,
      errorCode: outcome.code,
    };
  };
}
