/**
 * The statechart of one run of a sequence (SPEC section 5). The chart is the logic: every decision
 * is a transition with a named guard (`sequence.guards.ts`), every effect a named action
 * (`sequence.actions.ts`), and every choice point a transient state that tries its guarded
 * transitions top to bottom. Read `stepStates` below to follow one step.
 *
 * Pure: the machine never reads a clock and owns no timer. Every event carries `now`; every wait
 * stores its absolute deadline in context and the host sends WAKE when it has come (and TIMEOUT
 * when `max_duration_seconds` runs out). That keeps the machine deterministic, makes a restored
 * snapshot resumable (XState does not persist pending `after` timers), and keeps thousands of runs
 * off XState's shared scheduler, whose cancel-all on every actor stop scans every pending timer of
 * the system. The effects (`runAction`, `abortAction`, `emitStep`, `forwardPause`,
 * `forwardResume`, `turnOutputsOff`, `restoreOutputs`, ...) are no-ops here; the host provides
 * them with `machine.provide`.
 */
import { and, assign, not, raise, setup } from 'xstate';
import { attemptParams, checkParams, heldEvent, pausedOutputsParams, sequenceUpdates as u, stepEventParams } from './sequence.actions.ts';
import { sequenceGuards } from './sequence.guards.ts';
import type {
  CheckParams,
  PausedOutputsParams,
  RunActionParams,
  SequenceContext,
  SequenceEvent,
  SequenceInput,
  StepEventParams,
} from './sequence.types.ts';

export type * from './sequence.types.ts';
export { retryDelayMs } from './sequence.actions.ts';
export { conditionMayMove, holdWakeAt, MachineCodes, MAX_SIGNALS, runDeadline } from './sequence.guards.ts';

const machineSetup = setup({
  types: {
    context: {} as SequenceContext,
    events: {} as SequenceEvent,
    input: {} as SequenceInput,
  },
  guards: sequenceGuards,
  actions: {
    /** Effect: runs an attempt of the current step's action; the host answers STEP_DONE or STEP_FAILED. */
    runAction: (_: unknown, _params: RunActionParams) => {},
    /** Effect: aborts the action in flight (its executor's AbortSignal). */
    abortAction: () => {},
    /** Effect: publishes a `sequence_step` event. */
    emitStep: (_: unknown, _params: StepEventParams) => {},
    /** Effect: tells a nested run in flight to pause with its parent. */
    forwardPause: () => {},
    /** Effect: tells a nested run in flight to resume with its parent. */
    forwardResume: () => {},
    /** Effect: turns OFF, leases kept, the outputs a run paused with `outputs: "off"` held; one not confirmed OFF aborts the run (5643). */
    turnOutputsOff: (_: unknown, _params: PausedOutputsParams) => {},
    /** Effect: turns those outputs back as they were; the host answers OUTPUTS_RESTORED, or ABORT when it cannot. */
    restoreOutputs: (_: unknown, _params: PausedOutputsParams) => {},
    /** Effect: passes a signal on to a nested run in flight. */
    forwardSignal: () => {},
    /** Effect: the host evaluates a condition of the current step and answers CONDITION. */
    checkCondition: (_: unknown, _params: CheckParams) => {},
    /** Effect: the host sends this run CONDITION when a reading of a sensor its wait reads arrives (and only then). */
    watchCondition: () => {},
    /** Effect: readings no longer concern this run. */
    unwatchCondition: () => {},
    beginRun: assign(u.beginRun),
    beginDelayBefore: assign(u.beginDelayBefore),
    beginDelay: assign(u.beginDelay),
    beginAttempt: assign(u.beginAttempt),
    armDelay: assign(u.armDelay),
    startAttempt: assign(u.startAttempt),
    recordSuccess: assign(u.recordSuccess),
    noteFailure: assign(u.noteFailure),
    noteTimeout: assign(u.noteTimeout),
    noteLost: assign(u.noteLost),
    scheduleRetry: assign(u.scheduleRetry),
    recordFailure: assign(u.recordFailure),
    failRun: assign(u.failRun),
    armDelayAfter: assign(u.armDelayAfter),
    finish: assign(u.finish),
    pauseClock: assign(u.pauseClock),
    notePausedOutputs: assign(u.notePausedOutputs),
    resumeClock: assign(u.resumeClock),
    holdAnswer: assign(u.holdAnswer),
    holdLoss: assign(u.holdLoss),
    markRestart: assign(u.markRestart),
    endCancelled: assign(u.endCancelled),
    endTimedOut: assign(u.endTimedOut),
    endAborted: assign(u.endAborted),
    recordInterrupted: assign(u.recordInterrupted),
    beginCleanup: assign(u.beginCleanup),
    beginCheck: assign(u.beginCheck),
    recordSkipped: assign(u.recordSkipped),
    beginWait: assign(u.beginWait),
    armWait: assign(u.armWait),
    noteHold: assign(u.noteHold),
    dropHold: assign(u.dropHold),
    recordWaitSuccess: assign(u.recordWaitSuccess),
    noteWaitTimeout: assign(u.noteWaitTimeout),
    keepSignal: assign(u.keepSignal),
    /** The answer held while paused is taken now, as if it had just come. */
    replayHeld: raise(heldEvent),
  },
});

