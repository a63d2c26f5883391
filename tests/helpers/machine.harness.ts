/**
 * Runs the sequence machine alone: its effects are stubs that record their calls, and every
 * event is sent with an explicit `now`, so a test drives time by hand. Every state the actor
 * passes through is recorded, transient ones included (from XState's microstep inspection).
 */
import { createActor } from 'xstate';
import { sequenceMachine } from '../../machines/sequence.machine.ts';
import type { CheckParams, RunActionParams, SequenceEvent, SequencePlan, StepEventParams } from '../../machines/sequence.types.ts';
import { resumeTarget } from '../../machines/sequence.snapshot.ts';
import { stateString } from '../../src/engine/run.ts';

/** Counts of the effects that take no params. */
export interface EffectCounts {
  abortAction: number;
  forwardPause: number;
  forwardResume: number;
  forwardSignal: number;
  watchCondition: number;
  unwatchCondition: number;
}

/** Starts an actor of the machine over `plan` with recording stubs for every effect. */
export function machineHarness(plan: SequencePlan) {
  const attempts: RunActionParams[] = [];
  const steps: StepEventParams[] = [];
  const checks: CheckParams[] = [];
  const counts: EffectCounts = { abortAction: 0, forwardPause: 0, forwardResume: 0, forwardSignal: 0, watchCondition: 0, unwatchCondition: 0 };
  const machine = sequenceMachine.provide({
    actions: {
      runAction: (_, params) => void attempts.push(params),
      emitStep: (_, params) => void steps.push(params),
      abortAction: () => void counts.abortAction++,
      forwardPause: () => void counts.forwardPause++,
      forwardResume: () => void counts.forwardResume++,
      forwardSignal: () => void counts.forwardSignal++,
      checkCondition: (_, params) => void checks.push(params),
      watchCondition: () => void counts.watchCondition++,
      unwatchCondition: () => void counts.unwatchCondition++,
    },
  });
  const visited = new Set<string>();
  const actor = createActor(machine, {
    input: { plan },
    inspect: (event) => {
      if (event.type === '@xstate.microstep') visited.add(stateString((event.snapshot as { value?: unknown }).value));
    },
  });
  actor.subscribe((snapshot) => void visited.add(stateString(snapshot.value)));
  actor.start();
  visited.add(stateString(actor.getSnapshot().value));
  const lastAttempt = (): RunActionParams => {
    const last = attempts[attempts.length - 1];
    if (!last) throw new Error('no attempt was started');
    return last;
  };
  return {
    actor,
    /** Every state the actor has been in, as dotted strings. */
    visited,
    attempts,
    steps,
    counts,
    /** The conditions the machine asked its host about, in order. */
    checks,
    /** Answers the machine's question about a condition (or tells it a reading changed it). */
    condition: (now: number, truth: 'true' | 'false' | 'unknown', message = `reading ${truth}`, until: number | null = null) =>
      actor.send({ type: 'CONDITION', now, truth, until, message }),
    lastAttempt,
    send: (event: SequenceEvent) => actor.send(event),
    /** The state value as a dotted string (`running.executing`). */
    state: () => stateString(actor.getSnapshot().value),
    context: () => actor.getSnapshot().context,
    /** Answers the latest attempt with success. */
    succeed: (now: number, message = 'ok') => actor.send({ type: 'STEP_DONE', attemptId: lastAttempt().attemptId, now, message }),
    /** Answers the latest attempt with a failure. */
    fail: (now: number, code = 5614, message = 'device refused') =>
      actor.send({ type: 'STEP_FAILED', attemptId: lastAttempt().attemptId, now, message, code }),
    /** Where a paused run resumes: the substate its chart's history keeps (null when not paused). */
    resumeTo: () => resumeTarget(actor.getSnapshot() as never),
    /** The statuses of the step events, in order (`starting`, `completed`, ...). */
    stepStatuses: () => steps.map((s) => `${s.phase}:${s.stepIndex}:${s.status}`),
  };
}
