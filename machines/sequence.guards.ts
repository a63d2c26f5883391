/**
 * The decisions of the sequence statechart, one named guard each. Every guard is a pure function
 * of the run's context and the event being taken: every event carries `now` and whatever else a
 * decision needs, so a run rebuilt by replaying its events decides exactly as it did.
 */
import type { PlanStep, SequenceContext, SequenceEvent } from './sequence.types.ts';

/** Codes the machine itself assigns (a subset of the SPEC 4 registry). */
export const MachineCodes = {
  CANCELLED: 5612,
  TIMEOUT: 5613,
  STEP_FAILED: 5614,
  STEP_TIMEOUT: 5615,
  MAX_DURATION_EXCEEDED: 5616,
  WAIT_TIMEOUT: 5621,
  STATE_CORRUPTION: 5633,
} as const;

/** Most signals a run keeps (SPEC 2.1). */
export const MAX_SIGNALS = 100;

/** The list being run: the steps, or the cleanup steps once the run ends early. */
function listOf(context: SequenceContext): PlanStep[] {
  return context.phase === 'steps' ? context.plan.steps : context.plan.cleanup;
}

/** The step at `currentStep` of the list being run (undefined past its end). */
export function stepOf(context: SequenceContext): PlanStep | undefined {
  return listOf(context)[context.currentStep];
}

/**
 * The index of the step to begin: a step stays current until the next one begins, so once the
 * current step is recorded, the one after it.
 */
export function indexToStart(context: SequenceContext): number {
  return context.stepRecorded ? context.currentStep + 1 : context.currentStep;
}

/** The step to begin (undefined when the list is over). */
export function stepToStart(context: SequenceContext): PlanStep | undefined {
  return listOf(context)[indexToStart(context)];
}

/** The step after the current one (undefined after the last). */
function nextOf(context: SequenceContext): PlanStep | undefined {
  return listOf(context)[context.currentStep + 1];
}

type Args = { context: SequenceContext; event: SequenceEvent };

/** The step being run: guards are only asked while there is one. */
const current = (context: SequenceContext): PlanStep => stepOf(context) as PlanStep;

/** How long the current `wait_for` step's condition must hold (0 for any other step). */
function holdMs(context: SequenceContext): number {
  return stepOf(context)?.wait?.forMs ?? 0;
}

/** The hold has lasted `for_seconds` at `now`, and its readings were fresh all along. */
function holdLasted(context: SequenceContext, now: number): boolean {
  const hold = context.hold;
  if (hold === null) return false;
  const done = hold.since + holdMs(context);
  return now >= done && (hold.until === null || hold.until >= done);
}

/** The hold's readings have aged out: the condition is no longer known to hold. */
function holdLapsed(context: SequenceContext, now: number): boolean {
  return context.hold !== null && context.hold.until !== null && now >= context.hold.until;
}

/**
 * When `max_duration_seconds` runs out (Unix ms), pauses included: the run's start plus its plan's
 * maximum duration; null before it starts. The host sends TIMEOUT then.
 */
export function runDeadline(context: SequenceContext): number | null {
  return context.startedAt === null ? null : context.startedAt + context.plan.maxDurationMs;
}

/**
 * When a holding wait must be looked at again without any reading: once its `for_seconds` are over,
 * or once its readings age out, whichever comes first; null when nothing holds. The host arms the
 * run's one timer for it beside the wait's timeout.
 */
export function holdWakeAt(context: SequenceContext): number | null {
  const hold = context.hold;
  if (hold === null) return null;
  const done = hold.since + holdMs(context);
  return hold.until === null ? done : Math.min(done, hold.until);
}

/**
 * Whether a CONDITION answer can move a waiting run at all: only one that holds, or any answer
 * while a hold stands (it may end it). Every CONDITION transition of `running.waiting` is guarded
 * by `conditionHolds` or `isHolding`, so the host need not hand the chart an answer for which this
 * is false: thousands of waiting runs hear every reading of their sensors.
 */
export function conditionMayMove(context: SequenceContext, truth: 'true' | 'false' | 'unknown'): boolean {
  return truth === 'true' || context.hold !== null;
}

/** Whether a condition answer says it holds (unknown never does). */
const holds = (event: SequenceEvent): boolean => event.type === 'CONDITION' && event.truth === 'true';

