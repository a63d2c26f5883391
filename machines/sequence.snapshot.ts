/**
 * Reading and upgrading persisted snapshots of the sequence machine. A snapshot stored by an older
 * chart is brought to the current one before XState restores it, so every run stored unfinished
 * still recovers after an upgrade.
 */
import { MachineCodes } from './sequence.guards.ts';

/** The id of the history state RESUME returns to (`running.history`). */
const HISTORY_ID = 'sequence.running.history';
const PREFIX = 'sequence.running.';

/** The parts of a snapshot these functions read. */
interface SnapshotLike {
  value?: unknown;
  historyValue?: Record<string, readonly { id: string }[]> | null;
}

/** Where a paused run resumes: the `running` substate its history keeps; null when not paused. */
export function resumeTarget(snapshot: SnapshotLike): string | null {
  if (!isPaused(snapshot.value)) return null;
  const id = snapshot.historyValue?.[HISTORY_ID]?.[0]?.id;
  return id?.startsWith(PREFIX) ? id.slice(PREFIX.length) : null;
}

/** A persisted snapshot as the store keeps it (JSON). */
export interface PersistedSnapshot {
  value?: unknown;
  context?: Record<string, unknown> | null;
  historyValue?: Record<string, { id: string }[]>;
  [key: string]: unknown;
}

/**
 * Upgrades a persisted snapshot stored by an older chart. Before the chart became the logic
 * (schema v4 and earlier) its context named the substate a paused run returns to (`resumeTo`),
 * which the chart's history state now keeps, and it did not say whether an attempt's answer was
 * awaited; before closed-loop steps it had no signals and no hold; before a pause could turn
 * outputs off, `paused` had no substates; before the context was kept small, a pause's and an
 * early end's fields were not grouped. Returns the snapshot itself when it needs nothing.
 */
export function upgradeSnapshot<T extends PersistedSnapshot>(snapshot: T): T {
  return upgradeGroups(upgradeSignals(upgradePause(upgradeChart(snapshot))));
}

/** Before closed-loop steps, a run had no signals and no hold. */
function upgradeSignals<T extends PersistedSnapshot>(snapshot: T): T {
  const context = snapshot.context;
  if (!context || 'signals' in context) return snapshot;
  return { ...snapshot, context: { ...context, signals: [], hold: null } };
}

/**
 * Before the context kept at most 19 fields (see `SequenceContext`), what a pause keeps and how an
 * early end ends stood at its top, beside `runDeadline` (now its start plus the maximum duration)
 * and an unused `depth`: they move into `pause` and `end`.
 */
function upgradeGroups<T extends PersistedSnapshot>(snapshot: T): T {
  const context = snapshot.context;
  if (!context || 'end' in context) return snapshot;
  const { outcome, error, errorCode, remainingMs, held, restartAttempt, pausedOutputs, runDeadline, depth, ...rest } = context;
  const pause = isPaused(snapshot.value) ? { remainingMs: remainingMs ?? null, held: held ?? null, restartAttempt: restartAttempt === true, outputs: pausedOutputs ?? null } : null;
  const end = typeof outcome === 'string' ? { outcome, message: typeof error === 'string' ? error : '', code: typeof errorCode === 'number' ? errorCode : MachineCodes.STEP_FAILED } : null;
  return { ...snapshot, context: { ...rest, pause, end } };
}

/** Before a pause could turn outputs off, `paused` had no substates: it left them as they were. */
function upgradePause<T extends PersistedSnapshot>(snapshot: T): T {
  const context = snapshot.context;
  if (!context || 'pausedOutputs' in context) return snapshot;
  return { ...snapshot, value: snapshot.value === 'paused' ? { paused: 'held' } : snapshot.value, context: { ...context, pausedOutputs: null } };
}

/** `paused`, or one of its substates. */
function isPaused(value: unknown): boolean {
  return value === 'paused' || (typeof value === 'object' && value !== null && 'paused' in value);
}

function upgradeChart<T extends PersistedSnapshot>(snapshot: T): T {
  const context = snapshot.context;
  if (!context || 'awaitingAnswer' in context) return snapshot;
  const { resumeTo, ...rest } = context as { resumeTo?: unknown } & Record<string, unknown>;
  const paused = snapshot.value === 'paused' && typeof resumeTo === 'string';
  const executing = isExecuting(snapshot.value) || (paused && resumeTo === 'executing');
  return {
    ...snapshot,
    context: { ...rest, awaitingAnswer: executing },
    historyValue: paused ? { ...snapshot.historyValue, [HISTORY_ID]: [{ id: `${PREFIX}${resumeTo}` }] } : (snapshot.historyValue ?? {}),
  };
}

/** `running.executing` or `cleanup.executing`: an attempt was in flight. */
function isExecuting(value: unknown): boolean {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return v.running === 'executing' || v.cleanup === 'executing';
}
