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
  STATE_CORRUPTION: 5633,
} as const;

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
  isDelayStep: ({ context }: Args) => (stepToStart(context) as PlanStep).action === null,
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
  /** Paused: the answer of the attempt in flight came meanwhile and waits in `held`. */
  hasHeldAnswer: ({ context }: Args) => context.held !== null,
  /** Paused: the attempt in flight was lost to a restart and its idempotent action is to be sent again. */
  restartsAttempt: ({ context }: Args) => context.restartAttempt,
  /** Paused while an attempt runs whose answer has not come: a restart has lost that attempt. */
  lostInFlight: ({ context }: Args) => context.awaitingAnswer && context.held === null,
  /** The run ends cancelled (after its cleanup). */
  endsCancelled: ({ context }: Args) => context.outcome === 'cancelled',
  /** The run ends timeout (after its cleanup). */
  endsTimedOut: ({ context }: Args) => context.outcome === 'timeout',
  /** The run ended early while a step was under way whose result is not recorded yet. */
  stepInFlight: ({ context }: Args) => context.stepStartedAt !== null && !context.stepRecorded && stepOf(context) !== undefined,
};
