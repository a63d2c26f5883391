/**
 * The actuator commands a run gave before a restart, read from its restored context: what its
 * successful steps commanded, in order, and the action that was in flight. A nested sequence
 * commands through its child plan, whose own step results are not stored: a nested step that
 * succeeded counts each of its child's steps as done, and one in flight counts every ON its child
 * could have sent, so the recovered run's safe state still reaches what the child switched on. A
 * repeat is read the same way through the plan of one iteration.
 */
import type { PlanAction, PlanStep, SequenceContext, SequencePlan, StepOutcome } from '../../machines/sequence.types.ts';
import type { RecoveredCommand } from './safety-system.ts';

function commandOf(action: PlanAction | null | undefined): RecoveredCommand | null {
  if (!action || (action.type !== 'actuator_command' && action.type !== 'actuator')) return null;
  const command = String(action.command) as RecoveredCommand['command'];
  const value = command === 'PWM' ? Number(action.value ?? 0) : command === 'OFF' ? 0 : 1;
  return { esp_id: String(action.esp_id), gpio: Number(action.gpio), command, value, duration_seconds: Number(action.duration_seconds ?? 0), leave_on: action.leave_on === true };
}

/** The plan a nested sequence runs, or one iteration of a repeat (whose every iteration commands alike). */
function childPlan(action: PlanAction | null | undefined): SequencePlan | null {
  const nests = action?.type === 'sequence' || action?.type === 'repeat';
  return nests && typeof action.plan === 'object' && action.plan !== null ? (action.plan as SequencePlan) : null;
}

/** What a step that succeeded commanded, in order. */
function given(step: PlanStep | undefined): RecoveredCommand[] {
  const child = childPlan(step?.action);
  if (child) return child.steps.flatMap(given);
  const command = commandOf(step?.action);
  return command ? [command] : [];
}

/** What a step in flight may have switched on: an ON may have arrived, an OFF must not be trusted. */
function mayHaveGiven(step: PlanStep | undefined): RecoveredCommand[] {
  const child = childPlan(step?.action);
  if (child) return [...child.steps, ...child.cleanup].flatMap(mayHaveGiven);
  const command = commandOf(step?.action);
  return command && command.command !== 'OFF' ? [command] : [];
}

function fromResults(steps: PlanStep[], results: readonly StepOutcome[]): RecoveredCommand[] {
  // A skipped step (its `when` did not hold) commanded nothing.
  return results.flatMap((result) => (result.success && result.skipped !== true ? given(steps[result.index]) : []));
}

/** The commands in the order they were given; an in-flight ON counts as given (it may have arrived). */
export function recoveredCommands(context: SequenceContext): RecoveredCommand[] {
  const commands = [...fromResults(context.plan.steps, context.results), ...fromResults(context.plan.cleanup, context.cleanupResults)];
  if (!context.stepRecorded && context.stepStartedAt !== null) {
    const list = context.phase === 'steps' ? context.plan.steps : context.plan.cleanup;
    commands.push(...mayHaveGiven(list[context.currentStep]));
  }
  return commands;
}
