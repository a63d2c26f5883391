/**
 * Validation of a sequence definition before any run exists (SPEC 3). It reports every problem at
 * once, each with its 56xx code and JSON path, and never throws for bad input.
 */
import type { ZodType } from 'zod';
import { z } from 'zod';
import { Codes, type ErrorDetail } from './errors.ts';
import { definitionSchema, StepSchema, type DefinitionLimits, type SequenceDefinition, type Step } from './definition.schema.ts';

/** What the validator needs to know about action types: the executors' schemas. */
export interface ActionCatalog {
  /** The schema of an action type (aliases included), or undefined when no executor handles it. */
  schemaFor(type: string): ZodType | undefined;
}

/** Options of one validation. */
export interface ValidateOptions {
  limits: DefinitionLimits;
  actions: ActionCatalog;
  /** Lets nested `{type: "sequence", template}` actions be checked; absent: templates are not checked. */
  templates?: TemplateResolver;
}

/** Fills a template with params into a definition, or reports why it cannot (issue: templates). */
export interface TemplateResolver {
  /** Returns the filled definition, or a list of problems (paths relative to the action). */
  resolve(name: string, params: unknown): { definition: unknown } | { errors: ErrorDetail[] };
}

/** A validated definition, or every problem found. */
export type ValidationResult =
  | { ok: true; definition: SequenceDefinition; estimatedSeconds: number }
  | { ok: false; errors: ErrorDetail[] };

const DELAY_FIELDS = new Set(['delay_seconds', 'delay_before_seconds', 'delay_after_seconds']);
/** Fields that hold a condition: every problem inside one is 5620 (SPEC 2.1). */
const CONDITION_FIELDS = new Set(['when', 'condition', 'until']);

/** Renders a zod path the way SPEC 3 shows it: `steps[3].delay_seconds`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The 56xx code of one zod issue, chosen by where it sits in the definition. `input` is the
 * definition itself when the issues are a definition's: a missing `steps` is "no steps" (5601).
 */
function codeOfIssue(issue: z.core.$ZodIssue, input?: unknown): number {
  const custom = (issue as { params?: { code?: number } }).params?.code;
  if (typeof custom === 'number') return custom;
  const path = issue.path;
  const last = path[path.length - 1];
  if (path.length === 1 && path[0] === 'steps' && issue.code === 'invalid_type' && isObject(input) && input.steps === undefined) {
    return Codes.EMPTY_STEPS;
  }
  if (path.length === 1 && (path[0] === 'steps' || path[0] === 'cleanup_steps')) {
    if (issue.code === 'too_small') return Codes.EMPTY_STEPS;
    if (issue.code === 'too_big') return Codes.TOO_MANY_STEPS;
  }
  if (path.some((part) => typeof part === 'string' && CONDITION_FIELDS.has(part))) return Codes.INVALID_CONDITION;
  if (typeof last === 'string' && DELAY_FIELDS.has(last)) return Codes.INVALID_DELAY;
  if (path[0] === 'steps' || path[0] === 'cleanup_steps') return Codes.INVALID_STEP;
  return Codes.INVALID_DEFINITION;
}

/** One detail per issue; an unknown key is located by its own path, so a caller can find it. */
function issuesToDetails(issues: readonly z.core.$ZodIssue[], prefix: string, definition?: unknown): ErrorDetail[] {
  return issues.flatMap((issue) => {
    const code = codeOfIssue(issue, definition);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: join(prefix, formatPath([...issue.path, key])), code, message: 'unknown key' }));
    }
    return [{ path: join(prefix, formatPath(issue.path)), code, message: issue.message }];
  });
}

function join(prefix: string, path: string): string {
  if (prefix === '') return path;
  if (path === '') return prefix;
  return path.startsWith('[') ? `${prefix}${path}` : `${prefix}.${path}`;
}

/** A definition's `max_duration_seconds`, capped by the server maximum (SPEC 2). */
export function effectiveMaxDuration(def: SequenceDefinition, limits: DefinitionLimits): number {
  return Math.min(def.max_duration_seconds, limits.maxDurationSeconds);
}

/**
 * The waiting a step declares (delay fields, `delay` actions, a `wait_for`'s timeout, and what a
 * `repeat`'s steps declare, once per iteration it is sure to run: `count`, else one), in seconds.
 */
