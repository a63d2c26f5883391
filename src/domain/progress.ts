/**
 * The progress object of SPEC section 5, as REST answers it and events carry it.
 * Field names follow AutomationOne so that existing dashboards keep working.
 */

/** Status of a run. */
export type RunStatus = 'pending' | 'running' | 'paused' | 'stopping' | 'completed' | 'failed' | 'cancelled' | 'timeout';

/** How a run that ends early ends; while it is `stopping`, its progress says so in `ending_as`. */
export type EndingAs = 'failed' | 'cancelled' | 'timeout';

/**
 * What the safe state of SPEC 10 achieved: `not_needed` (the run completed, or held no actuator),
 * `reached` (every actuator it held is confirmed OFF), `failed` (a `safety_alert` names one that
 * is not); null until it has run.
 */
export type SafeState = 'not_needed' | 'reached' | 'failed';

/** Terminal statuses: a run in one of them never changes again. */
export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set(['completed', 'failed', 'cancelled', 'timeout']);

/** The result of one step (or cleanup step) once it has ended. */
export interface StepResult {
  step_index: number;
  step_name: string;
  success: boolean;
  /** The step's `when` did not hold: it did not run (SPEC 2.1). */
  skipped: boolean;
  message: string;
  error_code: number | null;
  started_at: string;
  completed_at: string;
  duration_ms: number;
  retries: number;
}

/** Who or what started a run. */
export interface RunContext {
  rule_id: string | null;
  rule_name: string | null;
  triggered_by: string | null;
  trigger_data: unknown;
}

/** The progress object (SPEC section 5). */
export interface Progress {
  sequence_id: string;
  run_id: string;
  rule_id: string | null;
  rule_name: string | null;
  description: string | null;
  status: RunStatus;
  state: string;
  current_step: number;
  total_steps: number;
  progress_percent: number;
  current_step_name: string | null;
  /** The step whose failure ended the run, or that was in flight when it ended early; null otherwise. */
  failed_step: number | null;
  /** While `stopping`: the terminal status the run will have once its cleanup and safe state are done. */
  ending_as: EndingAs | null;
  /** What the safe state achieved, once the run has ended (see {@link SafeState}). */
  safe_state: SafeState | null;
  /** When the safe state was reached or failed. */
  safe_state_at: string | null;
  /** When the run was queued behind another run of its sequence_id; null when it started at once. */
  queued_at: string | null;
  started_at: string | null;
  completed_at: string | null;
  duration_seconds: number | null;
  estimated_completion: string | null;
  step_results: StepResult[];
  cleanup_results: StepResult[];
  error: string | null;
  error_code: number | null;
  context: RunContext;
  mode: string;
  template: { name: string; version: number } | null;
  /** The node that drives the run, on a store shared by several nodes (SPEC 14); null on one node. */
  node: string | null;
  /** The run this one redrives (SPEC 7 `POST /sequences/{id}/redrive`); null for a run of its own. */
  redrive_of: string | null;
}
