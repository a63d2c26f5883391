/**
 * The one registry of Sequencer error codes (SPEC section 4). Every HTTP error, every failed run
 * and every failed step speaks in these codes; `docs/errors.md` documents each of them.
 */

/** One entry of the registry: stable code, name, default message and HTTP status (null: status-only). */
export interface ErrorInfo {
  readonly code: number;
  readonly name: string;
  readonly message: string;
  readonly http: number | null;
}

const entries = [
  [5600, 'SEQ_INVALID_DEFINITION', 'Invalid sequence definition', 422],
  [5601, 'SEQ_EMPTY_STEPS', 'Sequence must have at least one step', 422],
  [5602, 'SEQ_INVALID_STEP', 'Invalid step configuration', 422],
  [5603, 'SEQ_INVALID_ACTION_TYPE', 'Unknown action type in step', 422],
  [5604, 'SEQ_STEP_MISSING_ACTION', "Step requires either 'action' or 'delay_seconds'", 422],
  [5605, 'SEQ_INVALID_DELAY', 'Invalid delay value (must be 0-3600 seconds)', 422],
  [5606, 'SEQ_TOO_MANY_STEPS', 'Too many steps (max 50)', 422],
  [5607, 'SEQ_DURATION_EXCEEDED', 'Sequence duration exceeds maximum allowed', 422],
  [5610, 'SEQ_ALREADY_RUNNING', 'Sequence with this ID is already running (or the concurrency limit is reached)', 409],
  [5611, 'SEQ_NOT_FOUND', 'Sequence not found', 404],
  [5612, 'SEQ_CANCELLED', 'Sequence was cancelled', null],
  [5613, 'SEQ_TIMEOUT', 'Sequence timed out', null],
  [5614, 'SEQ_STEP_FAILED', 'Step execution failed', null],
  [5615, 'SEQ_STEP_TIMEOUT', 'Step timed out', null],
  [5616, 'SEQ_MAX_DURATION_EXCEEDED', 'Maximum sequence duration exceeded', null],
  [5617, 'SEQ_EXECUTOR_NOT_FOUND', 'No executor found for action type', null],
  [5618, 'SEQ_CIRCULAR_REFERENCE', 'Circular sequence reference detected', 422],
  [5619, 'SEQ_INVALID_STATE', "The run's state does not allow this (pause, resume, signal, redrive)", 409],
  [5620, 'SEQ_INVALID_CONDITION', 'Invalid condition (unknown operator, too deep, bad sensor reference)', 422],
  [5621, 'SEQ_WAIT_TIMEOUT', 'A wait_for step timed out before its condition held', null],
  [5622, 'SEQ_REPEAT_LIMIT', 'A repeat reached max_iterations before its until-condition held', null],
  [5630, 'SEQ_TASK_CREATION_FAILED', 'Failed to create sequence task', 500],
  [5631, 'SEQ_INTERNAL_ERROR', 'Internal sequence error', 500],
  [5632, 'SEQ_CLEANUP_FAILED', 'Failed to cleanup completed sequence', null],
  [5633, 'SEQ_STATE_CORRUPTION', 'Sequence state corruption detected', null],
  [5640, 'SEQ_ACTUATOR_LOCKED', 'Actuator locked by another sequence/rule', 409],
  [5641, 'SEQ_RATE_LIMITED', 'Rate limit exceeded', 429],
  [5642, 'SEQ_SAFETY_BLOCKED', 'Action blocked by safety system', 403],
  [5643, 'SEQ_SAFE_STATE_FAILED', 'An actuator could not be confirmed OFF by the safe state', null],
  [5650, 'SEQ_UNAUTHORIZED', 'Missing or invalid token', 401],
  [5651, 'SEQ_FORBIDDEN', "The token's role does not allow this", 403],
  [5652, 'SEQ_ROUTE_NOT_FOUND', 'No such route', 404],
  [5661, 'SEQ_NODE_UNREACHABLE', 'The node that runs this run did not answer in time', 503],
] as const;

/** Every code by its number. */
export const ERRORS: ReadonlyMap<number, ErrorInfo> = new Map(
  entries.map(([code, name, message, http]) => [code, { code, name, message, http }]),
);

