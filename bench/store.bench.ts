/**
 * Throughput of the SQLite store's write path as the engine uses it: one `commit` per engine
 * tick, each holding a turn of many concurrent runs (a start record when a run begins, a small
 * journal record per transition, the history row when it ends), against a file database and
 * `:memory:`. Run it with `npx tsx bench/store.bench.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { Progress, RunStatus, StepResult } from '../src/domain/progress.ts';
import { historyColumns } from '../src/store/history-columns.ts';
import type { CommitBatch } from '../src/store/run-store.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite.store.ts';

/** What to measure; every field has a default. */
export interface StoreBenchOptions {
  /** Concurrent runs. Default 10,000. */
  runs?: number;
  /** Transitions stored per run (a start, journal records, an end). Default 10. */
  transitions?: number;
  /** Runs per commit, about one engine tick. Default 1,000. */
  batchRows?: number;
  /** Databases to measure: file paths or ':memory:'. Default a temporary file, then ':memory:'. */
  targets?: string[];
}

/** The measurements of one database. */
export interface StoreBenchResult {
  target: string;
  rows: number;
  /** Records per second over the commits (serialising the records included). */
  rowsPerSecond: number;
  /** Latency of one commit (one transaction), in ms. */
  flushP50Ms: number;
  flushP99Ms: number;
  /** Latency of one batch: serialising its records plus the commit, in ms. */
  batchP50Ms: number;
  batchP99Ms: number;
}

const STEPS = 10;
const definition = {
  sequence_id: 'bench',
  description: 'Water zone with a fan',
  steps: Array.from({ length: STEPS }, (_, i) => ({
    name: `Step ${i + 1}`,
    action: { type: 'actuator_command', esp_id: 'ESP_12AB34CD', gpio: i % 40, command: i % 2 ? 'OFF' : 'ON' },
    delay_after_seconds: 1,
  })),
};

function stepResult(index: number): StepResult {
  return {
    step_index: index,
    step_name: `Step ${index + 1}`,
    success: true,
    skipped: false,
    message: 'Actuator ESP_12AB34CD:5 ON',
    error_code: null,
    started_at: '2024-05-01T10:00:00.000Z',
    completed_at: '2024-05-01T10:00:00.020Z',
    duration_ms: 20,
    retries: 0,
  };
}

/** The progress object of a run that ended after its steps. */
function progressOf(index: number): Progress {
  const status: RunStatus = 'completed';
  return {
    sequence_id: `seq-${index % 500}`,
    run_id: `run-${index}`,
    rule_id: 'rule-7',
    rule_name: 'Morning watering',
    description: definition.description,
    status,
    state: 'completed',
    current_step: STEPS,
    total_steps: STEPS,
    progress_percent: 100,
    current_step_name: null,
    failed_step: null,
    ending_as: null,
    safe_state: 'not_needed',
    safe_state_at: null,
    queued_at: null,
    started_at: '2024-05-01T10:00:00.000Z',
    completed_at: '2024-05-01T10:00:10.000Z',
    duration_seconds: 10,
    estimated_completion: null,
    step_results: Array.from({ length: STEPS }, (_, i) => stepResult(i)),
    cleanup_results: [],
    error: null,
    error_code: null,
    context: { rule_id: 'rule-7', rule_name: 'Morning watering', triggered_by: 'rule', trigger_data: { moisture: 21 } },
    mode: 'parallel',
    template: null,
    node: null,
    redrive_of: null,
  };
}

const plan = { steps: definition.steps.map((step) => ({ name: step.name, action: step.action, waitMs: 0, beforeMs: 0, afterMs: 1000, timeoutMs: 30_000, retries: 0, retryDelayMs: 0, backoff: false, onFailure: 'abort' })), cleanup: [], maxDurationMs: 3_600_000 };

/** What the `transition`-th turn of run `index` writes (the first starts it, the last ends it): serialised as the engine does. */
function writeAt(batch: CommitBatch, index: number, transition: number, transitions: number): void {
  const runId = `run-${index}`;
  const createdAt = 1_714_557_600_000 + index;
  if (transition === 0) {
    batch.starts.push({
      run_id: runId,
      sequence_id: `seq-${index % 500}`,
      status: 'running',
      created_at: createdAt,
      listed_at: createdAt,
      definition: JSON.stringify(definition),
      body: JSON.stringify({ plan, context: progressOf(index).context, template: null }),
    });
  }
  if (transition === transitions - 1) {
    const progress = progressOf(index);
    batch.ends.push({ run_id: runId, status: 'completed', ended_at: createdAt + 10_000, progress: JSON.stringify(progress), ...historyColumns(progress, 'completed', createdAt, createdAt + 10_000) });
    return;
  }
  const events = [{ type: transition === 0 ? 'START' : transition % 2 ? 'STEP_DONE' : 'WAKE', now: createdAt + transition * 1000, attemptId: transition, message: 'ESP_12AB34CD gpio 5 ON ok' }];
  batch.records.push({ run_id: runId, body: JSON.stringify({ events }), snapshot: false });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function measure(target: string, runs: number, transitions: number, batchRows: number): StoreBenchResult {
  const store = openSqliteStore(target);
  const flushes: number[] = [];
  const batches: number[] = [];
  let busy = 0;
  try {
    for (let transition = 0; transition < transitions; transition += 1) {
      for (let first = 0; first < runs; first += batchRows) {
        const last = Math.min(runs, first + batchRows);
        const started = performance.now();
        const batch: CommitBatch = { starts: [], records: [], ends: [] };
        for (let i = first; i < last; i += 1) writeAt(batch, i, transition, transitions);
        const flushing = performance.now();
        void store.commit(batch);
        const ended = performance.now();
        flushes.push(ended - flushing);
        batches.push(ended - started);
        busy += ended - started;
      }
    }
  } finally {
    void store.close();
  }
  flushes.sort((a, b) => a - b);
  batches.sort((a, b) => a - b);
  const rows = runs * transitions;
  return {
    target,
    rows,
    rowsPerSecond: Math.round(rows / (busy / 1000)),
    flushP50Ms: percentile(flushes, 50),
    flushP99Ms: percentile(flushes, 99),
    batchP50Ms: percentile(batches, 50),
    batchP99Ms: percentile(batches, 99),
  };
}

/** Measures every target in turn and returns one result per target. */
export function runStoreBench(options: StoreBenchOptions = {}): StoreBenchResult[] {
  const runs = options.runs ?? 10_000;
  const transitions = options.transitions ?? 10;
  const batchRows = options.batchRows ?? 1_000;
  const dir = options.targets ? undefined : mkdtempSync(join(tmpdir(), 'sequencer-bench-'));
  const targets = options.targets ?? [join(dir as string, 'bench.db'), ':memory:'];
  try {
    return targets.map((target) => measure(target, runs, transitions, batchRows));
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ms = (value: number) => value.toFixed(2);
  for (const result of runStoreBench()) {
    const name = result.target === ':memory:' ? ':memory:' : 'file (WAL)';
    console.log(
      `${name.padEnd(11)} ${result.rows} rows  ${result.rowsPerSecond.toLocaleString('en')} rows/s  ` +
        `flush p50 ${ms(result.flushP50Ms)} ms p99 ${ms(result.flushP99Ms)} ms  ` +
        `batch (queue+flush) p50 ${ms(result.batchP50Ms)} ms p99 ${ms(result.batchP99Ms)} ms`,
    );
  }
}
