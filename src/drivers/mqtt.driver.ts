/**
 * The `mqtt` actuator driver: speaks AutomationOne's ESP32 topic contract (SPEC sections 9 and 10)
 * over MQTT.js, with the real firmware as well as with our emulator. One client; answers are
 * paired with waiting commands by `PendingCommands`, and everything else a node says (status,
 * alerts, safe mode, heartbeats) goes to its `NodeTracker`, swept for presence by one timer.
 */
import { EventEmitter, once } from 'node:events';
import type { Socket } from 'node:net';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { Codes, SequencerError } from '../domain/errors.ts';
import type { Reading } from '../conditions/evaluate-condition.ts';
import { redactUrl } from '../logging/redact-url.ts';
import type {
  ActuatorCommand,
  ActuatorDriver,
  ActuatorResponse,
  DeviceDirectory,
  DriverHealth,
  NodeReport,
  Presence,
  SendOptions,
} from './actuator-driver.ts';
import { ResponsePayloadSchema, parsePayload, type ResponsePayload } from './firmware-payloads.ts';
import { commandTopic, emergencyBroadcast, emergencyClear, parseTopic, responseTopic, subscriptionFilters, type Outgoing } from './mqtt-topics.ts';
import { clientOptions, resolveOptions, type MqttDriverOptions, type ResolvedOptions } from './mqtt-options.ts';
import { NodeReports } from './node-reports.ts';
import type { DeviceAlert } from './node-tracker.ts';
import { PendingCommands, type Waiting } from './pending-commands.ts';

export type { MqttDriverOptions } from './mqtt-options.ts';

/** Events of the driver, for metrics and logs. Listeners must be cheap; their errors are ignored. */
export interface MqttDriverEvents {
  /** Connected and subscribed to every report topic: commands can flow (health is ok). */
  connect: [];
  /** An established connection was lost; `reason` is the last error seen. Counted by `disconnects`. */
  disconnect: [reason: string];
  /** A node reported an alert, entered safe mode, contradicted what it was told, or went offline or online. */
  device_alert: [alert: DeviceAlert];
  /** A node's presence changed (also the first time it is heard). */
  presence: [espId: string, presence: Presence];
  /** A well-formed answer that no waiting command matched; counted by `unmatchedResponses`. */
  unmatched: [topic: string, detail: string];
  /** A sensor reading from a node's data or batch topic (SPEC 9.1). */
  reading: [reading: Reading];
  /** A sensor payload that does not follow the firmware document, ignored; counted by `malformedSensorPayloads`. */
  malformed_sensor: [topic: string];
}

interface Pending extends Waiting {
  readonly sent: ActuatorCommand;
  readonly sentAt: number;
  resolve(response: ActuatorResponse): void;
  reject(error: unknown): void;
}

