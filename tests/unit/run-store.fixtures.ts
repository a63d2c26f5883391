/**
 * Builders shared by the store tests: start, journal and end records with a complete progress
 * object, runs seeded into the history, and temporary directories removed after each test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Progress, RunStatus, StepResult } from '../../src/domain/progress.ts';
import { TERMINAL_STATUSES } from '../../src/domain/progress.ts';
import { historyColumns } from '../../src/store/history-columns.ts';
import type { EndRecord, JournalRecord, RunStore, StartRecord } from '../../src/store/run-store.ts';

/** What a test says about a run; everything else defaults to a plain run of `seq-1`. */
export interface RunFields {
  run_id?: string;
  sequence_id?: string;
  status?: RunStatus;
  created_at?: number;
  ended_at?: number;
  definition?: unknown;
  body?: unknown;
  progress?: Partial<Progress>;
}

/** The progress object of a run. */
export function progressOf(fields: RunFields = {}): Progress {
  const runId = fields.run_id ?? 'run-1';
  const sequenceId = fields.sequence_id ?? 'seq-1';
  const status = fields.status ?? 'completed';
  return {
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
    failed_step: null,
    ending_as: null,
    safe_state: null,
    safe_state_at: null,
    queued_at: null,
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
    node: null,
    redrive_of: null,
    ...fields.progress,
  };
}

/** A start record (status `running` unless the fields say an unfinished one). */
export function startOf(fields: RunFields = {}): StartRecord {
  const status = fields.status && !TERMINAL_STATUSES.has(fields.status) ? fields.status : 'running';
  return {
    run_id: fields.run_id ?? 'run-1',
    sequence_id: fields.sequence_id ?? 'seq-1',
    status,
    created_at: fields.created_at ?? 1_000,
    listed_at: fields.created_at ?? 1_000,
    definition: JSON.stringify(fields.definition === undefined ? { steps: [{ delay_seconds: 1 }] } : fields.definition),
    body: JSON.stringify(fields.body ?? { plan: { steps: [] }, context: null, template: null }),
  };
}

/** The end record of a run (status `completed` unless the fields say another terminal one). */
export function endOf(fields: RunFields = {}): EndRecord {
  const status = fields.status && TERMINAL_STATUSES.has(fields.status) ? fields.status : 'completed';
  const progress = progressOf({ ...fields, status });
  const createdAt = fields.created_at ?? 1_000;
  const endedAt = fields.ended_at ?? createdAt + 1_000;
  return { run_id: progress.run_id, status, ended_at: endedAt, progress: JSON.stringify(progress), ...historyColumns(progress, status, createdAt, endedAt) };
}

/** A journal record of `run_id` whose body is `body` (JSON-serialised). */
export function recordOf(run_id: string, body: unknown, extra: Partial<JournalRecord> = {}): JournalRecord {
  return { run_id, body: JSON.stringify(body), snapshot: false, ...extra };
}

/** Commits runs as the engine would leave them: each started, and ended when its status is terminal. */
export async function seed(store: RunStore, runs: RunFields[]): Promise<void> {
  await store.commit({
    starts: runs.map(startOf),
    records: [],
    ends: runs.filter((run) => run.status && TERMINAL_STATUSES.has(run.status)).map(endOf),
  });
}

/** A step result named `name`. */
export function stepResult(name: string, success: boolean, index = 0): StepResult {
  return {
    step_index: index,
    step_name: name,
    success,
    skipped: false,
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
