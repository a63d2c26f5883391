/**
 * The progress object of SPEC 5, derived from a run's record and snapshot.
 */
import type { SequenceContext, StepOutcome } from '../../machines/sequence.types.ts';
import type { Progress, StepResult } from '../domain/progress.ts';
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
    description: run.definition.description ?? null,
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
    mode: run.definition.mode,
    template: run.template,
  };
}
