/**
 * `sequence`: runs a child sequence (an inline definition, or a template with params) as a child
 * actor of the run and waits for it; depth <= 3 (SPEC 2). The engine owns child runs; this entry
 * validates the payload and hands the attempt to the engine.
 */
import { z } from 'zod';
import type { PlanAction } from '../../machines/sequence.types.ts';
import type { ExecutionContext, Executor } from './executor.ts';

/**
 * The payload of a nested sequence action. The inline definition's own fields (steps, ...) are
 * validated by the definition validator one level deeper, so they pass through here.
 */
export const SequenceActionSchema = z
  .object({
    type: z.literal('sequence'),
    template: z.string().min(1).max(100).optional().describe('A stored template (or give inline steps instead)'),
    params: z.record(z.string(), z.unknown()).optional().describe("The template's parameters"),
    idempotent: z.boolean().default(false),
  })
  .loose()
  .refine((a) => (a.template !== undefined) !== ('steps' in a), {
    message: "A nested sequence needs either inline 'steps' or a 'template', not both",
    path: ['steps'],
  })
  .meta({
    title: 'sequence',
    description: 'Run a child sequence and wait for it: a stored `template` with `params`, or an inline definition (`steps` and the other definition fields); 3 levels at most',
    examples: [{ type: 'sequence', template: 'flush-zone', params: { zone: 4, esp_id: 'ESP_ZONE4' } }],
  });

/** Runs a child plan for a parent's attempt; resolves with a summary, throws when the child did not complete. */
export type NestedRunner = (action: PlanAction, context: ExecutionContext) => Promise<string>;

/** The nested-sequence executor over the engine's child runner. */
export function sequenceExecutor(runNested: NestedRunner): Executor<PlanAction> {
  return {
    type: 'sequence',
    // The nested run lives in this process; its own actions decide for themselves.
    external: false,
    schema: SequenceActionSchema as unknown as z.ZodType<PlanAction>,
    execute: (action, context) => runNested(action, context),
  };
}
