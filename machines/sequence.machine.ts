/**
 * The statechart of one run of a sequence (SPEC section 5).
 *
 * Pure: the machine never reads a clock and owns no timer. Every event carries `now`; every wait
 * stores its absolute deadline in context and the host sends WAKE when it has come (and TIMEOUT
 * when `max_duration_seconds` runs out). That keeps the machine deterministic, makes a restored
 * snapshot resumable (XState does not persist pending `after` timers), and keeps thousands of runs
 * off XState's shared scheduler, whose cancel-all on every actor stop scans every pending timer of
 * the system. Effects (running an action, aborting it, publishing step events, pausing a nested
 * run) are named here and provided by the host with `machine.provide`.
 */
import { and, setup } from 'xstate';
import type {
  HeldResult,
  Outcome,
  PlanStep,
  ResumeTarget,
  RunActionParams,
  SequenceContext,
  SequenceEvent,
  SequenceInput,
  StepEventParams,
  StepOutcome,
} from './sequence.types.ts';

export type * from './sequence.types.ts';

/** Codes the machine itself assigns (a subset of the SPEC 4 registry). */
export const MachineCodes = {
  CANCELLED: 5612,
  TIMEOUT: 5613,
  STEP_FAILED: 5614,
  STEP_TIMEOUT: 5615,
  MAX_DURATION_EXCEEDED: 5616,
  STATE_CORRUPTION: 5633,
} as const;

type Ctx = SequenceContext;
type Ev = SequenceEvent;

const listOf = (c: Ctx): PlanStep[] => (c.phase === 'steps' ? c.plan.steps : c.plan.cleanup);
const stepOf = (c: Ctx): PlanStep => listOf(c)[c.currentStep] as PlanStep;
const nowOf = (e: Ev): number => ('now' in e && typeof e.now === 'number' ? e.now : 0);
const RESUMABLE: readonly ResumeTarget[] = ['beforeDelay', 'delaying', 'executing', 'retrying', 'afterDelay'];

/** The pause before the next attempt after `failedAttempts` failures; doubles per failure with backoff. */
export function retryDelayMs(step: PlanStep, failedAttempts: number): number {
  return step.backoff ? step.retryDelayMs * 2 ** (failedAttempts - 1) : step.retryDelayMs;
}

/** The outcome of the current step, as it would be recorded now. */
function outcomeOf(c: Ctx, success: boolean, message: string, code: number | null, now: number): StepOutcome {
  return {
    index: c.currentStep,
    name: stepOf(c).name,
    success,
    message,
    code,
    startedAt: c.stepStartedAt ?? now,
    endedAt: now,
    retries: c.attempt,
  };
}

/** Context changes that record the current step's outcome in the list of its phase. */
function record(c: Ctx, outcome: StepOutcome): Partial<Ctx> {
  return c.phase === 'steps'
    ? { results: [...c.results, outcome], stepRecorded: true }
    : { cleanupResults: [...c.cleanupResults, outcome], stepRecorded: true };
}

/** Params of a `sequence_step` event about the current step. */
function stepEvent(c: Ctx, status: StepEventParams['status'], outcome?: StepOutcome, message = ''): StepEventParams {
  return {
    status,
    phase: c.phase,
    stepIndex: c.currentStep,
    stepName: stepOf(c).name,
    message: outcome?.message ?? message,
    success: outcome ? outcome.success : null,
    durationMs: outcome ? outcome.endedAt - outcome.startedAt : null,
    errorCode: outcome?.code ?? null,
    attempt: c.attempt,
  };
}

