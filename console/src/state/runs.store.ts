/**
 * Every run the page knows, kept up to date by the event stream. Rows come from REST pages and are
 * patched in place by events; events are applied once per animation frame (FrameBatch) and one
 * `version` signal tells the visible parts to draw again, so 500 running runs cost one update per
 * frame, not one per event. Each run's own events are kept (bounded) for its page.
 */
import { signal } from '@preact/signals';
import { openStream, type StreamStatus } from '../api/stream.ts';
import { TERMINAL, type EmergencyState, type Progress, type RunStatus, type StreamEvent } from '../api/types.ts';
import { FrameBatch } from './frame-batch.ts';

/** Events kept per run for its page. */
const EVENTS_PER_RUN = 2000;
/** Runs whose events are kept; the oldest lists are dropped beyond it. */
const RUNS_WITH_EVENTS = 2000;
/** Rows kept; beyond it the oldest ended runs are forgotten (a view reads them again if it needs them). */
const MAX_ROWS = 20_000;

/** Every known run by run_id. Mutated in place; read after `version` changes. */
export const runs = new Map<string, Progress>();
/** Each run's events as they came, by run_id. */
export const runEvents = new Map<string, StreamEvent[]>();
/** How many times each run changed (an event or a REST read): views of one run redraw on a change only. */
export const revisions = new Map<string, number>();

const touch = (runId: string): void => {
  revisions.set(runId, (revisions.get(runId) ?? 0) + 1);
};
/** One more after every batch of events applied. */
export const version = signal(0);
/** The stream's connection state. */
export const streamStatus = signal<StreamStatus>('connecting');
/** The emergency-stop latch as last reported. */
export const emergency = signal<EmergencyState>({ active: false, reason: null, since: null });
/** Emergency stops and clears seen by this page, newest first. */
export const emergencyLog = signal<{ active: boolean; reason: string | null; at: string }[]>([]);
/** Alerts (safety, device) and notifications seen by this page, newest first, at most 50. */
export const alerts = signal<StreamEvent[]>([]);
/** Actuators this page saw confirmed OFF (`esp_id:gpio` → Unix ms): a safety alert before that is settled. */
export const confirmedOff = signal<ReadonlyMap<string, number>>(new Map());

/** The actuators whose latest safety alert (not confirmed OFF) no OFF has settled since, newest first. */
export function unconfirmedActuators(): { esp_id: string; gpio: number; message: string }[] {
  const seen = new Map<string, { esp_id: string; gpio: number; message: string }>();
  for (const alert of alerts.value) {
    if (alert.type !== 'safety_alert') continue;
    const key = `${String(alert.data.esp_id)}:${String(alert.data.gpio)}`;
    if (seen.has(key) || (confirmedOff.value.get(key) ?? 0) >= alert.timestamp * 1000) continue;
    seen.set(key, { esp_id: String(alert.data.esp_id), gpio: Number(alert.data.gpio), message: String(alert.data.message ?? '') });
  }
  return [...seen.values()];
}

/** Hears every batch of events after it was applied (list views insert new runs, pages reload). */
type BatchListener = (events: StreamEvent[]) => void;
const listeners = new Set<BatchListener>();