/** `emitStep` about the current step with `status`. */
const emit = (status: StepEventParams['status']) => ({ type: 'emitStep' as const, params: stepEventParams(status) });
/** `runAction` for the attempt just started. */
const run = { type: 'runAction' as const, params: attemptParams };
/** `turnOutputsOff` / `restoreOutputs` about the outputs kept by the pause. */
const outputs = (type: 'turnOutputsOff' | 'restoreOutputs') => ({ type, params: pausedOutputsParams });
/** `checkCondition` about the step's `when` or its wait. */
const check = (which: CheckParams['which']) => ({ type: 'checkCondition' as const, params: checkParams(which) });

type Guard = keyof typeof sequenceGuards;
type Action = 'recordSuccess' | 'recordFailure' | ReturnType<typeof emit>;

/** `guard` and `also`, or `also` alone when nothing else is asked. */
const both = (guard: Guard | undefined, also: Guard) => (guard ? and([guard, also]) : also);

/**
 * A step failed for good and goes on (its policy, or any cleanup step):
 * its after-delay, or the next step begins through the choice `startingStep`.
 */
function stepOver(guard: Guard | undefined, actions: readonly Action[]) {
  return [
    { guard: both(guard, 'hasDelayAfter'), target: 'afterDelay', actions: [...actions, 'armDelayAfter' as const] },
    { guard, target: 'startingStep', actions },
  ];
}

/**
 * A step succeeded (`guard` says how: its action answered, its delay ran out) and is recorded: its
 * after-delay, or the next step begins at once, decided here as `startingStep` decides it. Every
 * run takes this path at every step, so it is one transition rather than two (see
 * docs/benchmarks.md); the rarer ways into a step go through `startingStep`.
 */
function stepSucceeded(guard: Guard, listDone: string) {
  const recorded = ['recordSuccess' as const, emit('completed')];
  return [
    { guard: both(guard, 'hasDelayAfter'), target: 'afterDelay', actions: [...recorded, 'armDelayAfter' as const] },
    { guard: both(guard, 'isLastStep'), target: listDone, actions: [...recorded, 'finish' as const] },
    { guard: both(guard, 'nextIsClosedLoop'), target: 'startingStep', actions: recorded },
    { guard: both(guard, 'nextHasDelayBefore'), target: 'beforeDelay', actions: [...recorded, 'beginDelayBefore' as const, emit('starting')] },
    { guard: both(guard, 'nextIsDelay'), target: 'delaying', actions: [...recorded, 'beginDelay' as const, emit('starting')] },
    { guard, target: 'executing', actions: [...recorded, 'beginAttempt' as const, emit('starting'), run] },
  ];
}

