/**
 * The shapes of the public API the console reads (SPEC 5, 7, 8, 9), as the SPEC states them. Fields
 * that a server may not have yet (`stopping`, `ending_as`, `safe_state`, `node`, ...) are optional:
 * the console shows them when they come.
 */
import type { Progress as ServerProgress, StepResult as ServerStepResult } from '../../../src/domain/progress.ts';

/** Status of a run (SPEC 5). */
export type RunStatus = 'pending' | 'running' | 'paused' | 'stopping' | 'completed' | 'failed' | 'cancelled' | 'timeout';

/** Every status, in the order the filter lists them. */
export const RUN_STATUSES: readonly RunStatus[] = ['pending', 'running', 'paused', 'stopping', 'completed', 'failed', 'cancelled', 'timeout'];

/** Statuses after which nothing changes. */
export const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled', 'timeout']);

/** One step's result; `skipped` for a step whose `when` did not hold (SPEC 2.1). */
export type StepResult = ServerStepResult & { skipped?: boolean };

/**
 * The progress object of SPEC 5: the server's type, plus the fields of SPEC 5 that a server may not
 * send yet (the console shows them when they come).
 */
export type Progress = Omit<ServerProgress, 'status' | 'step_results' | 'cleanup_results' | 'failed_step' | 'ending_as' | 'queued_at' | 'safe_state' | 'safe_state_at' | 'redrive_of'> & {
  status: RunStatus;
  step_results: StepResult[];
  cleanup_results: StepResult[];
  failed_step?: number | null;
  ending_as?: string | null;
  queued_at?: string | null;
  safe_state?: 'not_needed' | 'reached' | 'failed' | null;
  safe_state_at?: string | null;
  redrive_of?: string | null;
  node?: string | null;
};

/** `GET /sequences`. */
export interface RunList {
  sequences: Progress[];
  total: number;
  running: number;
  completed: number;
  failed: number;
}

/** One message of the WebSocket stream (SPEC 8). */
export interface StreamEvent {
  type: string;
  seq: number;
  timestamp: number;
  data: Record<string, unknown> & { sequence_id?: string; run_id?: string };
}

/** The statechart's graph (`GET /statechart`), as the server's `chartGraph` makes it. */
export type { ChartEdge, ChartGraph, ChartNode } from '../../../machines/chart-graph.ts';

/** One actuator as `GET /devices` lists it. */
export interface DeviceActuator {
  gpio: number;
  state: string;
  value: number;
  held_by_run: string | null;
  last_command: string | null;
  updated_at: string | null;
}

/** One node as `GET /devices` lists it (SPEC 7). */
export interface Device {
  esp_id: string;
  online: boolean | null;
  last_seen_at: string | null;
  safe_mode: boolean | null;
  actuators: DeviceActuator[];
}

/** A simulated node (`GET /sim/devices`). */
export interface SimDevice {
  esp_id: string;
  latency_ms: number;
  fail: boolean;
  hang: boolean;
  commands: number;
  actuators: { gpio: number; on: boolean; value: number; last_command: string; updated_at: string }[];
}

/** A sensor's latest reading (`GET /sensors`). */
export interface Sensor {
  esp_id: string;
  gpio: number;
  value: number | null;
  unit: string | null;
  quality: string | null;
  at: string | null;
}

/** A template as `GET /sequence-templates` lists it. */
export interface TemplateSummary {
  name: string;
  version: number;
  description: string | null;
  params: Record<string, ParamSpec>;
}

/** One parameter of a template. */
export interface ParamSpec {
  type: 'string' | 'number' | 'integer' | 'boolean';
  required?: boolean;
  default?: string | number | boolean;
  min?: number;
  max?: number;
  description?: string;
}

/** A problem located by its JSON path. */
export interface ErrorDetail {
  path: string;
  code: number;
  message: string;
}

/** `GET /emergency-stop`, with the history a server may add. */
export interface EmergencyState {
  active: boolean;
  reason: string | null;
  since: string | null;
  history?: { reason: string; at: string }[];
}
