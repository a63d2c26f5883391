/**
 * zod schemas of a sequence definition and its steps (SPEC sections 2 and 3). They are the single
 * source of truth: requests are validated with them, types come from them and the OpenAPI document
 * is generated from them. Action payloads are checked by the schema each executor registers, so a
 * new action type needs no change here.
 */
import { z } from 'zod';

/** Server limits that shape a definition (SPEC 3); all configurable. */
export interface DefinitionLimits {
  /** Most steps in one sequence (default 50). */
  maxSteps: number;
  /** Server maximum that caps a definition's `max_duration_seconds` (default 3600). */
  maxDurationSeconds: number;
  /** Deepest nesting of `sequence` actions (default 3). */
  maxDepth: number;
}

/** The defaults of SPEC section 3. */
export const DEFAULT_LIMITS: DefinitionLimits = { maxSteps: 50, maxDurationSeconds: 3600, maxDepth: 3 };

/** Longest delay of any delay field, in seconds. */
export const MAX_DELAY_SECONDS = 3600;

const delaySeconds = z.number().min(0).max(MAX_DELAY_SECONDS);

/** The fields every action may carry, whatever its type. */
export const actionBase = z.object({
  type: z.string().min(1),
  /** Safe to send again after a crash interrupted it (SPEC 11). */
  idempotent: z.boolean().default(false),
});

/** An action as the definition schema sees it: a type plus fields its executor validates. */
export const ActionSchema = actionBase.loose();
export type Action = z.infer<typeof ActionSchema>;

/** One step (SPEC 2): an action step, or a pure delay step when there is no action. */
export const StepSchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  action: ActionSchema.optional(),
  delay_seconds: delaySeconds.optional(),
  delay_before_seconds: delaySeconds.default(0),
  delay_after_seconds: delaySeconds.default(0),
  timeout_seconds: z.number().min(1).max(300).optional(),
  on_failure: z.enum(['abort', 'continue', 'retry']).optional(),
  retry_count: z.number().int().min(0).max(10).optional(),
  retry_delay_seconds: z.number().min(0).max(60).default(1),
  retry_backoff: z.boolean().default(false),
});
export type Step = z.infer<typeof StepSchema>;

/** How a second start of a running `sequence_id` behaves (SPEC 6). */
export const ModeSchema = z.enum(['single', 'restart', 'queued', 'parallel']);
export type StartMode = z.infer<typeof ModeSchema>;

/** The definition schema for the given limits; built once per step limit (zod compiles each schema). */
export function definitionSchema(limits: DefinitionLimits) {
  let schema = schemas.get(limits.maxSteps);
  if (!schema) {
    schema = buildDefinitionSchema(limits.maxSteps);
    schemas.set(limits.maxSteps, schema);
  }
  return schema;
}

const schemas = new Map<number, ReturnType<typeof buildDefinitionSchema>>();

function buildDefinitionSchema(maxSteps: number) {
  return z.strictObject({
    type: z.literal('sequence').default('sequence'),
    sequence_id: z.string().min(1).max(100).optional(),
    description: z.string().max(500).optional(),
    abort_on_failure: z.boolean().default(true),
    max_duration_seconds: z.number().min(1).max(86_400).default(3600),
    mode: ModeSchema.default('single'),
    priority: z.number().int().min(0).max(1_000_000).default(100),
    steps: z.array(StepSchema).min(1).max(maxSteps),
    cleanup_steps: z.array(StepSchema).max(maxSteps).default([]),
  });
}

/**
 * The definition schema with `action` as `action` says, for documentation only: the OpenAPI
 * document shows each registered action type with its fields, while validation keeps checking
 * actions through their executors (a new type then needs no change here).
 */
export function documentedDefinitionSchema(limits: DefinitionLimits, action: z.ZodType) {
  const step = StepSchema.extend({ action: action.optional() });
  return definitionSchema(limits).extend({
    steps: z.array(step).min(1).max(limits.maxSteps),
    cleanup_steps: z.array(step).max(limits.maxSteps).default([]).describe('Run when the run ends failed, cancelled or timeout, before the safe state'),
  });
}

/** A definition as validated (defaults filled in; `sequence_id` may still be absent). */
export type SequenceDefinition = z.infer<ReturnType<typeof buildDefinitionSchema>>;

/** Who or what started a run (SPEC 7, `POST /sequences`). */
export const RunContextSchema = z.strictObject({
  rule_id: z.string().max(200).nullish(),
  rule_name: z.string().max(200).nullish(),
  triggered_by: z.string().max(200).nullish(),
  trigger_data: z.unknown().optional(),
});
export type RunContextInput = z.infer<typeof RunContextSchema>;
