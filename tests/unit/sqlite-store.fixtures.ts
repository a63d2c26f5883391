/**
 * Builders shared by the SQLite store tests: runs with a complete progress object, and temporary
 * directories removed after each test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Progress, StepResult } from '../../src/domain/progress.ts';
import type { StoredRun } from '../../src/store/run-store.ts';

/** Fields of `makeRun`: any of a run's, with `progress` fields merged into the default progress. */
export type RunFields = Partial<Omit<StoredRun, 'progress'>> & { progress?: Partial<Progress> };

/** A run whose fields default to a plain running run. */
export function makeRun(fields: RunFields = {}): StoredRun {
  const runId = fields.run_id ?? 'run-1';
  const sequenceId = fields.sequence_id ?? 'seq-1';
  const status = fields.status ?? 'running';
  const progress: Progress = {
    sequence_id: sequenceId,
    run_id: runId,
    rule_id: null,
    rule_name: null,
    description: null,
    status,
    state: status,
    current_step: 0,
    total_steps: 2,
    progress_percent: 0,
    current_step_name: 'Step 1',
    started_at: null,
    completed_at: null,
    duration_seconds: null,
    estimated_completion: null,
    step_results: [],
    cleanup_results: [],
    error: null,
    error_code: null,
    context: { rule_id: null, rule_name: null, triggered_by: null, trigger_data: null },
    mode: 'single',
    template: null,
    ...fields.progress,
  };
  return {
    run_id: runId,
    sequence_id: sequenceId,
    status,
    definition: fields.definition === undefined ? { steps: [{ delay_seconds: 1 }] } : fields.definition,
    progress,
    snapshot: fields.snapshot === undefined ? { value: status, context: { currentStep: 0 } } : fields.snapshot,
    created_at: fields.created_at ?? 1_000,
    ended_at: fields.ended_at ?? null,
  };
}

/** A step result named `name`. */
export function stepResult(name: string, success: boolean, index = 0): StepResult {
  return {
    step_index: index,
    step_name: name,
    success,
    message: success ? 'ok' : 'failed',
    error_code: success ? null : 5614,
    started_at: '2024-01-01T00:00:00.000Z',
    completed_at: '2024-01-01T00:00:01.000Z',
    duration_ms: 1000,
    retries: 0,
  };
}

/** Creates temporary directories and removes them all in `cleanup()`. */
export function tempDirs(): { make(): string; cleanup(): void } {
  const made: string[] = [];
  return {
    make() {
      const dir = mkdtempSync(join(tmpdir(), 'sequencer-store-'));
      made.push(dir);
      return dir;
    },
    cleanup() {
      for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
