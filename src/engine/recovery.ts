/**
 * Recovery after a restart (SPEC 11) by replaying the journal: each unfinished run's start record
 * gives its plan and context; its journal, from the last compact snapshot on, gives the events it
 * took. Replayed into the sequence machine as it is (its effects are no-ops), they rebuild the
 * run's snapshot without telling a device anything or publishing anything twice; the live actor
 * is created from that snapshot and sent RECOVER (or ABORT with `--recovery abort`).
 */
import { createActor } from 'xstate';
import { sequenceMachine } from '../../machines/sequence.machine.ts';
import { upgradeSnapshot, type PersistedSnapshot } from '../../machines/sequence.snapshot.ts';
import type { SequenceContext, SequenceEvent, SequencePlan } from '../../machines/sequence.types.ts';
import type { SequenceDefinition } from '../domain/definition.schema.ts';
import { Codes, SequencerError } from '../domain/errors.ts';
import type { Progress } from '../domain/progress.ts';
import { historyColumns } from '../store/history-columns.ts';
import type { JournalBody, StartBody } from '../store/run-journal.ts';
import type { RunStore, UnfinishedRun } from '../store/run-store.ts';
import type { Admission } from './admission.ts';
import type { EngineOptions } from './engine-options.ts';
import { placeholderProgress } from './progress.ts';
import type { RunBook } from './run-book.ts';
import type { RunHost } from './run-host.ts';

/** What recovery did with the unfinished runs. */
export interface RecoveryCounts {
  resumed: number;
  aborted: number;
  queued: number;
  failed: number;
}

/** What recovery works with. */
export interface RecoveryParts {
  store: RunStore;
  book: RunBook;
  host: RunHost;
  admission: Admission;
  options: EngineOptions;
  plan(definition: SequenceDefinition): SequencePlan;
  report(error: unknown, message: string): void;
}

/**
 * Restores unfinished runs read from the store (at start, or claimed from another node later). `resume`: each goes on where it was (a wait that
 * ended meanwhile ends at once; an action in flight fails with 5633 unless it is idempotent, then
 * it is sent again). `abort`: each ends failed with 5633 after its safe state. Queued runs queue
 * again with `resume`; with `abort` they end failed with 5633 without starting.
 */
export async function recoverRuns(parts: RecoveryParts, policy: 'resume' | 'abort', runs: UnfinishedRun[] | Promise<UnfinishedRun[]>): Promise<RecoveryCounts> {
  const counts: RecoveryCounts = { resumed: 0, aborted: 0, queued: 0, failed: 0 };
  for (const stored of await runs) {
    try {
      counts[recoverRun(parts, stored, policy)]++;
    } catch (error) {
      // One run that cannot be restored (a template it needs is gone, a damaged journal) must
      // neither keep the server from starting nor come back at every start.
      parts.report(error, `run ${stored.run_id} could not be recovered`);
      parts.book.runs.delete(stored.run_id);
      await storeUnrecoverable(parts, stored, error);
      counts.failed++;
    }
  }
  for (const sequenceId of [...parts.book.queues.keys()]) if (!parts.book.active.has(sequenceId)) parts.admission.drainQueue(sequenceId);
  return counts;
}

