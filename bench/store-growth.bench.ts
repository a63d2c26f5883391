/**
 * What the history's size does to the cost of a run's rows in the SQLite store, by the kind of
 * run id: runs of two steps go through the store as the batch route's runs do (a commit of 10
 * start records, one of 10 journal records, one of 10 ends), until the history holds `rows` runs;
 * the cost per run is printed for each fifth of them. `random`: `run-` and a UUIDv4, the ids before
 * 2026-12-04; `time-ordered`: `newRunId` (a UUIDv7). Each kind on a fresh file database (WAL) and
 * on `:memory:`. `npx tsx bench/store-growth.bench.ts [--rows N]`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { newRunId } from '../src/domain/run-id.ts';
import type { CommitBatch } from '../src/store/run-store.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite.store.ts';

/** One database and kind of id: the cost per run (µs) in each fifth of the history's growth. */
export interface StoreGrowthResult {
  target: 'file' | ':memory:';
  ids: 'random' | 'time-ordered';
  /** Runs in the history at the end of each segment. */
  rowsAt: number[];
  usPerRun: number[];
}

const RUNS_PER_COMMIT = 10;
const SEGMENTS = 5;
const command = (c: string) => ({ action: { type: 'actuator_command', esp_id: 'ESP_12AB34CD', gpio: 5, command: c } });
const DEFINITION = JSON.stringify({ sequence_id: 'zone', steps: [command('ON'), command('OFF')] });
const BODY = JSON.stringify({ plan: { steps: [command('ON'), command('OFF')].map((s) => ({ ...s, waitMs: 0, beforeMs: 0, afterMs: 0, timeoutMs: 30_000 })) }, context: null });
const RECORD = JSON.stringify({ events: [{ type: 'STEP_DONE', now: 0, attemptId: 1, message: 'ESP_12AB34CD gpio 5 ON ok' }] });
const PROGRESS = JSON.stringify({ step_results: [0, 1].map((i) => ({ step_index: i, step_name: `Step ${i + 1}`, success: true, message: 'Actuator ESP_12AB34CD:5 ON', started_at: new Date().toISOString(), duration_ms: 1 })) });

function measure(path: string, ids: StoreGrowthResult['ids'], rows: number): StoreGrowthResult {
  const store = openSqliteStore(path);
  const newId = ids === 'random' ? () => `run-${randomUUID()}` : () => newRunId(Date.now());
  const result: StoreGrowthResult = { target: path === ':memory:' ? ':memory:' : 'file', ids, rowsAt: [], usPerRun: [] };
  const perSegment = rows / SEGMENTS;
  let done = 0;
  try {
    for (let segment = 1; segment <= SEGMENTS; segment++) {
      const started = performance.now();
      for (; done < segment * perSegment; done += RUNS_PER_COMMIT) {
        const now = Date.now();
        const runIds = Array.from({ length: RUNS_PER_COMMIT }, newId);
        const empty: CommitBatch = { starts: [], records: [], ends: [] };
        void store.commit({ ...empty, starts: runIds.map((run_id) => ({ run_id, sequence_id: 'zone', status: 'running', created_at: now, listed_at: now, definition: DEFINITION, body: BODY })) });
        void store.commit({ ...empty, records: runIds.map((run_id) => ({ run_id, body: RECORD, snapshot: false })) });
        void store.commit({ ...empty, ends: runIds.map((run_id) => ({ run_id, status: 'completed', ended_at: now, progress: PROGRESS, failed_step: null, duration_seconds: 0.002 })) });
      }
      result.rowsAt.push(done);
      result.usPerRun.push(((performance.now() - started) * 1000) / perSegment);
    }
  } finally {
    void store.close();
  }
  return result;
}

/** Both kinds of id on a file database, then on `:memory:`. */
export function runStoreGrowthBench(options: { rows?: number } = {}): StoreGrowthResult[] {
  const rows = options.rows ?? 200_000;
  const dir = mkdtempSync(join(tmpdir(), 'sequencer-growth-'));
  try {
    return (['file', ':memory:'] as const).flatMap((target) =>
      (['random', 'time-ordered'] as const).map((ids) => measure(target === 'file' ? join(dir, `${ids}.db`) : ':memory:', ids, rows)),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A table: one row per database and kind of id, one column per fifth of the history. */
export function formatStoreGrowthBench(results: StoreGrowthResult[]): string {
  const head = results[0]?.rowsAt.map((n) => `${n.toLocaleString('en')} runs`) ?? [];
  const lines = [`| database | run ids | ${head.join(' | ')} |`, `|---|---|${head.map(() => '---:').join('|')}|`];
  for (const r of results) lines.push(`| ${r.target} | ${r.ids} | ${r.usPerRun.map((us) => `${us.toFixed(1)} µs`).join(' | ')} |`);
  return `store cost per run (start, one journal record, end) as the history grows\n\n${lines.join('\n')}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const at = process.argv.indexOf('--rows');
  console.log(formatStoreGrowthBench(runStoreGrowthBench({ rows: at >= 0 ? Number(process.argv[at + 1]) : undefined })));
}
