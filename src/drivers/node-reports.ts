/**
 * What nodes publish unasked (actuator status, alerts, safe mode, heartbeats, last wills, sensor
 * readings), parsed as the firmware document says and fed to the node tracker; the device alerts
 * and presence changes that follow go out through two hooks. Sensor readings only count as signs
 * of life here: closed-loop steps read them elsewhere.
 */
import type { Presence } from './actuator-driver.ts';
import {
  AlertPayloadSchema,
  HeartbeatPayloadSchema,
  NodeStatusPayloadSchema,
  parsePayload,
  SafeModePayloadSchema,
  SensorBatchPayloadSchema,
  SensorDataPayloadSchema,
  StatusPayloadSchema,
} from './firmware-payloads.ts';
import type { ParsedTopic } from './mqtt-topics.ts';
import { NodeTracker, type DeviceAlert, type NodeTrackerOptions } from './node-tracker.ts';

/** Where the reports' consequences go. */
export interface NodeReportsHooks {
  /** A device alert (SPEC 8 `device_alert`). */
  alert(alert: DeviceAlert): void;
  /** A node's presence changed. */
  presence(espId: string, presence: Presence): void;
}

/** The node tracker behind the topics nodes report on. */
export class NodeReports {
  readonly tracker: NodeTracker;
  readonly #hooks: NodeReportsHooks;

  /** Reports into a fresh tracker. */
  constructor(options: NodeTrackerOptions, hooks: NodeReportsHooks) {
    this.tracker = new NodeTracker(options);
    this.#hooks = hooks;
  }

  /**
   * Takes one message from a node (any kind: an answer is a sign of life too, though it is paired
   * with its command elsewhere). `inFlight`: one of our commands waits on that actuator, so its
   * status may be ahead of the answer. False when the payload does not follow the document.
   */
  handle(topic: ParsedTopic, payload: Buffer, now: number, inFlight: boolean): boolean {
    const before = this.tracker.presence(topic.espId, now);
    const understood = this.#apply(topic, payload, now, inFlight);
    const after = this.tracker.presence(topic.espId, now);
    if (after !== before) this.#hooks.presence(topic.espId, after);
    return understood;
  }

  /** Reports every node that went silent since the last sweep. */
  sweep(now: number): void {
    for (const alert of this.tracker.sweep(now)) {
      this.#hooks.presence(alert.esp_id, 'offline');
      this.#emit(alert);
    }
  }

  #apply({ kind, espId, gpio }: ParsedTopic, payload: Buffer, now: number, inFlight: boolean): boolean {
    const tracker = this.tracker;
    switch (kind) {
      case 'heartbeat':
        if (!parsePayload(HeartbeatPayloadSchema, payload)) return false;
        this.#emit(tracker.heartbeat(espId, now));
        return true;
      case 'node_status': {
        const report = parsePayload(NodeStatusPayloadSchema, payload);
        if (!report) return false;
        this.#emit(report.status === 'offline' ? tracker.lastWill(espId, report.reason) : tracker.seen(espId, now));
        return true;
      }
      case 'status': {
        const status = parsePayload(StatusPayloadSchema, payload);
        if (!status) return false;
        this.#emit(tracker.seen(espId, now));
        this.#emit(tracker.status(espId, gpio as number, status, now, inFlight));
        return true;
      }
      case 'alert': {
        const alert = parsePayload(AlertPayloadSchema, payload);
        if (!alert) return false;
        this.#emit(tracker.seen(espId, now));
        this.#emit(tracker.alert(espId, alert));
        return true;
      }
      case 'safe_mode': {
        const report = parsePayload(SafeModePayloadSchema, payload);
        if (!report) return false;
        this.#emit(tracker.seen(espId, now));
        this.#emit(tracker.safeMode(espId, report));
        return true;
      }
      case 'sensor_data':
      case 'sensor_batch':
        if (!(kind === 'sensor_data' ? parsePayload(SensorDataPayloadSchema, payload) : parsePayload(SensorBatchPayloadSchema, payload))) return false;
        this.#emit(tracker.seen(espId, now));
        return true;
      case 'response':
        this.#emit(tracker.seen(espId, now));
        return true;
    }
  }

  #emit(alert: DeviceAlert | null): void {
    if (alert) this.#hooks.alert(alert);
  }
}
