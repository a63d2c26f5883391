/**
 * Types of the sequence statechart. The machine runs a plan (steps already resolved to
 * milliseconds and policies) and knows nothing of HTTP, devices or storage.
 */

/** An action as the machine carries it: opaque to the machine but for its type and idempotency. */
export interface PlanAction {
  type: string;
  idempotent?: boolean;
  [field: string]: unknown;
}

/**
 * A condition (SPEC 2.1), opaque to the machine: the host evaluates it and answers CONDITION with
 * its truth, so the machine decides on what the event says and a replayed journal decides alike.
 */
export type PlanCondition = Record<string, unknown>;

/** A `wait_for` step's wait: until `condition` holds for `forMs` (its timeout is the step's `timeoutMs`). */
export interface PlanWait {
  condition: PlanCondition;
  forMs: number;
  /** The condition in words, for the `waiting` step event and the timeout's message. */
  description: string;
}

/** One step, resolved: every duration in ms, the failure policy decided. */
export interface PlanStep {
  name: string;
  /** null: a pure wait of `waitMs` (a delay step or a `delay` action), or a `wait_for` step. */
  action: PlanAction | null;
  /** A `wait_for` step's wait; null (or absent in plans stored before it existed) for the others. */
  wait?: PlanWait | null;
  /** The step runs only if this holds when it is reached (SPEC 2.1 `when`). */
  when?: PlanCondition | null;
  waitMs: number;
  beforeMs: number;
  afterMs: number;
  /** Time budget of one attempt of the action. */
  timeoutMs: number;
  /** Retries after a failed or timed-out attempt. */
  retries: number;
  retryDelayMs: number;
  backoff: boolean;
  /** What a failure (after its retries) does to the run. */
  onFailure: 'abort' | 'continue';
}

/** What a run executes. */
export interface SequencePlan {
  steps: PlanStep[];
  /** Run when the run ends failed, cancelled or timeout (SPEC 10). */
  cleanup: PlanStep[];
  maxDurationMs: number;
}

/** The outcome of one step, in machine terms (Unix ms). */
export interface StepOutcome {
  index: number;
  name: string;
  success: boolean;
  /** The step's `when` did not hold: it did not run (and counts as a success). */
  skipped: boolean;
  message: string;
  code: number | null;
  startedAt: number;
  endedAt: number;
  retries: number;
}

/** How a run that ends early ends. */
export type Outcome = 'failed' | 'cancelled' | 'timeout';

/** A step result that arrived while the run was paused, replayed on resume. */
export type HeldResult =
  | { type: 'STEP_DONE'; attemptId: number; now: number; message: string }
  | { type: 'STEP_FAILED'; attemptId: number; now: number; message: string; code: number };

/**
 * The context of one run. Every wait keeps its absolute deadline so a restored snapshot can re-arm it.
 * It keeps at most 19 fields: XState's `assign` copies it with `Object.assign({}, context, update)`.
 * V8 (Node 20) mostly copies the hidden class along; when it does not (in every process that had
 * written a heap snapshot before its runs began, here), it adds the fields one by one and makes a copy
 * of more than 19 a dictionary: a 1.6 KB hash table a run, rebuilt on every copy. What changes only
 * with a pause or an early end is grouped (`pause`, `end`).
 */
export interface SequenceContext {
  plan: SequencePlan;
  /** Which list runs: the steps, or the cleanup steps after an early end. */
  phase: 'steps' | 'cleanup';
  /** Index of the step being run in the current list (the step n). */
  currentStep: number;
  /** Attempts of the current step that failed so far. */
  attempt: number;
  /** Increases with every attempt, so a late answer of an abandoned attempt is ignored. */
  attemptId: number;
  /** Attempt `attemptId` is running and its answer has not been taken yet (it may be held while paused). */
  awaitingAnswer: boolean;
  /** When the current wait or attempt ends (Unix ms); null when nothing is timed. */
  deadline: number | null;
  stepStartedAt: number | null;
  /** Whether the current step's result is already recorded. */
  stepRecorded: boolean;
  lastError: { message: string; code: number } | null;
  /** Lists in a context are replaced, never changed (a new run's are one shared empty list). */
  results: readonly StepOutcome[];
  cleanupResults: readonly StepOutcome[];
  /** How the run ends, once it is ending early (failed, cancelled, timeout); null while it may still complete. */
  end: RunEnd | null;
  startedAt: number | null;
  endedAt: number | null;
  /** What a pause keeps until the resume; null when not paused. */
  pause: PauseKeep | null;
  /** The signals the run received, by name, in order (at most `MAX_SIGNALS`); a nested run starts with its parent's. */
  signals: readonly string[];
  /**
   * While a `wait_for` step's condition holds and must keep holding for `for_seconds`: since when,
   * until when it stands without a new reading (null: not by ageing), and the value that satisfied it.
   */
  hold: Hold | null;
}