/** An `esp_id` usable as one topic level: no separator, no wildcard, not empty. */
const TOPIC_LEVEL = /^[^/+#]+$/;

/**
 * Drives ESP32 actuators through an MQTT broker. Commands fail at once while the broker is away
 * or the node is known to be offline, and every command still waiting when the connection drops
 * fails too; the client reconnects in the background and its events tell metrics about it.
 */
export class MqttDriver extends EventEmitter<MqttDriverEvents> implements ActuatorDriver, DeviceDirectory {
  readonly kind = 'mqtt' as const;
  private readonly options: ResolvedOptions;
  private readonly safeUrl: string;
  private readonly filters: string[];
  private readonly pending = new PendingCommands<Pending>();
  private readonly reports: NodeReports;
  private client: MqttClient | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private closed = false;
  /** Aborted by `close()`, so nothing keeps waiting for a connection that will never come. */
  private readonly closing = new AbortController();
  /** CONNACK received and the socket not closed since: commands may be published. */
  private linkUp = false;
  private subscribed = false;
  private subscribeError: string | null = null;
  private lastError: string | null = null;
  private disconnectCount = 0;
  private malformedCount = 0;
  private malformedReportCount = 0;
  private malformedSensorCount = 0;
  private unmatchedCount = 0;

  /** Resolves the options once; nothing connects before `start()`. */
  constructor(options: MqttDriverOptions) {
    super();
    this.options = resolveOptions(options);
    this.safeUrl = redactUrl(this.options.url);
    this.filters = subscriptionFilters(this.options.kaiserId);
    this.reports = new NodeReports(this.options, {
      alert: (alert) => this.emitSafely('device_alert', alert),
      presence: (espId, presence) => this.emitSafely('presence', espId, presence),
      reading: (reading) => this.emitSafely('reading', reading),
    });
  }

  /** Connections lost since start (not failed reconnection attempts). */
  get disconnects(): number {
    return this.disconnectCount;
  }

  /** Response payloads ignored because they were not valid JSON of the contract's shape. */
  get malformedResponses(): number {
    return this.malformedCount;
  }

  /** Status, alert, safe-mode, heartbeat and sensor payloads ignored because they do not follow the firmware document. */
  get malformedReports(): number {
    return this.malformedReportCount;
  }

  /** Sensor data and batch payloads ignored because they do not follow the firmware document (also in `malformedReports`). */
  get malformedSensorPayloads(): number {
    return this.malformedSensorCount;
  }

  /** Well-formed responses nobody waited for (late, after an abort, another system's, or on the wrong topic). */
  get unmatchedResponses(): number {
    return this.unmatchedCount;
  }

  /** Commands waiting for their answer right now. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Connects. Resolves once connected and subscribed, or after `connectTimeoutMs` if the broker
   * does not answer (health then says why, and the client keeps trying in the background).
   * Rejects only for unreadable TLS files.
   */
  async start(): Promise<void> {
    if (this.client || this.closed) return;
    const o = this.options;
    const client = mqtt.connect(o.url, clientOptions(o));
    this.client = client;
    client.on('connect', () => this.onConnect(client));
    client.on('close', () => this.onClose(client));
    client.on('error', (err) => {
      this.lastError = err.message;
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    // One timer for every node: presence is computed when asked, the sweep only reports who went silent.
    this.sweeper = setInterval(() => this.reports.sweep(Date.now()), o.heartbeatIntervalMs).unref();
    const waited = AbortSignal.any([AbortSignal.timeout(o.connectTimeoutMs), this.closing.signal]);
    await once(this, 'connect', { signal: waited }).catch(() => undefined);
  }

  /** Resolves when the driver is (again) connected and subscribed; rejects once it is closed. */
  async whenConnected(): Promise<void> {
    if (this.closed) throw this.closedError();
    if (this.ready) return;
    await once(this, 'connect', { signal: this.closing.signal }).catch(() => {
      throw this.closedError();
    });
  }

  /**
   * Publishes the command at QoS 2 and waits for the device's answer (SPEC 9 pairing rule).
   * Rejects at once with 5614 while the broker is unreachable or the node is known to be
   * offline; rejects with `signal.reason` on abort.
   */
  send(command: ActuatorCommand, { signal }: SendOptions): Promise<ActuatorResponse> {
    if (this.closed) return Promise.reject(this.closedError());
    if (signal.aborted) return Promise.reject(signal.reason);
    if (!TOPIC_LEVEL.test(command.esp_id) || !Number.isInteger(command.gpio) || command.gpio < 0) {
      const target = `${JSON.stringify(command.esp_id)} gpio ${command.gpio}`;
      return Promise.reject(new SequencerError(Codes.STEP_FAILED, `${target} cannot be addressed by an MQTT topic`));
    }
    const client = this.client;
    if (!client || !this.linkUp || this.subscribeError) {
      return Promise.reject(this.unreachable(this.subscribeError ?? this.lastError ?? 'not connected'));
    }
    const now = Date.now();
    const tracker = this.reports.tracker;
    if (tracker.presence(command.esp_id, now) === 'offline') {
      const why = tracker.offlineReason(command.esp_id, now);
      return Promise.reject(new SequencerError(Codes.STEP_FAILED, `Node ${command.esp_id} is offline: ${why}; ${command.command} not sent`));
    }
    const id = command.correlation_id;
    if (this.pending.has(id)) {
      return Promise.reject(new SequencerError(Codes.INTERNAL_ERROR, `correlation_id ${id} is already waiting for an answer`));
    }
    const { kaiserId } = this.options;
    return new Promise<ActuatorResponse>((resolve, reject) => {
      const onAbort = (): void => entry.reject(signal.reason);
      const settle = (finish: () => void): void => {
        if (!this.pending.delete(entry)) return;
        signal.removeEventListener('abort', onAbort);
        finish();
      };
      const entry: Pending = {
        id,
        topic: responseTopic(kaiserId, command.esp_id, command.gpio),
        command: command.command,
        value: command.value,
        sent: command,
        sentAt: now,
        resolve: (response) => settle(() => resolve(response)),
        // Unanswered, the device may or may not have acted on it.
        reject: (error) => settle(() => {
          tracker.commandLost(command);
          reject(error);
        }),
      };
      this.pending.add(entry);
      tracker.commandSent(command, now);
      signal.addEventListener('abort', onAbort, { once: true });
      const payload = JSON.stringify({
        command: command.command,
        value: command.value,
        duration: command.duration_seconds,
        timestamp: Math.floor(now / 1000),
        correlation_id: id,
      });
      client.publish(commandTopic(kaiserId, command.esp_id, command.gpio), payload, { qos: 2 }, (err) => {
        if (err) entry.reject(this.unreachable(err.message));
      });
    });
  }

  /**
   * Publishes AutomationOne's emergency broadcast (SPEC 10) at QoS 2: every node, reachable by
   * the server's commands or not, switches everything off and enters its safe mode. `reason` is
   * the operator's own words. Rejects when the broker is unreachable.
   */
  broadcastEmergency(reason: string): Promise<void> {
    return this.publish(emergencyBroadcast(reason, Date.now()));
  }

  /**
   * Lifts the nodes' emergency stop (SPEC 10): to every known node `clear_emergency` on its
   * actuator emergency topic, then `resume_operation` on its system command topic (the firmware
   * keeps its outputs off and refuses commands until then). Resolves with the nodes told.
   */
  async clearEmergency(): Promise<string[]> {
    const nodes = this.reports.tracker.nodeIds();
    // Published in order on one connection, so each node reads the clear before the resume.
    await Promise.all(nodes.flatMap((espId) => emergencyClear(this.options.kaiserId, espId).map((message) => this.publish(message))));
    return nodes;
  }

  /** Every node heard from or commanded, with presence, safe mode and actuators. */
  nodes(): NodeReport[] {
    return this.reports.tracker.reports(Date.now());
  }

  /** Broker state: ok only while connected and subscribed to every report topic. */
  health(): DriverHealth {
    if (this.closed) return { ok: false, detail: `closed (${this.safeUrl})` };
    if (!this.client) return { ok: false, detail: `not started (${this.safeUrl})` };
    if (this.ready) return { ok: true, detail: `connected to ${this.safeUrl}` };
    if (this.subscribeError) return { ok: false, detail: `connected to ${this.safeUrl} but ${this.subscribeError}` };
    if (this.linkUp) return { ok: false, detail: `connected to ${this.safeUrl}, subscribing to responses` };
    const why = this.lastError ? ` (${this.lastError})` : '';
    return {
      ok: false,
      detail: `not connected to ${this.safeUrl}${why}; retrying every ${this.options.reconnectPeriodMs} ms`,
    };
  }

  /** Idempotent. Fails every waiting command, stops reconnecting and closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    if (this.sweeper) clearInterval(this.sweeper);
    const client = this.client;
    this.client = null;
    this.failAll(this.closedError());
    if (!client) return;
    this.dropOutgoing(client);
    const connected = this.linkUp;
    this.linkUp = false;
    await new Promise<void>((resolve) => {
      // A half-open socket could keep a graceful DISCONNECT waiting; shutdown must not.
      const guard = setTimeout(() => {
        client.stream?.destroy();
        resolve();
      }, 1000);
      client.end(!connected, () => {
        clearTimeout(guard);
        resolve();
      });
    });
  }

  private get ready(): boolean {
    return this.linkUp && this.subscribed;
  }

  private publish({ topic, payload, qos }: Outgoing): Promise<void> {
    const client = this.client;
    if (this.closed) return Promise.reject(this.closedError());
    if (!client || !this.linkUp) return Promise.reject(this.unreachable(this.lastError ?? 'not connected'));
    return new Promise((resolve, reject) =>
      client.publish(topic, JSON.stringify(payload), { qos }, (err) => (err ? reject(this.unreachable(err.message)) : resolve())),
    );
  }

  private onConnect(client: MqttClient): void {
    // Commands and answers are tiny packets; with Nagle on, bench/mqtt ran about 3x slower.
    (client.stream as Partial<Pick<Socket, 'setNoDelay'>>).setNoDelay?.(true);
    this.lastError = null;
    this.linkUp = true;
    this.subscribed = false;
    this.subscribeError = null;
    client.subscribe(this.filters, { qos: 1 }, (err, granted) => {
      if (client !== this.client) return;
      const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
      if (err || !granted || refused.length > 0) {
        const which = refused.length > 0 ? refused.join(', ') : this.filters.join(', ');
        this.subscribeError = `subscription to ${which} refused${err ? `: ${err.message}` : ''}`;
        return;
      }
      this.subscribed = true;
      this.emitSafely('connect');
    });
  }

  private onClose(client: MqttClient): void {
    if (client !== this.client) return;
    const wasUp = this.linkUp;
    this.linkUp = false;
    this.subscribed = false;
    this.subscribeError = null;
    if (!wasUp) return;
    const reason = this.lastError ?? 'socket closed';
    this.disconnectCount += 1;
    this.failAll(this.unreachable(`connection lost while waiting for the answer (${reason})`));
    // Commands already reported failed must not reach a device later, when MQTT.js would resend them.
    this.dropOutgoing(client);
    this.emitSafely('disconnect', reason);
  }

  private onMessage(topic: string, payload: Buffer): void {
    const parsed = parseTopic(this.options.kaiserId, topic);
    if (!parsed) return;
    const inFlight = parsed.gpio !== null && this.pending.waitingOn(responseTopic(this.options.kaiserId, parsed.espId, parsed.gpio));
    if (!this.reports.handle(parsed, payload, Date.now(), inFlight)) {
      this.malformedReportCount += 1;
      if (parsed.kind === 'sensor_data' || parsed.kind === 'sensor_batch') {
        this.malformedSensorCount += 1;
        this.emitSafely('malformed_sensor', topic);
      }
    }
    if (parsed.kind === 'response') this.onResponse(topic, parsed.espId, parsed.gpio as number, payload);
  }

  private onResponse(topic: string, espId: string, gpio: number, payload: Buffer): void {
    const response = parsePayload(ResponsePayloadSchema, payload);
    if (!response) {
      this.malformedCount += 1;
      return;
    }
    const entry = this.pending.match(topic, response);
    if (!entry) {
      this.unmatchedCount += 1;
      this.emitSafely('unmatched', topic, describeAnswer(response));
      return;
    }
    const message = response.message ?? '';
    if (response.success) {
      this.reports.tracker.commandAccepted(entry.sent, entry.sentAt);
      entry.resolve({ success: true, message });
    } else if (entry.command === 'OFF' && this.reports.tracker.reportedOff(espId, gpio)) {
      // The firmware refuses every command while emergency-stopped, OFF included; its status says the OFF is done.
      entry.resolve({ success: true, message: `${message} (the node reports gpio ${gpio} off)` });
    } else {
      entry.resolve({ success: false, message });
    }
  }

  private failAll(error: SequencerError): void {
    for (const entry of this.pending.values()) entry.reject(error);
  }

  private dropOutgoing(client: MqttClient): void {
    for (const messageId of Object.keys(client.outgoing)) {
      const cmd = client.outgoing[Number(messageId)]?.cmd;
      if (cmd === 'publish' || cmd === 'pubrel') client.removeOutgoingMessage(Number(messageId));
    }
  }

  private emitSafely<E extends keyof MqttDriverEvents>(event: E, ...args: MqttDriverEvents[E]): void {
    try {
      (this.emit as (e: E, ...a: MqttDriverEvents[E]) => boolean)(event, ...args);
    } catch {
      // A faulty metrics listener must not break the connection handling that called it.
    }
  }

  private unreachable(detail: string): SequencerError {
    return new SequencerError(Codes.STEP_FAILED, `MQTT broker unreachable (${this.safeUrl}): ${detail}`);
  }

  private closedError(): SequencerError {
    return new SequencerError(Codes.STEP_FAILED, `MQTT driver closed (${this.safeUrl}): command not delivered`);
  }
}

/** An unmatched answer in a few words, for the debug log. */
function describeAnswer(response: ResponsePayload): string {
  const id = response.correlation_id === undefined ? 'no correlation_id' : `correlation_id ${response.correlation_id}`;
  const value = response.value === undefined ? '' : ` ${response.value}`;
  return `${response.command ?? '?'}${value} success=${response.success} (${id}): nobody waits for it`;
}
