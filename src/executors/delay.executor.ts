/**
 * `delay`: waits `seconds`. The statechart runs it as a wait of its own (`running.delaying`), so it
 * keeps its remaining time across a pause and its deadline across a restart; this entry only
 * makes the type known and validates it.
 */
import { z } from 'zod';
import { MAX_DELAY_SECONDS } from '../domain/definition.schema.ts';
import type { Executor } from './executor.ts';

/** The payload of a delay action. */
export const DelayActionSchema = z
  .strictObject({
    type: z.literal('delay'),
    seconds: z.number().min(0).max(MAX_DELAY_SECONDS),
    idempotent: z.boolean().default(false),
  })
  .meta({
    title: 'delay',
    description: 'Wait, as a step with `delay_seconds` does (paused with the run, kept across a restart)',
    examples: [{ type: 'delay', seconds: 30 }],
  });

/** The delay entry of the executor registry (no `execute`: the engine waits). */
export const delayExecutor: Executor<z.infer<typeof DelayActionSchema>> = {
  type: 'delay',
  schema: DelayActionSchema,
};
