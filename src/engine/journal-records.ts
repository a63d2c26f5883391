/**
 * A run's records in the store's journal (`src/store/run-store.ts`): its start record, one record
 * per turn in which it moved (the machine events it took, or now and then a compact snapshot), and
 * its history row at the end. Every JSON field is serialised here, so a run whose data cannot be
 * serialised fails alone.
 */
import type { SequencePlan } from '../../machines/sequence.types.ts';
import { TERMINAL_STATUSES } from '../domain/progress.ts';
import { historyColumns } from '../store/history-columns.ts';
import { journalEventsBody, journalSnapshotBody, startBody } from '../store/run-journal.ts';
import type { EndRecord, JournalRecord, StartRecord } from '../store/run-store.ts';
import { toProgress } from './progress.ts';
import type { Run } from './run.ts';

/**
 * Journal records of a run between two compact snapshots. Replay after a restart reads at most this
 * many records per run; the 5-step workload of the benchmarks moves in 8 turns and never takes one.
 */
export const SNAPSHOT_EVERY = 16;

/** The persisted snapshot of a run's actor (its plan left out: the start record has it). */
export type SnapshotOf = (run: Run) => unknown;

/**
 * A run's start record; the run lets go of its definition (its plan is what it runs). Without
 * `recoverable` (a store nothing recovers from) the body recovery would read is left out.
 */
export function startRecord(run: Run, recoverable = true): StartRecord {
  const status = TERMINAL_STATUSES.has(run.status) ? 'running' : run.status;
  const record: StartRecord = {
    run_id: run.runId,
    sequence_id: run.sequenceId,
    status,
    created_at: run.createdAt,
    // A run that started at once is listed by its start; a queued one by when it was queued, until it starts.
    listed_at: run.snapshot?.context.startedAt ?? run.createdAt,
    definition: JSON.stringify(run.definition),
    body: recoverable ? JSON.stringify(startBody(run.plan, run.context, run.template, { queued_at: run.queuedAt, redrive: run.redrive, mode: run.mode, priority: run.priority })) : 'null',
  };
  run.definition = null;
  run.storedStatus = status;
  return record;
}

/**
 * The record of the turn that just passed for a run, or null when it took no event and its status
 * is as stored. Every `SNAPSHOT_EVERY`th record is a compact snapshot instead of the events.
 */
export function turnRecord(run: Run, snapshotOf: SnapshotOf): JournalRecord | null {
  const events = run.turn ?? [];
  const status = TERMINAL_STATUSES.has(run.status) || run.status === run.storedStatus ? undefined : run.status;
  if (events.length === 0 && status === undefined) return null;
  const snapshot = run.records + 1 >= SNAPSHOT_EVERY;
  const body = JSON.stringify(snapshot ? journalSnapshotBody(snapshotOf(run)) : journalEventsBody(events));
  run.turn = [];
  run.records = snapshot ? 0 : run.records + 1;
  const record: JournalRecord = { run_id: run.runId, body, snapshot };
  if (status !== undefined) {
    // A queued run that has started: the history lists it by its start from now on.
    if (run.storedStatus === 'pending') record.listed_at = run.snapshot?.context.startedAt ?? Date.now();
    record.status = status;
    run.storedStatus = status;
  }
  return record;
}

/** A run's history row, written when it has ended. */
export function endRecord(run: Run, now: number): EndRecord {
  const progress = toProgress(run, now);
  const endedAt = run.endedAt ?? now;
  return {
    run_id: run.runId,
    status: run.status,
    ended_at: endedAt,
    progress: JSON.stringify(progress),
    ...historyColumns(progress, run.status, run.createdAt, endedAt),
  };
}

/** A snapshot to persist without its plan, which the start record holds. */
export function withoutPlan<T extends { context: { plan: SequencePlan } }>(snapshot: T): T {
  return { ...snapshot, context: { ...snapshot.context, plan: null as unknown as SequencePlan } };
}