const machineSetup = setup({
  types: {
    context: {} as SequenceContext,
    events: {} as SequenceEvent,
    input: {} as SequenceInput,
  },
  actions: {
    /** Starts one attempt of the current step's action; the host answers STEP_DONE or STEP_FAILED. */
    runAction: (_: unknown, _params: RunActionParams) => {},
    /** Aborts the action in flight, if any (its executor's AbortSignal fires). */
    abortAction: () => {},
    /** Publishes a `sequence_step` event. */
    emitStep: (_: unknown, _params: StepEventParams) => {},
    /** Tells a nested run in flight to pause or resume with its parent. */
    forwardPause: () => {},
    forwardResume: () => {},
  },
  guards: {
    listDone: ({ context }) => context.currentStep >= listOf(context).length,
    hasBefore: ({ context }) => stepOf(context).beforeMs > 0,
    isWait: ({ context }) => stepOf(context).action === null,
    hasAfter: ({ context }) => stepOf(context).afterMs > 0,
    isCurrentAttempt: ({ context, event }) => 'attemptId' in event && event.attemptId === context.attemptId,
    deadlinePassed: ({ context, event }) => context.deadline !== null && nowOf(event) >= context.deadline,
    canRetry: ({ context }) =>
      context.attempt < stepOf(context).retries && context.lastError?.code !== MachineCodes.STATE_CORRUPTION,
    continuesOnFailure: ({ context }) => context.phase === 'cleanup' || stepOf(context).onFailure === 'continue',
    hasCleanup: ({ context }) => context.plan.cleanup.length > 0,
    isIdempotent: ({ context }) => stepOf(context).action?.idempotent === true,
    outcomeFailed: ({ context }) => context.outcome === 'failed',
    outcomeCancelled: ({ context }) => context.outcome === 'cancelled',
    hasHeld: ({ context }) => context.held !== null,
    mustRestartAttempt: ({ context }) => context.restartAttempt,
    lostInFlight: ({ context }) => context.resumeTo === 'executing' && context.held === null,
    /** Paused while an attempt ran: only then can an answer of the current attempt be held. */
    pausedInAttempt: ({ context, event }) =>
      context.resumeTo === 'executing' && 'attemptId' in event && event.attemptId === context.attemptId,
  },
});

/** Begins the current step: its start time, a fresh attempt count, the `starting` event. */
const beginStep = machineSetup.enqueueActions(({ context, enqueue }) => {
  enqueue({ type: 'emitStep', params: stepEvent(context, 'starting') });
});

const armBefore = machineSetup.assign(({ context, event }) => ({
  stepStartedAt: nowOf(event),
  attempt: 0,
  stepRecorded: false,
  lastError: null,
  deadline: nowOf(event) + stepOf(context).beforeMs,
}));

const armWait = machineSetup.assign(({ context, event }) => ({
  stepStartedAt: context.stepStartedAt ?? nowOf(event),
  deadline: nowOf(event) + stepOf(context).waitMs,
}));

/** Starts an attempt of the action with its own deadline; late answers of older attempts are ignored. */
const startAttempt = machineSetup.enqueueActions(({ context, event, enqueue }) => {
  const now = nowOf(event);
  const step = stepOf(context);
  const attemptId = context.attemptId + 1;
  const deadline = now + step.timeoutMs;
  enqueue.assign({ attemptId, deadline, stepStartedAt: context.stepStartedAt ?? now });
  enqueue({
    type: 'runAction',
    params: { attemptId, phase: context.phase, stepIndex: context.currentStep, step, attempt: context.attempt, deadline },
  });
});

/** Resets the per-step fields when a step begins without a before-delay. */
const freshStep = machineSetup.assign(({ event }) => ({
  stepStartedAt: nowOf(event),
  attempt: 0,
  stepRecorded: false,
  lastError: null,
}));

const succeed = machineSetup.enqueueActions(({ context, event, enqueue }) => {
  const message = event.type === 'STEP_DONE' ? event.message : `Waited ${stepOf(context).waitMs / 1000} s`;
  const outcome = outcomeOf(context, true, message, null, nowOf(event));
  enqueue.assign({ ...record(context, outcome), deadline: null });
  enqueue({ type: 'emitStep', params: stepEvent(context, 'completed', outcome) });
});

