/**
 * The columns of a history row that the stats query reads, derived from a run's final progress
 * object the same way by every backend and by the migrations that backfill them.
 */
import { TERMINAL_STATUSES } from '../domain/progress.ts';
import type { Progress, RunStatus } from '../domain/progress.ts';

/** The columns computed from the progress object, so that stats are indexed SQL, not JSON parsing. */
export interface HistoryColumns {
  failed_step: string | null;
  duration_seconds: number | null;
}

/**
 * The stats columns of a run: the step that made a failed run fail (its last failed step result,
 * else the step it was on) and the duration of a terminal run (as reported, else wall clock).
 */
export function historyColumns(progress: Progress, status: RunStatus, createdAt: number, endedAt: number | null): HistoryColumns {
  let failedStep: string | null = null;
  if (status === 'failed') {
    const results = progress.step_results;
    let index = results.length - 1;
    while (index >= 0 && results[index].success) index -= 1;
    failedStep = index >= 0 ? results[index].step_name : (progress.current_step_name ?? null);
  }
  let duration: number | null = null;
  if (TERMINAL_STATUSES.has(status)) {
    duration = progress.duration_seconds ?? (endedAt === null ? null : (endedAt - createdAt) / 1000);
  }
  return { failed_step: failedStep, duration_seconds: duration };
}