/** The guards, by the name the chart shows. */
export const sequenceGuards = {
  /** The current wait or attempt has run out (a timer that fires a hair early changes nothing). */
  deadlineReached: ({ context, event }: Args) => context.deadline !== null && event.now >= context.deadline,
  /** The answer is the one the run waits for, not a late answer of an attempt it gave up. */
  isCurrentAttempt: ({ context, event }: Args) => context.awaitingAnswer && 'attemptId' in event && event.attemptId === context.attemptId,
  /** The list being run has no step left to begin: every step of it is over. */
  noStepLeft: ({ context }: Args) => stepToStart(context) === undefined,
  /** The step to begin has `delay_before_seconds`. */
  hasDelayBefore: ({ context }: Args) => (stepToStart(context) as PlanStep).beforeMs > 0,
  /** The step (to begin, or past its before-delay) is a pure wait (a delay step or a `delay` action), with no action to run. */
  isDelayStep: ({ context }: Args) => {
    const step = stepToStart(context) as PlanStep;
    return step.action === null && step.wait == null;
  },
  /** The step (to begin, or past its before-delay) is a `wait_for` step. */
  isWaitStep: ({ context }: Args) => (stepToStart(context) as PlanStep).wait != null,
  /** The step to begin has a `when`: it runs only if that holds now. */
  hasWhen: ({ context }: Args) => (stepToStart(context) as PlanStep).when != null,
  /** The step after the current one has a `when` or is a `wait_for` step: it begins through the choice `startingStep`. */
  nextIsClosedLoop: ({ context }: Args) => {
    const next = nextOf(context) as PlanStep;
    return next.when != null || next.wait != null;
  },
  /** The condition asked about, or waited on, holds (unknown never does). */
  conditionHolds: ({ event }: Args) => holds(event),
  /**
   * The wait is satisfied: its condition holds now and needs no `for_seconds`, or it has held
   * (on fresh readings, without a break) for its `for_seconds`.
   */
  waitSatisfied: ({ context, event }: Args) => (holdMs(context) === 0 ? holds(event) : holdLasted(context, event.now)),
  /** A condition that holds changes the hold: it begins, begins again after its readings aged out, or its readings last longer. */
  holdChanges: ({ context, event }: Args) =>
    context.hold === null || holdLapsed(context, event.now) || (event.type === 'CONDITION' && event.until !== context.hold.until),
  /** The wait's condition holds and must keep holding. */
  isHolding: ({ context }: Args) => context.hold !== null,
  /** The readings the hold stood on have aged out (the condition is unknown now). */
  holdLapsed: ({ context, event }: Args) => holdLapsed(context, event.now),
  /** The run may keep one more signal (at most `MAX_SIGNALS`). */
  signalRoom: ({ context }: Args) => context.signals.length < MAX_SIGNALS,
  /** The current step is the last of its list. */
  isLastStep: ({ context }: Args) => nextOf(context) === undefined,
  /** The step after the current one has `delay_before_seconds`. */
  nextHasDelayBefore: ({ context }: Args) => (nextOf(context) as PlanStep).beforeMs > 0,
  /** The step after the current one is a pure wait. */
  nextIsDelay: ({ context }: Args) => (nextOf(context) as PlanStep).action === null,
  /** The step's action is safe to send again (`idempotent: true`). */
  isIdempotent: ({ context }: Args) => current(context).action?.idempotent === true,
  /** The failed attempt may be retried: retries are left, and it was not lost to a restart (5633). */
  retriesLeft: ({ context }: Args) =>
    context.attempt < current(context).retries && context.lastError?.code !== MachineCodes.STATE_CORRUPTION,
  /** The step's failure policy, its retries spent, is to go on (`on_failure: "continue"`). */
  continueOnFailure: ({ context }: Args) => current(context).onFailure === 'continue',
  /** The step ends with `delay_after_seconds`. */
  hasDelayAfter: ({ context }: Args) => current(context).afterMs > 0,
  /** The pause asks for the run's outputs to be turned OFF (`outputs: "off"`). */
  turnsOutputsOff: ({ event }: Args) => event.type === 'PAUSE' && event.outputs === 'off',
  /** The run holds actuators as it is paused (with nothing held, `off` and `hold` are one). */
  holdsOutputs: ({ event }: Args) => event.type === 'PAUSE' && (event.held?.length ?? 0) > 0,
  /** Paused: the answer of the attempt in flight came meanwhile and waits in `held`. */
  hasHeldAnswer: ({ context }: Args) => context.pause?.held != null,
  /** Paused: the attempt in flight was lost to a restart and its idempotent action is to be sent again. */
  restartsAttempt: ({ context }: Args) => context.pause?.restartAttempt === true,
  /** Paused while an attempt runs whose answer has not come: a restart has lost that attempt. */
  lostInFlight: ({ context }: Args) => context.awaitingAnswer && context.pause?.held == null,
  /** The run ends cancelled (after its cleanup). */
  endsCancelled: ({ context }: Args) => context.end?.outcome === 'cancelled',
  /** The run ends timeout (after its cleanup). */
  endsTimedOut: ({ context }: Args) => context.end?.outcome === 'timeout',
  /** The run ended early while a step was under way whose result is not recorded yet. */
  stepInFlight: ({ context }: Args) => context.stepStartedAt !== null && !context.stepRecorded && stepOf(context) !== undefined,
};