function recoverRun(parts: RecoveryParts, stored: UnfinishedRun, policy: 'resume' | 'abort'): 'resumed' | 'aborted' | 'queued' {
  const { book, host, admission, options } = parts;
  const start = stored.body as StartBody;
  const sent = (stored.definition ?? {}) as SequenceDefinition;
  // The definition is kept as sent: what validation filled in is in the start record, and the
  // sequence_id is the history row's (a run whose definition row is lost runs from its plan).
  const definition = { ...sent, sequence_id: stored.sequence_id, mode: start.mode ?? sent.mode, priority: start.priority ?? sent.priority };
  const { snapshot, events } = readJournal(stored.records as JournalBody[]);
  // Runs stored before schema v4 carry their plan in their snapshot only.
  const plan = (start.plan as SequencePlan | null) ?? (snapshot?.context?.plan as SequencePlan | undefined) ?? parts.plan(definition);
  if (snapshot?.context) snapshot.context.plan = plan;
  const run = admission.newRun(definition, plan, { context: start.context ?? undefined, template: start.template ?? undefined, redrive: start.redrive ?? undefined });
  run.runId = stored.run_id;
  run.createdAt = stored.created_at;
  run.queuedAt = start.queued_at ?? (stored.status === 'pending' ? stored.created_at : null);
  run.storedStatus = stored.status;
  run.records = (stored.records as JournalBody[]).filter((record) => !('snapshot' in record)).length;
  run.definition = null;
  book.runs.set(run.runId, run);
  if (!snapshot && events.length === 0) {
    // It never started: with `abort`, nothing asked for before the stop goes on (SPEC 11).
    if (policy === 'abort') {
      admission.cancelQueued(run, 'Run interrupted by a restart', 'failed', Codes.STATE_CORRUPTION);
      return 'aborted';
    }
    book.queueOf(run.sequenceId).push(run);
    return 'queued';
  }
  const restored = events.length > 0 ? replay(plan, snapshot, events, run.redrive?.from_step) : (snapshot as ReplayedSnapshot);
  for (const event of events) if (event.type === 'CANCEL') run.cancelReason ??= event.reason;
  options.onRunRecovered?.(run, restored.context);
  try {
    if (!admission.launch(run, restored)) throw new SequencerError(Codes.ALREADY_RUNNING, 'Concurrency limit reached');
  } catch (error) {
    // None of its cleanup steps can run: what it may have switched on is made safe as for a crash.
    options.onRunCrashed?.(run);
    throw error;
  }
  // A run already in cleanup is ending anyway: it only has to learn that its action was lost.
  if (policy === 'abort' && run.status !== 'stopping') {
    host.send(run, { type: 'ABORT', code: Codes.STATE_CORRUPTION, message: 'Run interrupted by a restart' });
    return 'aborted';
  }
  host.send(run, { type: 'RECOVER' });
  return policy === 'abort' ? 'aborted' : 'resumed';
}

/** A snapshot as replay produces it: one the sequence machine restores. */
type ReplayedSnapshot = PersistedSnapshot & { context: SequenceContext };

/** The last compact snapshot of a journal (upgraded to the current chart) and the events after it. */
function readJournal(records: JournalBody[]): { snapshot: ReplayedSnapshot | null; events: SequenceEvent[] } {
  let snapshot: ReplayedSnapshot | null = null;
  const events: SequenceEvent[] = [];
  for (const record of records) {
    if ('snapshot' in record) {
      // Stored by an older chart: brought to the current one before XState restores it.
      snapshot = upgradeSnapshot(record.snapshot as PersistedSnapshot) as ReplayedSnapshot;
      events.length = 0;
    } else {
      events.push(...(record.events as SequenceEvent[]));
    }
  }
  return { snapshot, events };
}

/**
 * The snapshot a run reached: its events replayed, in order, into the machine with no-op effects
 * (the machine is pure, its guards read only context and event, every event carries its `now`).
 */
function replay(plan: SequencePlan, from: ReplayedSnapshot | null, events: SequenceEvent[], firstStep?: number): ReplayedSnapshot {
  const actor = createActor(sequenceMachine, { input: { plan, firstStep }, ...(from ? { snapshot: from as never } : {}) });
  actor.start();
  for (const event of events) actor.send(event);
  const snapshot = actor.getPersistedSnapshot() as unknown as ReplayedSnapshot;
  actor.stop();
  if ((snapshot as { status?: string }).status === 'error') throw new Error('its journal does not replay');
  return snapshot;
}

/** Stores a run that could not be recovered as failed with 5633, so that history tells why. */
async function storeUnrecoverable(parts: RecoveryParts, stored: UnfinishedRun, error: unknown): Promise<void> {
  const now = Date.now();
  const message = `Run could not be recovered after a restart: ${error instanceof Error ? error.message : String(error)}`;
  const start = (stored.body ?? {}) as Partial<StartBody>;
  const progress: Progress = {
    ...placeholderProgress(stored, start.context ?? null, start.template ?? null),
    status: 'failed',
    state: 'failed',
    completed_at: new Date(now).toISOString(),
    error: message,
    error_code: Codes.STATE_CORRUPTION,
  };
  try {
    await parts.store.commit({
      starts: [],
      records: [],
      ends: [{ run_id: stored.run_id, status: 'failed', ended_at: now, progress: JSON.stringify(progress), ...historyColumns(progress, 'failed', stored.created_at, now) }],
    });
  } catch (writeError) {
    parts.report(writeError, `run ${stored.run_id} could not be stored as failed`);
  }
}
