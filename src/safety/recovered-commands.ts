/**
 * The actuator commands a run gave before a restart, read from its restored context: what its
 * successful steps commanded, in order, and the action that was in flight.
 */
import type { PlanStep, SequenceContext, StepOutcome } from '../../machines/sequence.types.ts';
import type { RecoveredCommand } from './safety-system.ts';

function commandOf(step: PlanStep | undefined): RecoveredCommand | null {
  const action = step?.action;
  if (!action || (action.type !== 'actuator_command' && action.type !== 'actuator')) return null;
  return {
    esp_id: String(action.esp_id),
    gpio: Number(action.gpio),
    command: String(action.command),
    leave_on: action.leave_on === true,
  };
}

function fromResults(steps: PlanStep[], results: StepOutcome[]): RecoveredCommand[] {
  const out: RecoveredCommand[] = [];
  for (const result of results) {
    const command = result.success ? commandOf(steps[result.index]) : null;
    if (command) out.push(command);
  }
  return out;
}

/** The commands in the order they were given; an in-flight ON counts as given (it may have arrived). */
export function recoveredCommands(context: SequenceContext): RecoveredCommand[] {
  const commands = [...fromResults(context.plan.steps, context.results), ...fromResults(context.plan.cleanup, context.cleanupResults)];
  if (!context.stepRecorded && context.stepStartedAt !== null) {
    const list = context.phase === 'steps' ? context.plan.steps : context.plan.cleanup;
    const inFlight = commandOf(list[context.currentStep]);
    if (inFlight && inFlight.command !== 'OFF') commands.push(inFlight);
  }
  return commands;
}