/** Calls `listener` after each applied batch; returns the unsubscribe function. */
export function onBatch(listener: BatchListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Listeners told when the server restarted (its seq began again): they reload from REST. */
const restartListeners = new Set<() => void>();

/** Calls `listener` after a server restart; returns the unsubscribe function. */
export function onRestart(listener: () => void): () => void {
  restartListeners.add(listener);
  return () => restartListeners.delete(listener);
}

/** Stores rows read over REST (the newest truth), keeping the objects other views hold. */
export function remember(list: Progress[]): Progress[] {
  return list.map((progress) => {
    touch(progress.run_id);
    const known = runs.get(progress.run_id);
    if (!known) {
      runs.set(progress.run_id, progress);
      return progress;
    }
    // An ended run stays ended: a REST page read before its end must not bring it back.
    if (TERMINAL.has(known.status) && !TERMINAL.has(progress.status)) return known;
    Object.assign(known, progress);
    return known;
  });
}

const iso = (timestamp: number): string => new Date(timestamp * 1000).toISOString();

/** Applies one event to its run's row (created by `sequence_started`). */
function apply(event: StreamEvent): void {
  const data = event.data;
  if (event.type === 'emergency_stop') {
    const active = Boolean(data.active);
    const reason = (data.reason as string | null) ?? null;
    emergency.value = { ...emergency.value, active, reason: active ? (emergency.value.active ? emergency.value.reason : reason) : null, since: iso(event.timestamp) };
    emergencyLog.value = [{ active, reason, at: iso(event.timestamp) }, ...emergencyLog.value].slice(0, 50);
    return;
  }
  if (event.type === 'safety_alert' || event.type === 'device_alert' || event.type === 'notification') {
    alerts.value = [event, ...alerts.value].slice(0, 50);
  }
  const runId = data.run_id;
  if (!runId) return;
  touch(runId);
  keepEvent(runId, event);
  let row = runs.get(runId);
  if (event.type === 'sequence_started' && !row) {
    row = startedRow(event);
    runs.set(runId, row);
  }
  if (!row) return;
  const ended = TERMINAL.has(row.status);
  switch (event.type) {
    case 'sequence_state':
      if (ended && data.status !== undefined && !TERMINAL.has(String(data.status))) break;
      row.state = String(data.state);
      if (typeof data.current_step === 'number') row.current_step = data.current_step;
      if (typeof data.status === 'string') row.status = data.status as RunStatus;
      break;
    case 'sequence_step':
      if (ended) break;
      if (data.phase === 'cleanup') break;
      row.current_step = Number(data.step);
      row.current_step_name = String(data.step_name);
      if (typeof data.total_steps === 'number') row.total_steps = data.total_steps;
      if (typeof data.progress_percent === 'number') row.progress_percent = data.progress_percent;
      break;
    case 'sequence_paused':
      if (!ended) row.status = 'paused';
      break;
    case 'sequence_resumed':
      if (!ended) row.status = 'running';
      break;
    case 'sequence_stopping':
      if (!ended) {
        row.status = 'stopping';
        row.ending_as = (data.ending_as as string) ?? null;
      }
      break;
    case 'sequence_error':
      row.error = String(data.message);
      row.error_code = Number(data.error_code);
      break;
    case 'sequence_cancelled':
      row.error ??= `Cancelled: ${String(data.reason)}`;
      break;
    case 'sequence_completed':
      row.status = data.status as RunStatus;
      row.completed_at = iso(event.timestamp);
      row.duration_seconds = Number(data.duration_seconds);
      row.error = (data.error as string | null) ?? null;
      row.error_code = (data.error_code as number | null) ?? null;
      if (data.status === 'completed') row.progress_percent = 100;
      break;
  }
}

function startedRow(event: StreamEvent): Progress {
  const data = event.data;
  const rule = { rule_id: (data.rule_id as string | null) ?? null, rule_name: (data.rule_name as string | null) ?? null };
  return {
    sequence_id: String(data.sequence_id),
    run_id: String(data.run_id),
    ...rule,
    description: (data.description as string | null) ?? null,
    status: 'running',
    state: 'running',
    current_step: 0,
    total_steps: Number(data.total_steps ?? 0),
    progress_percent: 0,
    current_step_name: null,
    started_at: iso(event.timestamp),
    completed_at: null,
    duration_seconds: null,
    estimated_completion: null,
    step_results: [],
    cleanup_results: [],
    error: null,
    error_code: null,
    context: { ...rule, triggered_by: null, trigger_data: null },
    mode: String(data.mode ?? 'single'),
    template: null,
    node: (data.node as string | undefined) ?? null,
  };
}

function keepEvent(runId: string, event: StreamEvent): void {
  let list = runEvents.get(runId);
  if (!list) {
    list = [];
    runEvents.set(runId, list);
    if (runEvents.size > RUNS_WITH_EVENTS) runEvents.delete(runEvents.keys().next().value as string);
  }
  list.push(event);
  if (list.length > EVENTS_PER_RUN) list.splice(0, list.length - EVENTS_PER_RUN);
}

/** Forgets up to `count` ended runs, oldest known first, so a page left open for days stays small. */
function forgetEnded(count: number): void {
  for (const [runId, row] of runs) {
    if (count <= 0) return;
    if (!TERMINAL.has(row.status)) continue;
    runs.delete(runId);
    runEvents.delete(runId);
    revisions.delete(runId);
    count--;
  }
}

/** Time spent applying batches, for the benchmark (`window.__consoleStats`). */
const stats = { batches: 0, events: 0, ms: 0 };
(globalThis as { __consoleStats?: typeof stats }).__consoleStats = stats;

const batch = new FrameBatch<StreamEvent>((events) => {
  const started = performance.now();
  for (const event of events) apply(event);
  if (runs.size > MAX_ROWS) forgetEnded(runs.size - MAX_ROWS * 0.75);
  for (const listener of listeners) listener(events);
  version.value++;
  stats.batches++;
  stats.events += events.length;
  stats.ms += performance.now() - started;
});

let stop: (() => void) | null = null;

/** Opens the stream (everything the server buffered, then live); idempotent. */
export function startStream(): void {
  if (stop) return;
  stop = openStream({
    since: 0,
    onEvent: (event) => batch.push(event),
    onStatus: (status) => {
      streamStatus.value = status;
    },
    onRestart: () => {
      for (const listener of restartListeners) listener();
    },
  });
}

/** Closes the stream (a new token needs a new connection). */
export function stopStream(): void {
  stop?.();
  stop = null;
}