const noteFailure = machineSetup.assign(({ event }) => ({
  deadline: null,
  lastError:
    event.type === 'STEP_FAILED'
      ? { message: event.message, code: event.code }
      : event.type === 'RECOVER'
        ? { message: 'Action was in flight when the server stopped', code: MachineCodes.STATE_CORRUPTION }
        : { message: 'Step timed out', code: MachineCodes.STEP_TIMEOUT },
}));

const armRetry = machineSetup.enqueueActions(({ context, event, enqueue }) => {
  const attempt = context.attempt + 1;
  const delay = retryDelayMs(stepOf(context), attempt);
  enqueue.assign({ attempt, deadline: nowOf(event) + delay });
  enqueue({
    type: 'emitStep',
    params: { ...stepEvent({ ...context, attempt }, 'retrying'), message: context.lastError?.message ?? '', errorCode: context.lastError?.code ?? null },
  });
});

const failStep = machineSetup.enqueueActions(({ context, event, enqueue }) => {
  const error = context.lastError ?? { message: 'Step failed', code: MachineCodes.STEP_FAILED };
  const outcome = outcomeOf(context, false, error.message, error.code, nowOf(event));
  enqueue.assign(record(context, outcome));
  enqueue({ type: 'emitStep', params: stepEvent(context, 'failed', outcome) });
});

const abortRun = machineSetup.assign(({ context, event }) => ({
  outcome: 'failed' as const,
  error: `Step '${stepOf(context).name}' failed: ${context.lastError?.message ?? 'unknown error'}`,
  errorCode: context.lastError?.code ?? MachineCodes.STEP_FAILED,
  endedAt: nowOf(event),
}));

const armAfter = machineSetup.assign(({ context, event }) => ({ deadline: nowOf(event) + stepOf(context).afterMs }));
const nextStep = machineSetup.assign(({ context }) => ({ currentStep: context.currentStep + 1, deadline: null }));
const finish = machineSetup.assign(({ event }) => ({ endedAt: nowOf(event), deadline: null }));
const toCleanup = machineSetup.assign({
  phase: 'cleanup' as const,
  currentStep: 0,
  attempt: 0,
  stepStartedAt: null,
  stepRecorded: false,
  lastError: null,
  deadline: null,
});

const INTERRUPT_CODE: Record<Outcome, number> = {
  cancelled: MachineCodes.CANCELLED,
  timeout: MachineCodes.MAX_DURATION_EXCEEDED,
  failed: MachineCodes.STATE_CORRUPTION,
};

/**
 * Ends the run before its steps are done: aborts the action in flight, records the step in
 * flight as failed with the cause (5612 cancelled, 5616 timed out), sets the run's outcome.
 */
function endedEarly(outcome: Outcome) {
  return machineSetup.enqueueActions(({ context, event, enqueue }) => {
    const now = nowOf(event);
    const message =
      event.type === 'CANCEL' ? `Cancelled: ${event.reason}` : event.type === 'ABORT' ? event.message : 'Maximum sequence duration exceeded';
    const stepCode = event.type === 'ABORT' ? event.code : INTERRUPT_CODE[outcome];
    const runCode = outcome === 'cancelled' ? MachineCodes.CANCELLED : outcome === 'timeout' ? MachineCodes.TIMEOUT : stepCode;
    enqueue('abortAction');
    const inFlight = context.stepStartedAt !== null && !context.stepRecorded && context.currentStep < listOf(context).length;
    if (inFlight) {
      const interrupted = outcomeOf(context, false, message, stepCode, now);
      enqueue.assign(record(context, interrupted));
      enqueue({ type: 'emitStep', params: stepEvent(context, 'failed', interrupted) });
    }
    enqueue.assign({ outcome, error: message, errorCode: runCode, endedAt: now, deadline: null, held: null, resumeTo: null, remainingMs: null });
  });
}

function endEarly(outcome: Outcome) {
  const final = outcome === 'failed' ? '#sequence.failed' : outcome === 'cancelled' ? '#sequence.cancelled' : '#sequence.timeout';
  return [
    { guard: 'hasCleanup' as const, target: '#sequence.cleanup', actions: [endedEarly(outcome), toCleanup] },
    { target: final, actions: endedEarly(outcome) },
  ];
}

