/**
 * The progress object of SPEC 5, derived from a run's record and snapshot.
 */
import type { SequenceContext, StepOutcome } from '../../machines/sequence.types.ts';
import { isoTime } from '../domain/iso-time.ts';
import type { Progress, RunContext, RunStatus, SafeState, StepResult } from '../domain/progress.ts';
import { NOTHING_HELD, SAFE_STATE_ACTION } from './plan.ts';
import type { Run } from './run.ts';

const iso = (ms: number | null): string | null => (ms === null ? null : isoTime(ms));

/** A machine step outcome as the API shows it. */
export function toStepResult(outcome: StepOutcome): StepResult {
  return {
    step_index: outcome.index,
    step_name: outcome.name,
    success: outcome.success,
    // Results stored before `when` existed have no such field.
    skipped: outcome.skipped === true,
    message: outcome.message,
    error_code: outcome.code,
    started_at: iso(outcome.startedAt) as string,
    completed_at: iso(outcome.endedAt) as string,
    duration_ms: outcome.endedAt - outcome.startedAt,
    retries: outcome.retries,
  };
}

/** Completed share of the steps, 0..100 with one decimal; 100 once completed. */
export function percentOf(done: number, total: number, completed: boolean): number {
  if (completed || total === 0) return completed ? 100 : 0;
  return Math.round((done / total) * 1000) / 10;
}

/** Steps that completed (a failed step, even one the run went on after, did not). */
export function completedSteps(results: readonly StepOutcome[]): number {
  let done = 0;
  for (const result of results) if (result.success) done++;
  return done;
}

/** What an action of this run is expected to take: the mean of the actions it finished, 1 s before the first. */
function meanActionMs(ctx: SequenceContext): number {
  let sum = 0;
  let count = 0;
  for (const result of ctx.results) {
    const step = ctx.plan.steps[result.index];
    if (!step?.action) continue;
    // A result's time counts from the step's start, before-delay included.
    sum += Math.max(0, result.endedAt - result.startedAt - step.beforeMs);
    count++;
  }
  return count === 0 ? 1000 : sum / count;
}

/**
 * What the rest of a running run is expected to take from `now` (SPEC 5): the declared waits left
 * and, for each action left, the mean of the actions this run finished. Never an action's timeout:
 * the deadline of an attempt in flight is when it gives up, not when it is expected to answer.
 */
function remainingMs(ctx: SequenceContext, state: string, now: number): number {
  const step = ctx.plan.steps[ctx.currentStep];
  if (!step) return 0;
  const mean = meanActionMs(ctx);
  const wait = ctx.deadline === null ? 0 : Math.max(0, ctx.deadline - now);
  const work = step.action ? mean : step.waitMs;
  let ms: number;
  switch (state) {
    case 'running.beforeDelay':
      ms = wait + work + step.afterMs;
      break;
    case 'running.executing':
      // The attempt began one timeout before its deadline.
      ms = Math.max(0, mean - (ctx.deadline === null ? 0 : now - (ctx.deadline - step.timeoutMs))) + step.afterMs;
      break;
    case 'running.retrying':
      ms = wait + mean + step.afterMs;
      break;
    case 'running.delaying':
      ms = wait + step.afterMs;
      break;
    case 'running.waiting':
      // How long a condition takes to hold is unknown; its timeout is a bound, not an expectation.
      ms = step.afterMs;
      break;
    default:
      ms = wait;
  }
  for (let i = ctx.currentStep + 1; i < ctx.plan.steps.length; i++) {
    const next = ctx.plan.steps[i] as (typeof ctx.plan.steps)[number];
    ms += next.beforeMs + (next.action ? mean : next.waitMs) + next.afterMs;
  }
  return ms;
}

/**
 * Where a run is in its steps: the step being run; for a run that ended early (or is stopping), the
 * step that failed or was in flight (its result is the last one recorded); `total` once completed.
 */
function stepPosition(run: Run, ctx: SequenceContext | null, total: number): { current: number; failed: number | null } {
  if (!ctx || run.status === 'completed') return { current: ctx ? total : 0, failed: null };
  if (ctx.phase === 'steps' && ctx.end === null) return { current: Math.min(ctx.currentStep, total), failed: null };
  const last = ctx.results[ctx.results.length - 1];
  if (!last) return { current: 0, failed: null };
  return { current: last.index, failed: last.success ? null : last.index };
}

