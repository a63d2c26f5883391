/**
 * What a safe state (or an emergency stop) achieved, as people read it: the Safe state step's
 * message (5643 when an OFF was not confirmed), the `safety_alert` events, the emergency stop's
 * `actuators_failed` lines.
 */
import { Codes, SequencerError } from '../domain/errors.ts';
import { NOTHING_HELD } from '../engine/plan.ts';
import type { RunRef, SequenceEvents } from '../events/event-types.ts';

/** An OFF the device did not confirm: the actuator (`esp:gpio` and its parts) and why. */
export interface FailedOff {
  key: string;
  esp_id: string;
  gpio: number;
  message: string;
}

/** What turning actuators OFF achieved. */
export interface OffReport {
  off: string[];
  failed: FailedOff[];
}

/** `esp:gpio: why`, for messages and the emergency stop's answer. */
export const failedText = (failure: FailedOff): string => `${failure.key}: ${failure.message}`;

/** The safe-state step's message: what was turned off, and what could not be confirmed OFF. */
export function safeStateMessage(report: OffReport): string {
  if (report.off.length === 0 && report.failed.length === 0) return NOTHING_HELD;
  const off = report.off.length > 0 ? `Turned off ${report.off.join(', ')}` : '';
  if (report.failed.length === 0) return off;
  const failed = `could not confirm OFF: ${report.failed.map(failedText).join('; ')}`;
  throw new SequencerError(Codes.SAFE_STATE_FAILED, off ? `${off}; ${failed}` : failed.charAt(0).toUpperCase() + failed.slice(1));
}

/** The `safety_alert` events of a safe state's report about run `ref`: one per actuator not confirmed OFF. */
export function safetyAlerts(report: OffReport, ref: RunRef): SequenceEvents['safety_alert'][] {
  return report.failed.map(({ key, esp_id, gpio, message }) => ({
    ...ref,
    esp_id,
    gpio,
    error_code: Codes.SAFE_STATE_FAILED,
    message: `${key} could not be confirmed OFF: ${message}`,
  }));
}
