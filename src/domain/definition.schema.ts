/**
 * zod schemas of a sequence definition and its steps (SPEC sections 2 and 3). They are the single
 * source of truth: requests are validated with them, types come from them and the OpenAPI document
 * is generated from them. Action payloads are checked by the schema each executor registers, so a
 * new action type needs no change here.
 */
import { z } from 'zod';
import { ConditionSchema } from '../conditions/condition.schema.ts';

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

/** Longest `wait_for.timeout_seconds` (SPEC 2.1). */
export const MAX_WAIT_SECONDS = 86_400;

/** A `wait_for` step's wait (SPEC 2.1): until the condition holds, for `for_seconds`, at most `timeout_seconds`. */
export const WaitForSchema = z
  .strictObject({
    condition: ConditionSchema,
    for_seconds: z.number().min(0).max(3600).default(0).describe('The condition must hold this long without a break'),
    timeout_seconds: z.number().min(1).max(MAX_WAIT_SECONDS).default(900).describe('Then the step fails with 5621'),
    on_timeout: z.enum(['abort', 'continue']).default('abort').describe('What a timeout does to the run'),
  })
  .meta({ examples: [{ condition: { sensor: { esp_id: 'ESP_12AB34CD', gpio: 34 }, above: 40 }, for_seconds: 30, timeout_seconds: 900, on_timeout: 'abort' }] });
export type WaitFor = z.infer<typeof WaitForSchema>;

/** Step fields that make no sense beside `wait_for`, which has its own timeout and failure policy. */
const NOT_WITH_WAIT = ['action', 'delay_seconds', 'timeout_seconds', 'on_failure', 'retry_count'] as const;

/** The fields of a step, before the rule that `wait_for` stands alone. */
const StepFields = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  when: ConditionSchema.optional().describe('The step runs only if this holds when it is reached; otherwise it is skipped'),
  action: ActionSchema.optional(),
  wait_for: WaitForSchema.optional(),
  delay_seconds: delaySeconds.optional(),
  delay_before_seconds: delaySeconds.default(0),
  delay_after_seconds: delaySeconds.default(0),
  timeout_seconds: z.number().min(1).max(300).optional(),
  on_failure: z.enum(['abort', 'continue', 'retry']).optional(),
  retry_count: z.number().int().min(0).max(10).optional(),
  retry_delay_seconds: z.number().min(0).max(60).default(1),
  retry_backoff: z.boolean().default(false),
});

/** `wait_for` is a kind of step of its own: the fields of the other kinds are refused beside it. */
function waitStands(step: Partial<Record<(typeof NOT_WITH_WAIT)[number] | 'wait_for', unknown>>, ctx: z.core.$RefinementCtx): void {
  if (step.wait_for === undefined) return;
  for (const field of NOT_WITH_WAIT) {
    if (step[field] === undefined) continue;
    const why = field === 'action' || field === 'delay_seconds' ? 'a step is an action, a delay or a wait_for, one of them' : 'wait_for has its own timeout_seconds and on_timeout';
    ctx.addIssue({ code: 'custom', path: [field], message: `not allowed beside wait_for: ${why}` });
  }
}

/**
 * One step (SPEC 2): an action step, a pure delay step when there is no action, or a `wait_for`
 * step (SPEC 2.1); any of them may have a `when`.
 */
export const StepSchema = StepFields.superRefine(waitStands);
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
  const step = StepFields.extend({ action: action.optional() }).superRefine(waitStands);
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