function pauseFrom(from: ResumeTarget) {
  return {
    target: '#sequence.paused',
    actions: [
      machineSetup.assign(({ context, event }) => ({
        resumeTo: from,
        remainingMs: context.deadline === null ? null : Math.max(0, context.deadline - nowOf(event)),
        deadline: null,
      })),
      'forwardPause' as const,
    ],
  };
}

/** The step-running substates, shared by `running` (the steps) and `cleanup` (the cleanup steps). */
function stepStates(parent: 'running' | 'cleanup') {
  const inRunning = parent === 'running';
  // After the cleanup steps the run ends with the status that sent it there.
  const whenListDone = inRunning
    ? [{ guard: 'listDone' as const, target: '#sequence.completed', actions: finish }]
    : [
        { guard: and(['listDone', 'outcomeFailed']), target: '#sequence.failed' },
        { guard: and(['listDone', 'outcomeCancelled']), target: '#sequence.cancelled' },
        { guard: 'listDone' as const, target: '#sequence.timeout' },
      ];
  const onAbort = inRunning
    ? [
        { guard: 'hasCleanup' as const, target: '#sequence.cleanup', actions: [failStep, abortRun, toCleanup] },
        { target: '#sequence.failed', actions: [failStep, abortRun] },
      ]
    : [];
  const pause = (from: ResumeTarget) => (inRunning ? { PAUSE: pauseFrom(from) } : {});
  return machineSetup.createStateConfig({
    initial: 'next',
    states: {
      /** Decides how the step at `currentStep` begins, or that the list is done. */
      next: {
        always: [
          ...whenListDone,
          { guard: 'hasBefore', target: 'beforeDelay', actions: [armBefore, beginStep] },
          { guard: 'isWait', target: 'delaying', actions: [freshStep, armWait, beginStep] },
          { target: 'executing', actions: [freshStep, beginStep, startAttempt] },
        ],
      },
      beforeDelay: {
        on: {
          WAKE: [
            { guard: and(['deadlinePassed', 'isWait']), target: 'delaying', actions: armWait },
            { guard: 'deadlinePassed', target: 'executing', actions: startAttempt },
          ],
          ...pause('beforeDelay'),
        },
      },
      delaying: {
        on: { WAKE: { guard: 'deadlinePassed', target: 'afterStep', actions: succeed }, ...pause('delaying') },
      },
      executing: {
        on: {
          STEP_DONE: { guard: 'isCurrentAttempt', target: 'afterStep', actions: succeed },
          STEP_FAILED: { guard: 'isCurrentAttempt', target: 'attemptFailed', actions: noteFailure },
          WAKE: { guard: 'deadlinePassed', target: 'attemptFailed', actions: ['abortAction', noteFailure] },
          RECOVER: [
            { guard: 'isIdempotent', target: 'executing', reenter: true, actions: startAttempt },
            { target: 'attemptFailed', actions: noteFailure },
          ],
          ...pause('executing'),
        },
      },
      /** Decides what a failed attempt leads to: a retry, the next step, or the end of the run. */
      attemptFailed: {
        always: [
          { guard: 'canRetry', target: 'retrying', actions: armRetry },
          { guard: 'continuesOnFailure', target: 'afterStep', actions: failStep },
          ...onAbort,
        ],
      },
      retrying: {
        on: { WAKE: { guard: 'deadlinePassed', target: 'executing', actions: startAttempt }, ...pause('retrying') },
      },
      /** Waits the step's after-delay, if it has one, then moves on. */
      afterStep: {
        always: [
          { guard: 'hasAfter', target: 'afterDelay', actions: armAfter },
          { target: 'next', actions: nextStep },
        ],
      },
      afterDelay: {
        on: { WAKE: { guard: 'deadlinePassed', target: 'next', actions: nextStep }, ...pause('afterDelay') },
      },
    },
  });
}

