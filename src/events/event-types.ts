/**
 * The typed map of events on the wire (SPEC section 8): event name -> payload. The engine is the
 * single source of these events; the WebSocket stream only forwards them.
 */
import type { EndingAs, RunStatus } from '../domain/progress.ts';

/** Identifies the run an event is about. */
export interface RunRef {
  sequence_id: string;
  run_id: string;
}

/** The `data` of every event type of SPEC 8, by type. */
export interface SequenceEvents {
  /** A run has started (first event of every run). */
  sequence_started: RunRef & { total_steps: number; description: string | null; rule_id: string | null; rule_name: string | null; mode: string };
  /** Every transition of a run's statechart. */
  sequence_state: RunRef & { state: string; previous_state: string; event: string; current_step: number; status: RunStatus };
  /** A step is starting, completed, failed, about to be retried, waiting for its condition, or skipped (its `when` did not hold). */
  sequence_step: RunRef & {
    status: 'starting' | 'completed' | 'failed' | 'retrying' | 'waiting' | 'skipped';
    phase: 'steps' | 'cleanup';
    step: number;
    step_name: string;
    total_steps: number;
    progress_percent: number;
    success: boolean | null;
    message: string;
    duration_ms: number | null;
    error_code: number | null;
    attempt: number;
  };
  /** A run was paused. */
  sequence_paused: RunRef & { current_step: number };
  /** A paused run goes on. */
  sequence_resumed: RunRef & { current_step: number };
  /** A run was cancelled (its cleanup follows). */
  sequence_cancelled: RunRef & { reason: string };
  /** A run failed or timed out (its cleanup follows). */
  sequence_error: RunRef & { error_code: number; message: string };
  /**
   * A run has ended badly and is `stopping`: its cleanup steps and safe state run now, and it ends
   * `ending_as` once they are done. `reason`: the cancel reason, or the error.
   */
  sequence_stopping: RunRef & { ending_as: EndingAs; reason: string };
  /** A run ended, whatever its status; always its last event. */
  sequence_completed: RunRef & {
    status: RunStatus;
    success: boolean;
    duration_seconds: number;
    steps_completed: number;
    steps_failed: number;
    error: string | null;
    error_code: number | null;
  };
  /** A run received a signal (SPEC 7 `POST /sequences/{id}/signal`). */
  sequence_signal: RunRef & { name: string; data: unknown };
  /** A `notification` action with the websocket channel. */
  notification: Partial<RunRef> & { title: string; message: string; severity: 'info' | 'warning' | 'critical'; step_name: string | null };
  /** The emergency stop was tripped or cleared. */
  emergency_stop: { active: boolean; reason: string | null; runs_cancelled: number; actuators_off: number };
  /**
   * A node reported an alert (`type` as the firmware says: `emergency_stop`, `runtime_protection`,
   * `overrun`, `fault`, ...), entered `safe_mode`, reported a `status_mismatch`, or went `offline`
   * / came back `online` (SPEC 9). `gpio` is null for the whole node.
   */
  device_alert: { esp_id: string; gpio: number | null; type: string; message: string };
  /** A node joined the cluster (SPEC 14): it started, or was heard again after it was lost. */
  node_joined: { node_id: string };
  /**
   * A node of the cluster has not sent a heartbeat for `silent_seconds` (SPEC 14): it is lost,
   * and the others take over its runs once their leases expire. Sent by exactly one node.
   */
  node_lost: { node_id: string; silent_seconds: number };
  /**
   * The safe state of a run could not confirm an actuator OFF within
   * `safety.safe_state_timeout_seconds` (SPEC 10): it may still be on, and its lease stays with
   * the run until an OFF succeeds. One per actuator; always code 5643.
   */
  safety_alert: RunRef & { esp_id: string; gpio: number; error_code: number; message: string };
}

/** Name of an event on the wire. */
export type EventType = keyof SequenceEvents;

/** Every event type, for schema and filter validation. */
export const EVENT_TYPES: readonly EventType[] = [
  'sequence_started',
  'sequence_state',
  'sequence_step',
  'sequence_paused',
  'sequence_resumed',
  'sequence_cancelled',
  'sequence_error',
  'sequence_stopping',
  'sequence_completed',
  'sequence_signal',
  'notification',
  'emergency_stop',
  'device_alert',
  'node_joined',
  'node_lost',
  'safety_alert',
];

/** An event before the stream numbers it: `at` is when it happened, Unix ms. */
export interface PendingEvent<T extends EventType = EventType> {
  type: T;
  data: SequenceEvents[T];
  at: number;
}

/** The run an event is about; null for an event about no run (emergency stop, a device, a node). */
export function runIdOf(event: { data: unknown }): string | null {
  const runId = (event.data as { run_id?: unknown }).run_id;
  return typeof runId === 'string' ? runId : null;
}

/** The envelope of every message on the stream. */
export interface EventEnvelope<T extends EventType = EventType> {
  type: T;
  /** Per-server counter, one more for every event. */
  seq: number;
  /** Unix seconds with a millisecond fraction: when the event happened. */
  timestamp: number;
  data: SequenceEvents[T];
  correlation_id?: string;
}
