/**
 * The statechart of one run of a sequence (SPEC section 5).
 *
 * Pure: the machine never reads a clock and owns no timer. Every event carries `now`; every wait
 * stores its absolute deadline in context and the host sends WAKE when it has come (and TIMEOUT
 * when `max_duration_seconds` runs out). That keeps the machine deterministic, makes a restored
 * snapshot resumable (XState does not persist pending `after` timers), and keeps thousands of runs
 * off XState's shared scheduler, whose cancel-all on every actor stop scans every pending timer of
 * the system. Effects (running an action, aborting it, publishing step events, pausing a nested
 * run) are listed by each move and performed by the one `effects` action the host provides with
 * `machine.provide`.
 *
 * What each event does is decided by the pure functions of `sequence.logic.ts`; every possible
 * outcome is a guarded transition to a named state, so the chart shows every edge.
 */
import { setup } from 'xstate';
import { lostWhilePaused, moves, type Effect, type Move, type Target } from './sequence.logic.ts';
import type {
  HeldResult,
  ResumeTarget,
  SequenceContext,
  SequenceEvent,
  SequenceInput,
} from './sequence.types.ts';

export type * from './sequence.types.ts';
export { MachineCodes, retryDelayMs } from './sequence.logic.ts';
export type { Effect } from './sequence.logic.ts';

type Ctx = SequenceContext;

const machineSetup = setup({
  types: {
    context: {} as SequenceContext,
    events: {} as SequenceEvent,
    input: {} as SequenceInput,
  },
  actions: {
    /**
     * Performs a move's effects, in order (see `Effect`): start an attempt of the current step's
     * action (the host answers STEP_DONE or STEP_FAILED), abort the action in flight, publish a
     * `sequence_step` event, tell a nested run in flight to pause or resume with its parent.
     */
    effects: (_: unknown, _effects: readonly Effect[]) => {},
  },
  guards: {
    /** Paused while an action was in flight that a restart lost. */
    lostInFlight: ({ context }) => context.resumeTo === 'executing' && context.held === null,
    /** Paused while an attempt ran: only then is an answer of the current attempt held for the resume. */
    pausedInAttempt: ({ context, event }) =>
      context.resumeTo === 'executing' && 'attemptId' in event && event.attemptId === context.attemptId,
  },
});

type Decide = (context: Ctx, event: never) => Move | null;

/** The move last decided, so the guards and the action of one transition decide only once. */
const last: { key: string; context: unknown; event: unknown; move: Move | null } = { key: '', context: null, event: null, move: null };

function decide(key: string, fn: Decide, context: Ctx, event: SequenceEvent): Move | null {
  if (last.key !== key || last.context !== context || last.event !== event) {
    const move = fn(context, event as never);
    last.key = key;
    last.context = context;
    last.event = event;
    last.move = move;
  }
  return last.move;
}

const NO_EFFECTS: readonly Effect[] = [];

/**
 * Applies the decided move: one context update, then one action with its effects. (Not
 * `enqueueActions`: it builds ten closures per call, a fifth of the machine's cost per event.)
 * The effects are the move decided for this very event: the assign before them changed the
 * context, so they are looked up by the event.
 */
function apply(key: string, fn: Decide) {
  return [
    machineSetup.assign(({ context, event }) => decide(key, fn, context, event)?.patch ?? {}),
    {
      type: 'effects' as const,
      params: ({ event }: { event: SequenceEvent }) => (last.event === event ? (last.move?.effects ?? NO_EFFECTS) : NO_EFFECTS),
    },
  ];
}

// Most frequent first: XState tries the guards in order, so a usual step boundary tries one or two.
const STEP_STATES: readonly ResumeTarget[] = ['executing', 'delaying', 'afterDelay', 'beforeDelay', 'retrying'];
const ENDS: Target[] = [
  ...STEP_STATES.map((s) => `running.${s}` as const),
  'completed',
  ...STEP_STATES.map((s) => `cleanup.${s}` as const),
  'failed',
  'cancelled',
  'timeout',
];

/** One guarded transition per state the move may lead to. */
function via(key: string, fn: Decide, targets: readonly Target[] = ENDS) {
  const action = apply(key, fn);
  return targets.map((target) => ({
    guard: ({ context, event }: { context: Ctx; event: SequenceEvent }) => decide(key, fn, context, event)?.target === target,
    target: `#sequence.${target}`,
    actions: action,
  }));
}

const endEarly = via('endEarly', (context, event: SequenceEvent) => moves.endEarly(context, event));
const onResult = via('result', (context, event: HeldResult) => moves.result(context, event, event.now));

/** The step substates, shared by `running` (the steps) and `cleanup` (the cleanup steps). */
function stepStates(phase: 'running' | 'cleanup') {
  const state = (name: ResumeTarget, extra: object = {}) => ({
    on: {
      WAKE: via(`wake.${name}`, (context, event: { now: number }) => moves.wake(context, event.now, name)),
      ...(phase === 'running'
        ? { PAUSE: via(`pause.${name}`, (context, event: { now: number }) => moves.pause(context, event.now, name), ['paused']) }
        : {}),
      ...extra,
    },
  });
  return {
    initial: 'executing' as const,
    states: {
      beforeDelay: state('beforeDelay'),
      delaying: state('delaying'),
      executing: state('executing', {
        STEP_DONE: onResult,
        STEP_FAILED: onResult,
        RECOVER: via('recover', (context, event: { now: number }) => moves.recover(context, event.now)),
      }),
      retrying: state('retrying'),
      afterDelay: state('afterDelay'),
    },
  };
}

/** The sequence machine. Provide `effects`. */
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
        START: via('start', (context, event: { now: number }) => moves.start(context, event.now)),
        CANCEL: endEarly,
      },
    },
    running: {
      ...stepStates('running'),
      on: { CANCEL: endEarly, TIMEOUT: endEarly, ABORT: endEarly },
    },
    paused: {
      on: {
        RESUME: via('resume', (context, event: { now: number }) => moves.resume(context, event.now)),
        STEP_DONE: { guard: 'pausedInAttempt', actions: machineSetup.assign({ held: ({ event }) => event as HeldResult }) },
        STEP_FAILED: { guard: 'pausedInAttempt', actions: machineSetup.assign({ held: ({ event }) => event as HeldResult }) },
        RECOVER: { guard: 'lostInFlight', actions: machineSetup.assign(({ context, event }) => lostWhilePaused(context, event.now)) },
        CANCEL: endEarly,
        TIMEOUT: endEarly,
        ABORT: endEarly,
      },
    },
    cleanup: stepStates('cleanup'),
    completed: { type: 'final' },
    failed: { type: 'final' },
    cancelled: { type: 'final' },
    timeout: { type: 'final' },
  },
});

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

/** The machine's type, for hosts that provide its effects. */
export type SequenceMachine = typeof sequenceMachine;
