/**
 * What the MQTT driver knows about each node (SPEC 9): when it was last heard, whether it is in
 * safe mode, each actuator's last reported status and the state its last accepted command left
 * it in. From that it tells presence (offline after `missedHeartbeats` intervals without a word),
 * and turns what a node reports into `DeviceAlert`s: alerts, entering safe mode, a status that
 * contradicts what it was told, going offline. It holds no timer and does no I/O: the driver
 * feeds it messages and the time, and sweeps it from one timer for all nodes.
 */
import type { ActuatorCommand, ActuatorReport, NodeReport, Presence } from './actuator-driver.ts';
import { NODE_WIDE_GPIO, statusIsOn, statusValue, type AlertPayload, type SafeModePayload, type StatusPayload } from './firmware-payloads.ts';

/** Something a node reported that operators should see (SPEC 8 `device_alert`). */
export interface DeviceAlert {
  esp_id: string;
  /** The actuator it is about; null for the whole node. */
  gpio: number | null;
  /** The firmware's alert type, or `safe_mode`, `status_mismatch`, `offline`, `online`. */
  type: string;
  message: string;
  /** The gpios whose holding run must fail because of it (empty: only reported). */
  affects: number[];
}

/** Options of the tracker. */
export interface NodeTrackerOptions {
  /** The firmware's heartbeat interval. */
  heartbeatIntervalMs: number;
  /** Heartbeats missed before a node counts as offline. */
  missedHeartbeats: number;
}

/** The state an accepted command left an actuator in; `on: null` when it cannot be known (TOGGLE of an unknown state). */
interface Expectation {
  on: boolean | null;
  /** The duty 0..1 the command set. */
  value: number;
  sentAt: number;
  /** The firmware switches it off by itself after this long (0: never). */
  durationMs: number;
}

interface ActuatorRecord {
  reportedOn: boolean | null;
  reportedValue: number | null;
  emergency: string | null;
  lastCommand: string | null;
  updatedAt: number | null;
  expected: Expectation | null;
}

interface NodeRecord {
  lastSeen: number | null;
  /** Presence is only told for nodes that sent a heartbeat (or a last will) at least once. */
  tracked: boolean;
  /** The broker published the node's last will: offline until it is heard again. */
  lastWill: boolean;
  offlineReported: boolean;
  safeMode: boolean;
  safeModeReason: string | null;
  actuators: Map<number, ActuatorRecord>;
}

/** Per-node state of the nodes an MQTT driver talks to. */
export class NodeTracker {
  readonly #nodes = new Map<string, NodeRecord>();
  readonly #offlineAfterMs: number;
  readonly #options: NodeTrackerOptions;

  /** A tracker that knows no node yet. */
  constructor(options: NodeTrackerOptions) {
    this.#options = options;
    this.#offlineAfterMs = options.heartbeatIntervalMs * options.missedHeartbeats;
  }

  /** Whether `espId` is online, offline, or unknown (never sent a heartbeat). */
  presence(espId: string, now: number): Presence {
    const node = this.#nodes.get(espId);
    if (!node?.tracked) return 'unknown';
    if (node.lastWill || node.lastSeen === null) return 'offline';
    return now - node.lastSeen > this.#offlineAfterMs ? 'offline' : 'online';
  }

  /** Why a node is offline, for the message of a command refused because of it. */
  offlineReason(espId: string, now: number): string {
    const node = this.#nodes.get(espId);
    if (node?.lastWill) return 'the broker published its last will (connection lost)';
    const silent = node?.lastSeen == null ? 'ever' : `${formatSeconds(now - node.lastSeen)}`;
    const { missedHeartbeats, heartbeatIntervalMs } = this.#options;
    return `no word from it for ${silent} (${missedHeartbeats} heartbeats missed at ${formatSeconds(heartbeatIntervalMs)})`;
  }

  /** Any message from the node: it is alive. Returns the `online` alert of a node reported offline. */
  seen(espId: string, now: number): DeviceAlert | null {
    const node = this.#node(espId);
    node.lastSeen = now;
    node.lastWill = false;
    if (!node.offlineReported) return null;
    node.offlineReported = false;
    return { esp_id: espId, gpio: null, type: 'online', message: `${espId} is online again`, affects: [] };
  }

  /** A heartbeat: from now on the node's presence is told. */
  heartbeat(espId: string, now: number): DeviceAlert | null {
    this.#node(espId).tracked = true;
    return this.seen(espId, now);
  }

  /** The broker published the node's last will: it is offline at once. */
  lastWill(espId: string, reason: string | undefined): DeviceAlert | null {
    const node = this.#node(espId);
    node.tracked = true;
    node.lastWill = true;
    if (node.offlineReported) return null;
    node.offlineReported = true;
    const why = reason ? ` (${reason})` : '';
    return { esp_id: espId, gpio: null, type: 'offline', message: `${espId} is offline: the broker published its last will${why}`, affects: [] };
  }

  /**
   * An actuator status. While none of our commands to it is in flight, a state other than the
   * one its last accepted command left it in is a `status_mismatch` (reported once, then taken as
   * the new state), except an OFF after the command's own `duration` ran out.
   */
  status(espId: string, gpio: number, status: StatusPayload, now: number, inFlight: boolean): DeviceAlert | null {
    const actuator = this.#actuator(espId, gpio);
    const on = statusIsOn(status);
    Object.assign(actuator, { reportedOn: on, reportedValue: statusValue(status), emergency: status.emergency ?? null, updatedAt: now });
    const expected = actuator.expected;
    if (inFlight || expected === null || expected.on === null || expected.on === on) return null;
    expected.on = on;
    if (!on && expected.durationMs > 0 && now >= expected.sentAt + expected.durationMs) return null;
    const emergency = status.emergency && status.emergency !== 'normal' ? ` (emergency: ${status.emergency})` : '';
    const message = `${espId} reports gpio ${gpio} ${on ? 'ON' : 'OFF'}${emergency}, but it was told ${on ? 'OFF' : 'ON'}`;
    return { esp_id: espId, gpio, type: 'status_mismatch', message, affects: [gpio] };
  }