/**
 * The life of one step, the same in `running` (the steps) and `cleanup` (the cleanup steps, every
 * one of which goes on when it fails). `startingStep` and `attemptFailed` are choice points
 * (transient states); the other states wait for an event. `listDone` is where the run goes when
 * its list has no step left.
 */
function stepStates(phase: 'running' | 'cleanup', listDone: string) {
  const failedForGood =
    phase === 'running'
      ? [
          ...stepOver('continueOnFailure', ['recordFailure', emit('failed')]),
          { target: '#sequence.cleanup', actions: ['recordFailure' as const, emit('failed'), 'failRun' as const] },
        ]
      : stepOver(undefined, ['recordFailure', emit('failed')]);
  return {
    /** The step to begin (the first, or the one after the last recorded), or the list is over. */
    startingStep: {
      always: [
        { guard: 'noStepLeft' as const, target: listDone, actions: 'finish' as const },
        { guard: 'hasWhen' as const, target: 'checkingWhen', actions: ['beginCheck' as const, check('when')] },
        { target: 'enteringStep' },
      ],
    },
    /** The step's `when` is asked about: it runs if that holds, else it is skipped (unknown counts as false). */
    checkingWhen: {
      on: {
        CONDITION: [
          { guard: 'conditionHolds' as const, target: 'enteringStep' },
          { target: 'startingStep', actions: ['recordSkipped' as const, emit('skipped')] },
        ],
      },
    },
    /** The step begins: its before-delay, its wait, its delay or its action. */
    enteringStep: {
      always: [
        { guard: 'hasDelayBefore' as const, target: 'beforeDelay', actions: ['beginDelayBefore' as const, emit('starting')] },
        ...(phase === 'running' ? [{ guard: 'isWaitStep' as const, target: 'waiting', actions: ['beginWait' as const, emit('starting')] }] : []),
        { guard: 'isDelayStep' as const, target: 'delaying', actions: ['beginDelay' as const, emit('starting')] },
        { target: 'executing', actions: ['beginAttempt' as const, emit('starting'), run] },
      ],
    },
    beforeDelay: {
      on: {
        WAKE: [
          ...(phase === 'running' ? [{ guard: and(['deadlineReached', 'isWaitStep']), target: 'waiting', actions: 'armWait' as const }] : []),
          { guard: and(['deadlineReached', 'isDelayStep']), target: 'delaying', actions: 'armDelay' as const },
          { guard: 'deadlineReached' as const, target: 'executing', actions: ['startAttempt' as const, run] },
        ],
      },
    },
    delaying: {
      on: { WAKE: stepSucceeded('deadlineReached', listDone) },
    },
    executing: {
      on: {
        STEP_DONE: stepSucceeded('isCurrentAttempt', listDone),
        STEP_FAILED: { guard: 'isCurrentAttempt' as const, target: 'attemptFailed', actions: 'noteFailure' as const },
        WAKE: { guard: 'deadlineReached' as const, target: 'attemptFailed', actions: ['abortAction' as const, 'noteTimeout' as const] },
        // Sent once after a restart: the action that was in flight is lost.
        RECOVER: [
          { guard: 'isIdempotent' as const, target: 'executing', actions: ['startAttempt' as const, run] },
          { target: 'attemptFailed', actions: 'noteLost' as const },
        ],
      },
    },
    /** An attempt failed: retry it, or the step failed for good and its policy decides. */
    attemptFailed: {
      always: [{ guard: 'retriesLeft' as const, target: 'retrying', actions: ['scheduleRetry' as const, emit('retrying')] }, ...failedForGood],
    },
    retrying: {
      on: { WAKE: { guard: 'deadlineReached' as const, target: 'executing', actions: ['startAttempt' as const, run] } },
    },
    afterDelay: {
      on: { WAKE: { guard: 'deadlineReached' as const, target: 'startingStep' } },
    },
    ...(phase === 'running' ? { waiting: waitingState } : {}),
  };
}