export function declaredWaitSeconds(step: Step): number {
  const actionWait = step.action?.type === 'delay' && typeof step.action.seconds === 'number' ? step.action.seconds : 0;
  // `delay_seconds` makes a pure delay step; beside an action it waits nothing (SPEC 2).
  const pureDelay = step.action === undefined ? (step.delay_seconds ?? 0) : 0;
  return pureDelay + step.delay_before_seconds + step.delay_after_seconds + actionWait + (step.wait_for?.timeout_seconds ?? 0) + repeatWaitSeconds(step.action);
}

/** What the steps of a valid `repeat` declare, times its `count` (else once). */
function repeatWaitSeconds(action: Step['action']): number {
  if (action?.type !== 'repeat' || !Array.isArray(action.steps)) return 0;
  let once = 0;
  for (const raw of action.steps) {
    const parsed = StepSchema.safeParse(raw);
    if (parsed.success) once += declaredWaitSeconds(parsed.data);
  }
  return once * (typeof action.count === 'number' ? action.count : 1);
}

/** Steps counted toward the step limit: a `repeat`'s steps count once, with the steps around it. */
interface StepCount {
  steps: number;
}

/**
 * Validates a definition. Structural problems come from the zod schema; then each step is checked
 * for an action or a delay (5604), a known action type (5603) with a valid payload, the declared
 * waiting against `max_duration_seconds` (5607), and nested sequences against the depth limit (5618).
 */
export function validateDefinition(input: unknown, options: ValidateOptions): ValidationResult {
  const errors: ErrorDetail[] = [];
  const parsed = { value: undefined as SequenceDefinition | undefined };
  const estimated = validateAt(input, options, 1, '', errors, parsed);
  if (errors.length > 0 || estimated === null || !parsed.value) return { ok: false, errors };
  const definition = parsed.value;
  definition.max_duration_seconds = effectiveMaxDuration(definition, options.limits);
  return { ok: true, definition, estimatedSeconds: estimated };
}

/** Validates one (possibly nested) definition; returns its estimated duration or null when invalid. */
function validateAt(
  input: unknown,
  options: ValidateOptions,
  depth: number,
  prefix: string,
  errors: ErrorDetail[],
  out?: { value: SequenceDefinition | undefined },
  shared?: StepCount,
): number | null {
  const before = errors.length;
  const count = shared ?? { steps: 0 };
  const parsed = definitionSchema(options.limits).safeParse(input);
  if (parsed.success && out) out.value = parsed.data;
  if (!parsed.success) errors.push(...issuesToDetails(parsed.error.issues, prefix, input));
  // Step-level checks also run on a definition that failed elsewhere, so one answer lists all.
  const raw = input as { steps?: unknown; cleanup_steps?: unknown } | null;
  let estimate = 0;
  for (const listName of ['steps', 'cleanup_steps'] as const) {
    const list = raw && typeof raw === 'object' ? raw[listName] : undefined;
    if (!Array.isArray(list)) continue;
    const parsedList = parsed.success ? parsed.data[listName] : undefined;
    list.forEach((step: unknown, index) => {
      const at = join(prefix, `${listName}[${index}]`);
      if (listName === 'cleanup_steps' && step && typeof step === 'object' && 'wait_for' in step) {
        errors.push({ path: `${at}.wait_for`, code: Codes.INVALID_STEP, message: 'wait_for is not allowed in cleanup_steps: a run making its actuators safe does not wait for sensors' });
      }
      if (listName === 'steps') count.steps += 1;
      const seconds = checkStep(step, options, depth, at, errors, parsedList?.[index], listName === 'steps' ? count : { steps: 0 });
      if (listName === 'steps') estimate += seconds;
    });
  }
  // The definition's own list is checked by its schema; with the steps of its repeats it may still be too long.
  const ownSteps = Array.isArray(raw?.steps) ? raw.steps.length : 0;
  if (shared === undefined && count.steps > options.limits.maxSteps && ownSteps <= options.limits.maxSteps) {
    errors.push({
      path: join(prefix, 'steps'),
      code: Codes.TOO_MANY_STEPS,
      message: `${count.steps} steps counting the steps of repeat actions once (max ${options.limits.maxSteps})`,
    });
  }
  if (parsed.success) {
    const def = parsed.data;
    const waiting = def.steps.reduce((sum, step) => sum + declaredWaitSeconds(step), 0);
    const maxDuration = effectiveMaxDuration(def, options.limits);
    if (waiting > maxDuration) {
      errors.push({
        path: join(prefix, 'max_duration_seconds'),
        code: Codes.DURATION_EXCEEDED,
        message: `Declared waiting of ${waiting} s exceeds max_duration_seconds (${maxDuration} s)`,
      });
    }
  }
  return errors.length === before ? estimate : null;
}