  /** An actuator alert; one about the whole node (gpio 255) concerns every actuator it has. */
  alert(espId: string, alert: AlertPayload): DeviceAlert {
    const type = (alert.type ?? alert.alert_type) as string;
    const nodeWide = alert.gpio === NODE_WIDE_GPIO;
    const where = nodeWide ? espId : `${espId} gpio ${alert.gpio}`;
    const message = `${where}: ${type}${alert.message ? `: ${alert.message}` : ''}`;
    const affects = nodeWide ? this.#gpios(espId) : [alert.gpio];
    if (!nodeWide) this.#actuator(espId, alert.gpio);
    return { esp_id: espId, gpio: nodeWide ? null : alert.gpio, type, message, affects };
  }

  /** A safe-mode report; entering safe mode concerns every actuator of the node. */
  safeMode(espId: string, report: SafeModePayload): DeviceAlert | null {
    const node = this.#node(espId);
    const entered = report.safe_mode_active && !node.safeMode;
    node.safeMode = report.safe_mode_active;
    node.safeModeReason = report.safe_mode_active ? (report.reason ?? null) : null;
    if (!entered) return null;
    const message = `${espId} entered safe mode${report.reason ? `: ${report.reason}` : ''}`;
    return { esp_id: espId, gpio: null, type: 'safe_mode', message, affects: this.#gpios(espId) };
  }

  /** A command is being sent. */
  commandSent(command: ActuatorCommand, now: number): void {
    Object.assign(this.#actuator(command.esp_id, command.gpio), { lastCommand: command.command, updatedAt: now });
  }

  /** The node accepted a command sent at `sentAt`: its actuator is now as the command says. */
  commandAccepted(command: ActuatorCommand, sentAt: number): void {
    const actuator = this.#actuator(command.esp_id, command.gpio);
    const before = actuator.expected?.on ?? actuator.reportedOn;
    const on =
      command.command === 'TOGGLE' ? (before === null ? null : !before) : command.command === 'ON' || (command.command === 'PWM' && command.value > 0);
    const value = command.command === 'PWM' ? command.value : on ? 1 : 0;
    actuator.expected = { on, value, sentAt, durationMs: on === true ? command.duration_seconds * 1000 : 0 };
  }

  /** A command got no answer (timeout, abort, lost connection): the device may or may not have applied it. */
  commandLost(command: ActuatorCommand): void {
    this.#actuator(command.esp_id, command.gpio).expected = null;
  }

  /** Whether the node's last report says this actuator is off (an OFF it refused is then still done). */
  reportedOff(espId: string, gpio: number): boolean {
    return this.#nodes.get(espId)?.actuators.get(gpio)?.reportedOn === false;
  }

  /** The `offline` alerts of nodes that went silent since the last sweep. */
  sweep(now: number): DeviceAlert[] {
    const alerts: DeviceAlert[] = [];
    for (const [espId, node] of this.#nodes) {
      if (node.offlineReported || this.presence(espId, now) !== 'offline') continue;
      node.offlineReported = true;
      alerts.push({ esp_id: espId, gpio: null, type: 'offline', message: `${espId} is offline: ${this.offlineReason(espId, now)}`, affects: [] });
    }
    return alerts;
  }

  /** The esp_ids of every node heard from or commanded. */
  nodeIds(): string[] {
    return [...this.#nodes.keys()];
  }

  /** Every known node as `GET /devices` shows it. */
  reports(now: number): NodeReport[] {
    return [...this.#nodes.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([espId, node]) => ({
        esp_id: espId,
        presence: this.presence(espId, now),
        last_seen_at: node.lastSeen,
        safe_mode: node.safeMode,
        safe_mode_reason: node.safeModeReason,
        actuators: [...node.actuators.entries()].sort(([a], [b]) => a - b).map(([gpio, a]) => actuatorReport(gpio, a)),
      }));
  }

  #gpios(espId: string): number[] {
    return [...(this.#nodes.get(espId)?.actuators.keys() ?? [])];
  }

  #node(espId: string): NodeRecord {
    let node = this.#nodes.get(espId);
    if (!node) {
      node = { lastSeen: null, tracked: false, lastWill: false, offlineReported: false, safeMode: false, safeModeReason: null, actuators: new Map() };
      this.#nodes.set(espId, node);
    }
    return node;
  }

  #actuator(espId: string, gpio: number): ActuatorRecord {
    const node = this.#node(espId);
    let actuator = node.actuators.get(gpio);
    if (!actuator) {
      actuator = { reportedOn: null, reportedValue: null, emergency: null, lastCommand: null, updatedAt: null, expected: null };
      node.actuators.set(gpio, actuator);
    }
    return actuator;
  }
}

function actuatorReport(gpio: number, a: ActuatorRecord): ActuatorReport {
  const on = a.reportedOn ?? a.expected?.on ?? null;
  const value = a.reportedOn !== null ? a.reportedValue : on === null ? null : (a.expected?.value ?? null);
  return { gpio, state: on === null ? 'UNKNOWN' : on ? 'ON' : 'OFF', value, last_command: a.lastCommand, emergency: a.emergency, updated_at: a.updatedAt };
}

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