/** A wait is over, its condition satisfied (`guard`): recorded, then its after-delay or the next step. */
function waitOver(guard: Guard[]) {
  const recorded = ['recordWaitSuccess' as const, emit('completed')];
  return [
    { guard: and([...guard, 'hasDelayAfter']), target: 'afterDelay', actions: [...recorded, 'armDelayAfter' as const] },
    { guard: and(guard), target: 'startingStep', actions: recorded },
  ];
}

/**
 * A `wait_for` step (SPEC 2.1). Its timeout is `deadline`, durable like a delay's. The host answers
 * CONDITION when asked (on entry, on a signal) and when a reading of a sensor the condition reads
 * arrives; with `for_seconds` the condition must then hold, on fresh readings, that long: a dip,
 * or readings that age out (the host's timer, armed at `holdWakeAt`), start it over.
 */
const waitingState = {
  entry: ['watchCondition' as const, check('wait'), emit('waiting')],
  exit: 'unwatchCondition' as const,
  on: {
    CONDITION: [
      ...waitOver(['conditionHolds', 'waitSatisfied']),
      { guard: and(['conditionHolds', 'holdChanges']), actions: 'noteHold' as const },
      { guard: and([not('conditionHolds'), 'isHolding']), actions: 'dropHold' as const },
    ],
    WAKE: [
      ...waitOver(['waitSatisfied']),
      { guard: 'deadlineReached' as const, target: 'attemptFailed', actions: 'noteWaitTimeout' as const },
      { guard: 'holdLapsed' as const, actions: 'dropHold' as const },
    ],
    // A signal may be what the condition waits for.
    SIGNAL: { guard: 'signalRoom' as const, actions: ['keepSignal' as const, 'forwardSignal' as const, check('wait')] },
    // After a restart: the wait goes on with the readings that arrive from now on.
    RECOVER: { target: 'waiting', reenter: true, actions: 'dropHold' as const },
  },
};

/** CANCEL, TIMEOUT and ABORT: the action in flight is aborted and the run ends early, through its cleanup. */
const endEarly = {
  CANCEL: { target: '#sequence.cleanup', actions: ['abortAction' as const, 'endCancelled' as const] },
  TIMEOUT: { target: '#sequence.cleanup', actions: ['abortAction' as const, 'endTimedOut' as const] },
  ABORT: { target: '#sequence.cleanup', actions: ['abortAction' as const, 'endAborted' as const] },
};

