/**
 * What a node reports unasked reaches the runs (SPEC 9): every device alert becomes a
 * `device_alert` event, and the run holding an actuator the alert concerns (an alert, the node
 * entering safe mode, a status contradicting what it was told) gets its current step failed with
 * 5614 and the node's message; its cleanup and safe state follow as for any failure.
 */
import { Codes } from '../domain/errors.ts';
import type { DeviceAlert } from '../drivers/node-tracker.ts';
import type { EventBus } from '../events/event-bus.ts';
import { leaseKey, type LeaseTable } from './lease-table.ts';

/** What the watcher needs of the engine. */
export interface FaultTarget {
  readonly events: EventBus;
  /** Fails the run's step in flight and ends it failed; false when the run is not running. */
  fault(runId: string, code: number, message: string): boolean;
}

/** Handles one device alert: publishes it, and fails every run holding an actuator it concerns. Returns the runs failed. */
export function applyDeviceAlert(alert: DeviceAlert, leases: LeaseTable, engine: FaultTarget, now = Date.now()): string[] {
  const { esp_id, gpio, type, message } = alert;
  engine.events.publish('device_alert', { esp_id, gpio, type, message }, now);
  const failed: string[] = [];
  for (const pin of alert.affects) {
    const holder = leases.holderOf(leaseKey(esp_id, pin));
    // A run holding two actuators of a node in safe mode fails once.
    if (!holder || failed.includes(holder.runId)) continue;
    if (engine.fault(holder.runId, Codes.STEP_FAILED, `Device alert: ${message}`)) failed.push(holder.runId);
  }
  return failed;
}