/**
 * What the safe state achieved (SPEC 10), read off the safe-state step's result (the last cleanup
 * step of a top-level run): null until it has run; `not_needed` for a run that completed or ended
 * before it started.
 */
function safeStateOf(run: Run, ctx: SequenceContext | null): { state: SafeState | null; at: number | null } {
  if (run.status === 'completed' || (run.endedAt !== null && !ctx?.startedAt)) return { state: 'not_needed', at: null };
  const last = ctx?.cleanupResults[ctx.cleanupResults.length - 1];
  if (!last || ctx?.plan.cleanup[last.index]?.action?.type !== SAFE_STATE_ACTION) return { state: null, at: null };
  const state = !last.success ? 'failed' : last.message === NOTHING_HELD ? 'not_needed' : 'reached';
  return { state, at: last.endedAt };
}

/** The progress object of a run at `now`. */
export function toProgress(run: Run, now: number): Progress {
  const ctx = run.snapshot?.context ?? null;
  const total = run.plan.steps.length;
  const results = ctx?.results ?? [];
  const completed = run.status === 'completed';
  const terminal = run.endedAt !== null;
  const startedAt = ctx?.startedAt ?? null;
  const endedAt = run.endedAt ?? (terminal ? now : null);
  const { current, failed } = stepPosition(run, ctx, total);
  const running = run.status === 'running' && ctx !== null;
  const safe = safeStateOf(run, ctx);
  return {
    sequence_id: run.sequenceId,
    run_id: run.runId,
    rule_id: run.context.rule_id,
    rule_name: run.context.rule_name,
    description: run.description,
    status: run.status,
    state: run.state,
    current_step: current,
    total_steps: total,
    progress_percent: percentOf(completedSteps(results) + (run.redrive?.from_step ?? 0), total, completed),
    current_step_name: !terminal && ctx ? (run.plan.steps[current]?.name ?? null) : null,
    failed_step: failed,
    ending_as: run.status === 'stopping' ? (ctx?.end?.outcome ?? null) : null,
    safe_state: safe.state,
    safe_state_at: iso(safe.at),
    queued_at: iso(run.queuedAt),
    started_at: iso(startedAt),
    completed_at: iso(endedAt),
    duration_seconds: startedAt === null ? null : ((endedAt ?? now) - startedAt) / 1000,
    estimated_completion: running ? iso(now + remainingMs(ctx, run.state, now)) : null,
    step_results: results.map(toStepResult),
    cleanup_results: (ctx?.cleanupResults ?? []).map(toStepResult),
    error: ctx?.end?.message ?? run.endError?.message ?? null,
    error_code: ctx?.end?.code ?? run.endError?.code ?? null,
    context: run.context,
    mode: run.mode,
    template: run.template,
    node: run.node,
    redrive_of: run.redrive?.of ?? null,
  };
}

/**
 * The progress object of a run known only by its history row (unfinished, and not held by this
 * engine): what the row says, nothing of its steps.
 */
export function placeholderProgress(
  row: { run_id: string; sequence_id: string; status: RunStatus; created_at: number },
  context: RunContext | null,
  template: Progress['template'],
): Progress {
  return {
    sequence_id: row.sequence_id,
    run_id: row.run_id,
    rule_id: context?.rule_id ?? null,
    rule_name: context?.rule_name ?? null,
    description: null,
    status: row.status,
    state: row.status === 'pending' ? 'idle' : row.status,
    current_step: 0,
    total_steps: 0,
    progress_percent: 0,
    current_step_name: null,
    failed_step: null,
    ending_as: null,
    safe_state: null,
    safe_state_at: null,
    queued_at: row.status === 'pending' ? new Date(row.created_at).toISOString() : null,
    started_at: null,
    completed_at: null,
    duration_seconds: null,
    estimated_completion: null,
    step_results: [],
    cleanup_results: [],
    error: null,
    error_code: null,
    context: context ?? { rule_id: null, rule_name: null, triggered_by: null, trigger_data: null },
    mode: 'single',
    template,
    node: null,
    redrive_of: null,
  };
}
