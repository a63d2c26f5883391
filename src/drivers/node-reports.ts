/**
 * What nodes publish unasked (actuator status, alerts, safe mode, heartbeats, last wills, sensor
 * readings), parsed as the firmware document says and fed to the node tracker; the device alerts
 * and presence changes that follow go out through hooks. Sensor readings are signs of life and go
 * out as readings (SPEC 9.1) for the sensor table.
 */
import type { Reading } from '../conditions/evaluate-condition.ts';
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
  /** A sensor reading (SPEC 9.1), one per sensor of a batch. */
  reading(reading: Reading): void;
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
      case 'sensor_data': {
        const data = parsePayload(SensorDataPayloadSchema, payload);
        if (!data) return false;
        this.#emit(tracker.seen(espId, now));
        const value = (data.value ?? data.raw ?? data.raw_value) as number;
        this.#hooks.reading({ esp_id: espId, gpio: gpio as number, value, unit: data.unit ?? null, quality: data.quality ?? null, at: readingTime(data.ts ?? data.timestamp, now) });
        return true;
      }
      case 'sensor_batch': {
        const batch = parsePayload(SensorBatchPayloadSchema, payload);
        if (!batch) return false;
        this.#emit(tracker.seen(espId, now));
        const at = readingTime(batch.ts, now);
        for (const s of batch.sensors) this.#hooks.reading({ esp_id: espId, gpio: s.gpio, value: s.value, unit: s.unit ?? null, quality: s.quality ?? null, at });
        return true;
      }
      case 'response':
        this.#emit(tracker.seen(espId, now));
        return true;
    }
  }

  #emit(alert: DeviceAlert | null): void {
    if (alert) this.#hooks.alert(alert);
  }
}

/** A node's clock may be wrong (no NTP yet): a time more than a day old or a minute ahead is not believed. */
const BELIEVED_PAST_MS = 86_400_000;
const BELIEVED_AHEAD_MS = 60_000;

/**
 * When a reading was taken, in Unix ms: the payload's `ts` (Unix seconds, or ms when that large)
 * when it is believable, never later than its arrival; else its arrival. Staleness counts from it.
 */
export function readingTime(ts: number | undefined, now: number): number {
  if (ts === undefined) return now;
  const ms = ts > 1e11 ? ts : ts * 1000;
  if (ms > now + BELIEVED_AHEAD_MS || ms < now - BELIEVED_PAST_MS) return now;
  return Math.min(ms, now);
}