/** Context changes of a paused run whose action in flight was lost to a restart. */
const lostOnRestart = machineSetup.assign(({ context, event }) => {
  if (stepOf(context).action?.idempotent === true) return { restartAttempt: true };
  const held: HeldResult = {
    type: 'STEP_FAILED',
    attemptId: context.attemptId,
    now: nowOf(event),
    message: 'Action was in flight when the server stopped',
    code: MachineCodes.STATE_CORRUPTION,
  };
  return { held };
});

const resumeDeadline = machineSetup.assign(({ context, event }) => ({
  deadline: context.remainingMs === null ? null : nowOf(event) + context.remainingMs,
}));

const clearPause = machineSetup.assign({ resumeTo: null, remainingMs: null, held: null, restartAttempt: false });

/**
 * A run's first context. Built by spreading a literal: V8 gives object literals field maps that
 * every later `assign` (which copies the context) has to migrate when a null field gets a number,
 * which made each copy ~15x slower.
 */
function initialContext(input: SequenceInput): SequenceContext {
  const context: SequenceContext = {
    plan: input.plan,
    phase: 'steps',
    currentStep: 0,
    attempt: 0,
    attemptId: 0,
    deadline: null,
    runDeadline: null,
    stepStartedAt: null,
    stepRecorded: false,
    lastError: null,
    results: [],
    cleanupResults: [],
    outcome: null,
    error: null,
    errorCode: null,
    startedAt: null,
    endedAt: null,
    resumeTo: null,
    remainingMs: null,
    held: null,
    restartAttempt: false,
    depth: input.depth ?? 1,
  };
  return { ...context };
}

/** The sequence machine. Provide `runAction`, `abortAction`, `emitStep`, `forwardPause` and `forwardResume`. */
export const sequenceMachine = machineSetup.createMachine({
  id: 'sequence',
  context: ({ input }) => initialContext(input),
  initial: 'idle',
  output: ({ context }) => ({
    outcome: context.outcome,
    error: context.error,
    errorCode: context.errorCode,
    results: context.results,
  }),
  states: {
    idle: {
      on: {
        START: {
          target: 'running',
          actions: machineSetup.assign(({ context, event }) => ({
            startedAt: event.now,
            runDeadline: event.now + context.plan.maxDurationMs,
          })),
        },
        CANCEL: { target: 'cancelled', actions: endedEarly('cancelled') },
      },
    },
    running: {
      ...stepStates('running'),
      on: { CANCEL: endEarly('cancelled'), TIMEOUT: endEarly('timeout'), ABORT: endEarly('failed') },
    },
    paused: {
      on: {
        RESUME: [
          {
            guard: 'hasHeld',
            target: 'running.executing',
            actions: [resumeDeadline, machineSetup.raise(({ context }) => context.held as HeldResult), clearPause, 'forwardResume'],
          },
          { guard: 'mustRestartAttempt', target: 'running.executing', actions: [clearPause, startAttempt, 'forwardResume'] },
          ...RESUMABLE.map((to) => ({
            guard: ({ context }: { context: Ctx }) => context.resumeTo === to,
            target: `running.${to}` as const,
            actions: [resumeDeadline, clearPause, 'forwardResume' as const],
          })),
        ],
        STEP_DONE: { guard: 'pausedInAttempt', actions: machineSetup.assign({ held: ({ event }) => event as HeldResult }) },
        STEP_FAILED: { guard: 'pausedInAttempt', actions: machineSetup.assign({ held: ({ event }) => event as HeldResult }) },
        RECOVER: { guard: 'lostInFlight', actions: lostOnRestart },
        CANCEL: endEarly('cancelled'),
        TIMEOUT: endEarly('timeout'),
        ABORT: endEarly('failed'),
      },
    },
    cleanup: stepStates('cleanup'),
    completed: { type: 'final' },
    failed: { type: 'final' },
    cancelled: { type: 'final' },
    timeout: { type: 'final' },
  },
});

/** The machine's type, for hosts that provide its effects. */
export type SequenceMachine = typeof sequenceMachine;
