/**
 * `repeat` (SPEC 2.1): runs its steps again and again, `count` times or until its condition holds
 * after an iteration, never more than `max_iterations` (5622 when that is reached without the
 * condition). Its steps follow every rule of a definition's steps (they are validated one level
 * deeper and count once toward the step limit); the engine runs each iteration as a nested run
 * (`src/engine/repeat-runs.ts`), so this entry validates the payload and hands the attempt to it.
 */
import { z } from 'zod';
import type { PlanAction, SequencePlan } from '../../machines/sequence.types.ts';
import { ConditionSchema, type Condition } from '../conditions/condition.schema.ts';
import type { ExecutionContext, Executor } from './executor.ts';

/** Most iterations a repeat may allow. */
export const MAX_ITERATIONS = 100;

/** The payload of a repeat action; its `steps` are checked by the definition validator one level deeper. */
export const RepeatActionSchema = z
  .strictObject({
    type: z.literal('repeat'),
    steps: z.array(z.unknown()).min(1).describe('The steps of one iteration, as a definition\'s steps'),
    until: ConditionSchema.optional().describe('Checked after each iteration: the repeat ends once it holds'),
    count: z.number().int().min(1).max(MAX_ITERATIONS).optional().describe('Iterations to run (fewer when `until` holds first)'),
    max_iterations: z.number().int().min(1).max(MAX_ITERATIONS).default(10).describe('Never more; reached without `until` holding: 5622'),
    idempotent: z.boolean().default(false),
  })
  .refine((a) => a.count !== undefined || a.until !== undefined, { message: 'a repeat needs count, until, or both', path: ['count'] })
  .refine((a) => a.count === undefined || a.count <= a.max_iterations, { message: 'count cannot exceed max_iterations', path: ['count'] })
  .meta({
    title: 'repeat',
    description: 'Run `steps` again and again: `count` times, or until the `until` condition holds after an iteration; never more than `max_iterations`',
    examples: [
      {
        type: 'repeat',
        steps: [{ name: 'Fan on', action: { type: 'actuator_command', esp_id: 'ESP_12AB34CD', gpio: 6, command: 'ON' } }, { name: 'Vent', delay_seconds: 60 }],
        until: { sensor: { esp_id: 'ESP_12AB34CD', gpio: 36 }, below: 28 },
        max_iterations: 10,
      },
    ],
  });

/** A repeat as its step's plan carries it: the plan of one iteration and when to stop. */
export interface RepeatPlanAction extends PlanAction {
  type: 'repeat';
  /** One iteration: the repeat's steps, under the enclosing sequence's failure policy and max duration. */
  plan: SequencePlan;
  count: number | null;
  until: Condition | null;
  maxIterations: number;
}

/** Runs a repeat's iterations for a parent's attempt; resolves with a summary, throws when an iteration failed or the limit was reached. */
export type RepeatRunner = (action: RepeatPlanAction, context: ExecutionContext) => Promise<string>;

/** The repeat executor over the engine's runner. */
export function repeatExecutor(runRepeat: RepeatRunner): Executor<RepeatPlanAction> {
  return {
    type: 'repeat',
    // Its iterations are nested runs of this process; their own actions decide for themselves.
    external: false,
    schema: RepeatActionSchema as unknown as z.ZodType<RepeatPlanAction>,
    execute: (action, context) => runRepeat(action, context),
  };
}