/** What a pause keeps until the resume (`SequenceContext.pause`). */
export interface PauseKeep {
  /** The time the current wait had left (the substate to return to is the chart's history). */
  remainingMs: number | null;
  /** The answer of the attempt in flight that came meanwhile, replayed on resume. */
  held: HeldResult | null;
  /** The attempt in flight was lost to a restart and is started again on resume. */
  restartAttempt: boolean;
  /**
   * With `outputs: "off"`: the actuators the run held as they were (turned OFF for the pause,
   * turned back on resume); null when paused with `outputs: "hold"`.
   */
  outputs: PausedOutput[] | null;
}

/** How a run that ends early ends (`SequenceContext.end`): its outcome, and the error it ends with. */
export interface RunEnd {
  outcome: Outcome;
  message: string;
  code: number;
}

/** An actuator a run held when it was paused with its outputs off, and the command that set it. */
export interface PausedOutput {
  esp_id: string;
  gpio: number;
  command: 'ON' | 'PWM' | 'TOGGLE';
  value: number;
  duration_seconds: number;
}

/** A condition holding during a wait (see `SequenceContext.hold`). */
export interface Hold {
  since: number;
  until: number | null;
  message: string;
}

/** What a run is created with. */
export interface SequenceInput {
  plan: SequencePlan;
  /** Signals the run has already (a nested run gets its parent's). */
  signals?: readonly string[];
  /** The step to begin at (a redrive, SPEC 7); 0 when absent. */
  firstStep?: number;
}

/** Every event the machine takes. `now` (Unix ms) comes from outside so the machine stays pure. */
export type SequenceEvent =
  | { type: 'START'; now: number }
  /** The current deadline has come (sent by the runtime's timer). */
  | { type: 'WAKE'; now: number }
  /** `max_duration_seconds` has run out. */
  | { type: 'TIMEOUT'; now: number }
  | { type: 'STEP_DONE'; attemptId: number; now: number; message: string }
  | { type: 'STEP_FAILED'; attemptId: number; now: number; message: string; code: number }
  | { type: 'CANCEL'; now: number; reason: string }
  /** Ends the run failed with a code (used by `--recovery abort`). */
  | { type: 'ABORT'; now: number; code: number; message: string }
  /**
   * `outputs: "off"`: the actuators in `held` are turned OFF for the pause and back on resume;
   * absent or `"hold"`: they are left as they are (a nested run pauses with its parent this way).
   */
  | { type: 'PAUSE'; now: number; outputs?: 'off' | 'hold'; held?: PausedOutput[] }
  | { type: 'RESUME'; now: number }
  /** The outputs turned OFF for a pause are back as they were (answers `restoreOutputs`). */
  | { type: 'OUTPUTS_RESTORED'; now: number }
  /** Sent once after a run was restored from a snapshot: the action in flight is lost. */
  | { type: 'RECOVER'; now: number }
  /**
   * The truth of the condition the run asked about (`checkCondition`) or waits on, evaluated by the
   * host from the readings and the run's signals: `until` is when a true result may turn unknown
   * as its readings age (null: not by ageing); `message` names the values read.
   */
  | { type: 'CONDITION'; now: number; truth: 'true' | 'false' | 'unknown'; until: number | null; message: string }
  /** A signal sent to the run (SPEC 7 `POST /sequences/{id}/signal`). */
  | { type: 'SIGNAL'; now: number; name: string };

/** Params of `checkCondition`: which condition of the current step the host evaluates. */
export interface CheckParams {
  /** The step's `when`, or its `wait_for` condition. */
  which: 'when' | 'wait';
  condition: PlanCondition;
}

/** Params of `turnOutputsOff` and `restoreOutputs`. */
export interface PausedOutputsParams {
  outputs: PausedOutput[];
  /** Time budget of a restoring command: the current step's attempt timeout. */
  timeoutMs: number;
}

/** What the machine's effect actions receive as params. */
export interface RunActionParams {
  attemptId: number;
  phase: 'steps' | 'cleanup';
  stepIndex: number;
  step: PlanStep;
  attempt: number;
  deadline: number;
}

/** Params of the step event the machine asks its host to publish. */
export interface StepEventParams {
  status: 'starting' | 'completed' | 'failed' | 'retrying' | 'waiting' | 'skipped';
  phase: 'steps' | 'cleanup';
  stepIndex: number;
  stepName: string;
  message: string;
  success: boolean | null;
  durationMs: number | null;
  errorCode: number | null;
  attempt: number;
}
