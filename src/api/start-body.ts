/**
 * A start body as `POST /sequences` takes it (a definition plus an optional `context`), checked
 * and admitted: shared by the single start, its validation and every item of a batch, so each
 * item is admitted or refused exactly as a single start would be.
 */
import { RunContextSchema, type RunContextInput } from '../domain/definition.schema.ts';
import { Codes, SequencerError, type ErrorDetail } from '../domain/errors.ts';
import { formatPath } from '../domain/validate-definition.ts';
import type { Engine, StartResult } from '../engine/engine.ts';
import type { ValidationResult } from '../domain/validate-definition.ts';

/** Built once: zod compiles a schema on its first use, so a schema made per request costs ~15 us. */
const OptionalRunContext = RunContextSchema.optional();

/** Splits `context` off a start body; the rest is the definition. */
function splitBody(body: unknown): { definition: unknown; context: unknown } {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !('context' in body)) {
    return { definition: body, context: undefined };
  }
  const { context, ...definition } = body as Record<string, unknown>;
  return { definition, context };
}

/** The run context of a start body, or the problems with it. */
function parseContext(context: unknown): { value: RunContextInput | undefined; errors: ErrorDetail[] } {
  const parsed = OptionalRunContext.safeParse(context);
  if (parsed.success) return { value: parsed.data, errors: [] };
  const errors = parsed.error.issues.flatMap((issue) => {
    const at = ['context', ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: formatPath([...at, key]), code: Codes.INVALID_DEFINITION, message: 'unknown key' }));
    }
    return [{ path: formatPath(at), code: Codes.INVALID_DEFINITION, message: issue.message }];
  });
  return { value: undefined, errors };
}

/** A start body checked: the definition's validation, the context, and every problem of both. */
export interface CheckedBody {
  result: ValidationResult;
  /** The definition as sent (the body without its context). */
  definition: unknown;
  context: RunContextInput | undefined;
  problems: ErrorDetail[];
}

/** Validates a start body (definition and context) without starting anything. */
export function checkStartBody(engine: Engine, body: unknown): CheckedBody {
  const { definition, context } = splitBody(body);
  const result = engine.validate(definition);
  const runContext = parseContext(context);
  return { result, definition, context: runContext.value, problems: [...(result.ok ? [] : result.errors), ...runContext.errors] };
}

/** Validates and admits a start body; rejects with the SequencerError that refuses it (422, 409, 429, 403, 503). */
export async function startFromBody(engine: Engine, body: unknown): Promise<StartResult> {
  const { result, definition, context, problems } = checkStartBody(engine, body);
  if (problems.length > 0 || !result.ok) throw invalid(problems);
  return engine.admit(result.definition, { context, sent: definition });
}

function invalid(details: ErrorDetail[]): SequencerError {
  const first = details[0] as ErrorDetail;
  const where = first.path ? ` (${first.path})` : '';
  return new SequencerError(first.code, `Invalid sequence definition: ${first.message}${where}`, details, 422);
}
