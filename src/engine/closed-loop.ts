/**
 * The host's side of closed-loop steps (SPEC 2.1): it evaluates the conditions the sequence
 * machine asks about (a step's `when`, a wait's condition) against the latest readings and the
 * run's signals, and keeps the index of waiting runs by sensor. The machine decides on the
 * CONDITION events it gets, which the journal keeps, so a replayed run decides alike.
 */
import { conditionMayMove } from '../../machines/sequence.guards.ts';
import type { CheckParams, SequenceEvent } from '../../machines/sequence.types.ts';
import type { Condition } from '../conditions/condition.schema.ts';
import { evaluateCondition, type Reading, type ReadingLookup } from '../conditions/evaluate-condition.ts';
import { ConditionWatch } from './condition-watch.ts';
import type { Run } from './run.ts';

type ConditionEvent = Extract<SequenceEvent, { type: 'CONDITION' }>;

/** No sensors at all: every sensor condition is unknown. */
const NO_READINGS: ReadingLookup = { reading: () => undefined };

/** Evaluates conditions for runs and finds the runs a reading concerns. */
export class ClosedLoop {
  readonly watch = new ConditionWatch();
  readonly #readings: ReadingLookup;

  constructor(readings: ReadingLookup = NO_READINGS) {
    this.#readings = readings;
  }

  /** The answer to a run's question about a condition, at `now`. */
  answer(run: Run, ask: CheckParams, now: number): ConditionEvent {
    return this.#evaluate(run, ask.condition as unknown as Condition, now);
  }

  /** Evaluates `condition` for `run` (its own signals) at `now`, as a CONDITION event. */
  evaluate(run: Run, condition: Condition, now: number): ConditionEvent {
    return this.#evaluate(run, condition, now);
  }

  /** Indexes a run that begins (or resumes) waiting on `condition`. */
  watchRun(run: Run, condition: CheckParams['condition'] | undefined): void {
    if (condition) this.watch.watch(run, condition as unknown as Condition);
  }

  /** The CONDITION event each run waiting on the reading's sensor is to take now (none for a run it cannot move). */
  wakeUps(reading: Reading, now: number): [Run, ConditionEvent][] {
    const out: [Run, ConditionEvent][] = [];
    for (const run of this.watch.runsOn(reading.esp_id, reading.gpio)) {
      const ctx = run.actor?.getSnapshot().context;
      const condition = ctx?.plan.steps[ctx.currentStep]?.wait?.condition;
      if (!ctx || !condition) continue;
      const event = this.#evaluate(run, condition as unknown as Condition, now);
      if (conditionMayMove(ctx, event.truth)) out.push([run, event]);
    }
    return out;
  }

  #evaluate(run: Run, condition: Condition, now: number): ConditionEvent {
    // Asked after the transition that asked: the actor's snapshot has the signals it keeps.
    const signals = run.actor?.getSnapshot().context.signals ?? [];
    const { truth, until, message } = evaluateCondition(condition, { readings: this.#readings, hasSignal: (name) => signals.includes(name), now });
    return { type: 'CONDITION', now, truth, until, message };
  }
}