/** The sequence machine. The host provides its effects. */
export const sequenceMachine = machineSetup.createMachine({
  id: 'sequence',
  context: ({ input }) => initialContext(input),
  initial: 'idle',
  // Kept in every state until the run ends (SPEC 2.1), so a wait that begins later sees it.
  on: { SIGNAL: { guard: 'signalRoom', actions: ['keepSignal', 'forwardSignal'] } },
  output: ({ context }) => ({ end: context.end, results: context.results }),
  states: {
    idle: {
      on: {
        START: { target: 'running', actions: 'beginRun' },
        CANCEL: endEarly.CANCEL,
      },
    },
    running: {
      initial: 'startingStep',
      states: {
        ...stepStates('running', '#sequence.completed'),
        /** Where RESUME returns: the substate the run was paused in. */
        history: { type: 'history' },
      },
      on: {
        // An action in flight keeps running while paused; its answer is held until RESUME.
        PAUSE: [
          { guard: and(['turnsOutputsOff', 'holdsOutputs']), target: 'paused.off', actions: ['pauseClock', 'notePausedOutputs', 'forwardPause'] },
          { target: 'paused.held', actions: ['pauseClock', 'forwardPause'] },
        ],
        ...endEarly,
      },
    },
    /**
     * Paused (SPEC 7): `held` leaves the actuators as they are; `off` has turned OFF what the run
     * held (leases kept) and `restoring` turns it back before the remaining time goes on.
     */
    paused: {
      initial: 'held',
      states: {
        held: { on: { RESUME: 'resuming' } },
        off: { entry: outputs('turnOutputsOff'), on: { RESUME: 'restoring' } },
        restoring: { entry: outputs('restoreOutputs'), on: { OUTPUTS_RESTORED: 'resuming' } },
        /** The waits go on for what they had left, from where the run was paused. */
        resuming: {
          always: [
            { guard: 'hasHeldAnswer', target: '#sequence.running.history', actions: ['replayHeld', 'resumeClock', 'forwardResume'] },
            { guard: 'restartsAttempt', target: '#sequence.running.executing', actions: ['resumeClock', 'forwardResume', 'startAttempt', run] },
            { target: '#sequence.running.history', actions: ['resumeClock', 'forwardResume'] },
          ],
        },
        /** Where RECOVER re-enters, so the effect of the state the run was in is asked for again. */
        history: { type: 'history' },
      },
      on: {
        STEP_DONE: { guard: 'isCurrentAttempt', actions: 'holdAnswer' },
        STEP_FAILED: { guard: 'isCurrentAttempt', actions: 'holdAnswer' },
        // After a restart: the OFFs (or the restore) in flight are sent again, nothing is restored before RESUME.
        RECOVER: [
          { guard: and(['lostInFlight', 'isIdempotent']), target: '.history', reenter: true, actions: 'markRestart' },
          { guard: 'lostInFlight', target: '.history', reenter: true, actions: 'holdLoss' },
          { target: '.history', reenter: true },
        ],
        ...endEarly,
      },
    },
    cleanup: {
      initial: 'closingStep',
      states: {
        /** The step under way when the run ended early is recorded as failed; then the cleanup steps begin. */
        closingStep: {
          always: [
            { guard: 'stepInFlight', target: 'startingStep', actions: ['recordInterrupted', emit('failed'), 'beginCleanup'] },
            { target: 'startingStep', actions: 'beginCleanup' },
          ],
        },
        ...stepStates('cleanup', 'done'),
        done: { type: 'final' },
      },
      // CANCEL, TIMEOUT and PAUSE are not taken here: a run making its actuators safe finishes doing so.
      onDone: [{ guard: 'endsCancelled', target: 'cancelled' }, { guard: 'endsTimedOut', target: 'timeout' }, { target: 'failed' }],
    },
    completed: { type: 'final' },
    failed: { type: 'final' },
    cancelled: { type: 'final' },
    timeout: { type: 'final' },
  },
});

/**
 * The empty list every run begins with (results, cleanup results, signals): lists in a context are
 * never changed, only replaced (`list.concat(item)`), so one frozen empty list serves every run
 * instead of three empty arrays a run (32 B each).
 */
const NONE: readonly never[] = Object.freeze([]);

/**
 * A run's first context. Built by spreading a literal: V8 gives object literals field maps that
 * every later `assign` (which copies the context) has to migrate when a null field gets a number,
 * which made each copy ~15x slower.
 */
function initialContext(input: SequenceInput): SequenceContext {
  const context: SequenceContext = {
    plan: input.plan,
    phase: 'steps',
    currentStep: input.firstStep ?? 0,
    attempt: 0,
    attemptId: 0,
    awaitingAnswer: false,
    deadline: null,
    stepStartedAt: null,
    stepRecorded: false,
    lastError: null,
    results: NONE,
    cleanupResults: NONE,
    end: null,
    startedAt: null,
    endedAt: null,
    pause: null,
    signals: input.signals ?? NONE,
    hold: null,
  };
  return { ...context };
}

/** The machine's type, for hosts that provide its effects. */
export type SequenceMachine = typeof sequenceMachine;
