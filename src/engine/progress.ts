/**
 * The progress object of SPEC 5, derived from a run's record and snapshot.
 */
import type { SequenceContext, StepOutcome } from '../../machines/sequence.types.ts';
import type { Progress, RunContext, RunStatus, StepResult } from '../domain/progress.ts';
import type { Run } from './run.ts';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** A machine step outcome as the API shows it. */
export function toStepResult(outcome: StepOutcome): StepResult {
  return {
    step_index: outcome.index,
    step_name: outcome.name,
    success: outcome.success,
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

/** The time the rest of the run is expected to take from `now`, from its declared waits. */
function remainingMs(ctx: SequenceContext, now: number): number {
  let ms = ctx.deadline !== null ? Math.max(0, ctx.deadline - now) : 0;
  if (ctx.phase !== 'steps') return ms;
  for (let i = ctx.currentStep + 1; i < ctx.plan.steps.length; i++) {
    const step = ctx.plan.steps[i];
    if (step) ms += step.beforeMs + step.waitMs + step.afterMs;
  }
  return ms;
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
  const current = ctx ? Math.min(ctx.phase === 'steps' ? ctx.currentStep : total, total) : 0;
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
    progress_percent: percentOf(results.length, total, completed),
    current_step_name: !terminal && ctx && ctx.phase === 'steps' ? (run.plan.steps[current]?.name ?? null) : null,
    started_at: iso(startedAt),
    completed_at: iso(endedAt),
    duration_seconds: startedAt === null ? null : ((endedAt ?? now) - startedAt) / 1000,
    estimated_completion: terminal || !ctx || run.status === 'paused' ? null : iso(now + remainingMs(ctx, now)),
    step_results: results.map(toStepResult),
    cleanup_results: (ctx?.cleanupResults ?? []).map(toStepResult),
    error: ctx?.error ?? run.endError?.message ?? null,
    error_code: ctx?.errorCode ?? run.endError?.code ?? null,
    context: run.context,
    mode: run.mode,
    template: run.template,
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
  };
}