/** The codes as named constants, so call sites read `Codes.STEP_TIMEOUT` rather than 5615. */
export const Codes = {
  INVALID_DEFINITION: 5600,
  EMPTY_STEPS: 5601,
  INVALID_STEP: 5602,
  INVALID_ACTION_TYPE: 5603,
  STEP_MISSING_ACTION: 5604,
  INVALID_DELAY: 5605,
  TOO_MANY_STEPS: 5606,
  DURATION_EXCEEDED: 5607,
  ALREADY_RUNNING: 5610,
  NOT_FOUND: 5611,
  CANCELLED: 5612,
  TIMEOUT: 5613,
  STEP_FAILED: 5614,
  STEP_TIMEOUT: 5615,
  MAX_DURATION_EXCEEDED: 5616,
  EXECUTOR_NOT_FOUND: 5617,
  CIRCULAR_REFERENCE: 5618,
  INVALID_STATE: 5619,
  INVALID_CONDITION: 5620,
  WAIT_TIMEOUT: 5621,
  REPEAT_LIMIT: 5622,
  TASK_CREATION_FAILED: 5630,
  INTERNAL_ERROR: 5631,
  CLEANUP_FAILED: 5632,
  STATE_CORRUPTION: 5633,
  ACTUATOR_LOCKED: 5640,
  RATE_LIMITED: 5641,
  SAFETY_BLOCKED: 5642,
  SAFE_STATE_FAILED: 5643,
  UNAUTHORIZED: 5650,
  FORBIDDEN: 5651,
  ROUTE_NOT_FOUND: 5652,
  NODE_UNREACHABLE: 5661,
} as const;

/** The registry entry of a code; unknown codes map to 5631 so nothing leaks without a name. */
export function errorInfo(code: number): ErrorInfo {
  return ERRORS.get(code) ?? (ERRORS.get(Codes.INTERNAL_ERROR) as ErrorInfo);
}

/** One problem found in a request or definition, located by its JSON path (`steps[3].delay_seconds`). */
export interface ErrorDetail {
  path: string;
  code: number;
  message: string;
}

/**
 * An error that carries a 56xx code. Thrown at the edge (REST, CLI) and by executors; the engine
 * turns executor errors into failed steps, the API turns the rest into the one error body.
 */
export class SequencerError extends Error {
  readonly code: number;
  readonly details: ErrorDetail[];
  /** HTTP status override, for codes whose status depends on where they occur. */
  readonly status?: number;
  /** When a refused request may be tried again (rate limits), in ms; the HTTP answer then says `Retry-After`. */
  readonly retryAfterMs?: number;

  constructor(code: number, message?: string, details: ErrorDetail[] = [], status?: number, retryAfterMs?: number) {
    super(message ?? errorInfo(code).message);
    this.name = errorInfo(code).name;
    this.code = code;
    this.details = details;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }

  /** The HTTP status this error answers with. */
  get httpStatus(): number {
    return this.status ?? errorInfo(this.code).http ?? 500;
  }
}

/** The one HTTP error body shape of SPEC section 4. */
export interface ErrorBody {
  success: false;
  error: { code: number; name: string; message: string; details: ErrorDetail[] };
}

/** Details listed in one answer: a body of 100,000 bad steps must not get a 10 MB answer. */
export const MAX_DETAILS = 100;

/**
 * The first MAX_DETAILS details, then one more that counts the rest (its code the first one's),
 * so an answer stays small whatever the input.
 */
export function capDetails(details: ErrorDetail[]): ErrorDetail[] {
  if (details.length <= MAX_DETAILS) return details;
  const rest = details.length - MAX_DETAILS;
  const code = (details[0] as ErrorDetail).code;
  return [...details.slice(0, MAX_DETAILS), { path: '', code, message: `${rest} more problems not listed (only the first ${MAX_DETAILS} are)` }];
}

/** Builds the SPEC 4 body for an error (details capped). */
export function errorBody(err: SequencerError): ErrorBody {
  return {
    success: false,
    error: { code: err.code, name: errorInfo(err.code).name, message: err.message, details: capDetails(err.details) },
  };
}