/**
 * Checks one step's action; returns the seconds it is expected to take. A valid action replaces
 * the one in `parsed` (the step as the definition schema parsed it) with its executor's parse,
 * defaults filled, so executors need not parse it again on every attempt.
 */
function checkStep(step: unknown, options: ValidateOptions, depth: number, path: string, errors: ErrorDetail[], parsed: Step | undefined, count: StepCount): number {
  if (!step || typeof step !== 'object') return 0;
  const s = step as Partial<Step> & { action?: unknown; wait_for?: unknown };
  const pureDelay = s.action === undefined ? (num(s.delay_seconds) ?? 0) : 0;
  const waits = pureDelay + (num(s.delay_before_seconds) ?? 0) + (num(s.delay_after_seconds) ?? 0) + (parsed?.wait_for?.timeout_seconds ?? 0);
  if (s.action === undefined && s.delay_seconds === undefined && s.wait_for === undefined) {
    errors.push({ path, code: Codes.STEP_MISSING_ACTION, message: "Step requires either 'action', 'delay_seconds' or 'wait_for'" });
    return waits;
  }
  if (s.action === undefined || !s.action || typeof s.action !== 'object') return waits;
  const action = s.action as { type?: unknown; seconds?: unknown; steps?: unknown; template?: unknown; params?: unknown };
  const actionPath = `${path}.action`;
  if (typeof action.type !== 'string') return waits;
  const schema = options.actions.schemaFor(action.type);
  if (!schema) {
    errors.push({ path: `${actionPath}.type`, code: Codes.INVALID_ACTION_TYPE, message: `Unknown action type '${action.type}'` });
    return waits;
  }
  const result = schema.safeParse(action);
  if (!result.success) {
    for (const detail of issuesToDetails(result.error.issues, actionPath)) {
      // A delay action's `seconds` is a delay field too.
      if (action.type === 'delay' && detail.path === `${actionPath}.seconds`) detail.code = Codes.INVALID_DELAY;
      else if (detail.code === Codes.INVALID_DEFINITION) detail.code = Codes.INVALID_STEP;
      errors.push(detail);
    }
    return waits;
  }
  if (parsed) parsed.action = result.data as Step['action'];
  if (action.type === 'delay') return waits + (num(action.seconds) ?? 0);
  if (action.type === 'sequence') return waits + checkNested(action, options, depth, actionPath, errors);
  if (action.type === 'repeat') return waits + checkRepeat(result.data as { steps: unknown; count?: number }, options, depth, actionPath, errors, count);
  return waits;
}

/**
 * Checks a `repeat`'s steps one level deeper (SPEC 2.1): they follow every rule of a definition's
 * steps and count toward the step limit once, with the steps around them.
 */
function checkRepeat(action: { steps: unknown; count?: number }, options: ValidateOptions, depth: number, path: string, errors: ErrorDetail[], count: StepCount): number {
  if (depth + 1 > options.limits.maxDepth) {
    errors.push({ path, code: Codes.CIRCULAR_REFERENCE, message: `Nesting deeper than ${options.limits.maxDepth} levels` });
    return 0;
  }
  // Its declared waiting counts toward the enclosing sequence's max_duration_seconds (declaredWaitSeconds), not a limit of its own.
  const once = validateAt({ steps: action.steps, max_duration_seconds: options.limits.maxDurationSeconds }, options, depth + 1, path, errors, undefined, count) ?? 0;
  return once * (action.count ?? 1);
}

/** Checks a nested `sequence` action (inline or template) one level deeper. */
function checkNested(
  action: { steps?: unknown; template?: unknown; params?: unknown },
  options: ValidateOptions,
  depth: number,
  path: string,
  errors: ErrorDetail[],
): number {
  if (depth + 1 > options.limits.maxDepth) {
    errors.push({
      path,
      code: Codes.CIRCULAR_REFERENCE,
      message: `Nesting deeper than ${options.limits.maxDepth} levels`,
    });
    return 0;
  }
  let child: unknown = action;
  if (typeof action.template === 'string') {
    if (!options.templates) return 0;
    const resolved = options.templates.resolve(action.template, action.params ?? {});
    if ('errors' in resolved) {
      errors.push(...resolved.errors.map((e) => ({ ...e, path: join(path, e.path) })));
      return 0;
    }
    child = resolved.definition;
  } else {
    const { type: _type, idempotent: _idempotent, ...inline } = action as Record<string, unknown>;
    child = inline;
  }
  return validateAt(child, options, depth + 1, path, errors) ?? 0;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
