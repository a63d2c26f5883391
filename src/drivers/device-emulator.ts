/**
 * Plays ESP32 actuator nodes over MQTT with AutomationOne's topics, so the MQTT path can be tried
 * end to end on one machine (`sequencer emulate`) and tested. With `firmware: true` each node
 * answers exactly as the firmware document says (no correlation id, its messages); by default it
 * echoes the command's correlation id with a message naming it. Either way the nodes publish a
 * status after every change, heartbeats, alerts on request, and obey the emergency broadcast,
 * `clear_emergency` and `resume_operation` (SPEC 9 and 10), and publish readings of the sensors
 * they are given, which follow their actuators (SPEC 9.1). The rules of one node live in
 * `EmulatedNode`, the sensors' in `EmulatedSensors`; this class owns the connection and the timers.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { EmulatedNode, type EmergencyState, type EmulatedActuator, type NodeMessage, type ReceivedCommand } from './emulated-node.ts';
import { EmulatedSensors, type EmulatedSensorSpec } from './emulated-sensors.ts';
import { BROADCAST_EMERGENCY_TOPIC } from './mqtt-topics.ts';

export type { EmulatedActuator, ReceivedCommand } from './emulated-node.ts';
export type { EmulatedSensorSpec } from './emulated-sensors.ts';

/** Options of the emulator. */
export interface DeviceEmulatorOptions {
  /** Broker URL. Required. */
  url: string;
  /** The `kaiser_id` topic segment. Default: `god`. */
  kaiserId?: string;
  /** The nodes to play, e.g. `['ESP_1', 'ESP_2']`. Required. */
  espIds: string[];
  /** Answer exactly as the firmware document says: no correlation id, the firmware's messages. Default: false (echo the id). */
  firmware?: boolean;
  /** Time before a node answers, unless its behaviour says otherwise. Default: 20 ms. */
  latencyMs?: number;
  /** Interval of every node's heartbeat (the firmware's is 60 s); one is also sent on each connect. Default: 60000 ms. */
  heartbeatIntervalMs?: number;
  /** Receives one human-readable line per command and per answer. Default: silent. */
  log?: (line: string) => void;
  /** MQTT client id. Default: `emulator-` + 8 random hex digits. */
  clientId?: string;
  /** Pause between reconnection attempts while the broker is away. Default: 1000 ms. */
  reconnectPeriodMs?: number;
  /** Sensors to publish readings for, each with its starting value and model. Default: none. */
  sensors?: EmulatedSensorSpec[];
  /** How often every sensor reports (also at once after a change and on connect). Default: 5000 ms. */
  sensorIntervalMs?: number;
}

/** How one node behaves; every field is optional and merges into the current behaviour. */
export interface DeviceBehaviour {
  /** Answer delay of this node. Default: the emulator's `latencyMs`. */
  latencyMs?: number;
  /** Answer `success: false` and leave the actuator as it was. Default: false. */
  fail?: boolean;
  /** Never answer (and leave the actuator as it was), like a node that hangs. Default: false. */
  silent?: boolean;
  /** Keep answers back until this is set to false again, then send them in the order received. Default: false. */
  hold?: boolean;
  /** Send heartbeats; false plays a node that went silent. Default: true. */
  heartbeat?: boolean;
}

/** Events of the emulator. */
export interface DeviceEmulatorEvents {
  /** Connected and subscribed to its nodes' topics. */
  ready: [];
  /** A well-formed command reached a node (emitted whatever the node's behaviour). */
  command: [ReceivedCommand];
  /** A node's emergency state changed (broadcast, `clear_emergency`, `resume_operation`). */
  emergency: [espId: string, state: EmergencyState];
}

const COMMANDS = new Set(['ON', 'OFF', 'PWM', 'TOGGLE']);

/** Emulated ESP32 nodes answering actuator commands over MQTT. */
export class DeviceEmulator extends EventEmitter<DeviceEmulatorEvents> {
  private readonly kaiserId: string;
  private readonly latencyMs: number;
  private readonly log: (line: string) => void;
  private readonly behaviours = new Map<string, DeviceBehaviour>();
  private readonly nodes = new Map<string, EmulatedNode>();
  private readonly held = new Map<string, (() => void)[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly autoOff = new Map<string, NodeJS.Timeout>();
  private heartbeats: NodeJS.Timeout | null = null;
  private readonly sensors: EmulatedSensors;
  private sensorTimer: NodeJS.Timeout | null = null;
  private client: MqttClient | null = null;
  private subscribed = false;
  private closed = false;

  /** Resolves the options; nothing connects before `start()`. */
  constructor(private readonly options: DeviceEmulatorOptions) {
    super();
    this.kaiserId = options.kaiserId ?? 'god';
    this.latencyMs = options.latencyMs ?? 20;
    this.log = options.log ?? (() => undefined);
    const style = options.firmware ? 'firmware' : 'echo';
    for (const espId of options.espIds) {
      this.behaviours.set(espId, {});
      this.nodes.set(espId, new EmulatedNode(espId, this.kaiserId, style, Date.now()));
    }
    this.sensors = new EmulatedSensors(this.kaiserId, (espId, gpio) => this.nodes.get(espId)?.duty(gpio) ?? 0);
    for (const spec of options.sensors ?? []) this.sensors.set(spec, Date.now());
  }

  /** True while connected and subscribed, i.e. commands reach the nodes. */
  get ready(): boolean {
    // A reset socket is destroyed before MQTT.js reports the close: it is not ready any more.
    return this.subscribed && this.client?.connected === true && this.client.stream?.destroyed !== true;
  }

  /** Connects and subscribes; resolves when the nodes listen. Reconnects by itself afterwards. */
  async start(): Promise<void> {
    if (this.client || this.closed) return;
    const client = mqtt.connect(this.options.url, {
      clientId: this.options.clientId ?? `emulator-${Math.random().toString(16).slice(2, 10)}`,
      reconnectPeriod: this.options.reconnectPeriodMs ?? 1000,
      clean: true,
      resubscribe: false,
    });
    this.client = client;
    client.on('error', (err) => this.log(`emulator: ${err.message}`));
    client.on('close', () => {
      this.subscribed = false;
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('connect', () => {
      // Answers are tiny packets; Nagle's delay would dominate the emulated round trip.
      (client.stream as Partial<Pick<Socket, 'setNoDelay'>>).setNoDelay?.(true);
      const node = (espId: string) => `kaiser/${this.kaiserId}/esp/${espId}`;
      const topics = this.options.espIds.flatMap((espId) => [
        `${node(espId)}/actuator/+/command`,
        `${node(espId)}/actuator/emergency`,
        `${node(espId)}/system/command`,
      ]);
      client.subscribe([...topics, BROADCAST_EMERGENCY_TOPIC], { qos: 2 }, (err) => {
        if (err) return this.log(`emulator: subscribe failed: ${err.message}`);
        this.subscribed = true;
        this.log(`emulator: ${this.options.espIds.join(', ')} listening on ${this.options.url}`);
        this.sendHeartbeats();
        this.publish(this.sensors.report(Date.now()));
        this.emit('ready');
      });
    });
    // One timer for every node's heartbeat, as one firmware loop would tick for one node.
    this.heartbeats = setInterval(() => this.sendHeartbeats(), this.options.heartbeatIntervalMs ?? 60_000);
    // One timer for every sensor, as one firmware loop reads all of a node's sensors.
    this.sensorTimer = setInterval(() => {
      if (this.ready) this.publish(this.sensors.report(Date.now()));
    }, this.options.sensorIntervalMs ?? 5000);
    await this.whenReady();
  }

  /** Resolves when connected and subscribed (at once if already). */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve) => this.once('ready', resolve));
  }

  /** Changes how one node behaves from now on; throws for a node this emulator does not play. */
  setBehaviour(espId: string, behaviour: DeviceBehaviour): void {
    const current = this.behaviours.get(espId);
    if (!current) throw new Error(`unknown node ${espId}; emulated: ${this.options.espIds.join(', ')}`);
    this.behaviours.set(espId, { ...current, ...behaviour });
    if (behaviour.hold === false) {
      const answers = this.held.get(espId) ?? [];
      this.held.delete(espId);
      for (const answer of answers) answer();
    }
  }

  /** Every actuator that received a command, sorted by node and GPIO. */
  state(): EmulatedActuator[] {
    return [...this.nodes.values()]
      .flatMap((node) => node.actuators())
      .sort((a, b) => a.esp_id.localeCompare(b.esp_id) || a.gpio - b.gpio);
  }

  /** A node's emergency state and whether it is in safe mode. */
  nodeState(espId: string): { emergency: EmergencyState; safe_mode: boolean } {
    const node = this.node(espId);
    return { emergency: node.emergency, safe_mode: node.safeMode };
  }

  /** Sets a sensor's value and model (creating it) and publishes its reading at once. */
  setSensor(spec: EmulatedSensorSpec): void {
    const message = this.sensors.set(spec, Date.now());
    if (this.ready) this.publish([message]);
  }

  /** A sensor's value now, or undefined when it is not played. */
  sensorValue(espId: string, gpio: number): number | undefined {
    return this.sensors.read(espId, gpio, Date.now())?.value;
  }

  /** Publishes an actuator alert from a node, as its firmware would (`gpio` 255: the whole node). */
  alert(espId: string, gpio: number, type: string, message: string): void {
    this.publish([this.node(espId).alert(gpio, type, message, Date.now())]);
  }

  /** A node's own protection stops one actuator: off, alert of `type`, status; ON refused until resumed. */
  stopActuator(espId: string, gpio: number, type: string, message: string): void {
    this.cancelAutoOff(espId, gpio);
    this.publish(this.node(espId).stopActuator(gpio, type, message, Date.now()));
  }

  /** Someone switches an actuator by hand at the node; its status tells the server. */
  override(espId: string, gpio: number, on: boolean): void {
    this.cancelAutoOff(espId, gpio);
    this.publish(this.node(espId).override(gpio, on, Date.now()));
  }

  /** Idempotent. Drops unanswered commands and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeats) clearInterval(this.heartbeats);
    if (this.sensorTimer) clearInterval(this.sensorTimer);
    for (const timer of [...this.timers, ...this.autoOff.values()]) clearTimeout(timer);
    this.timers.clear();
    this.autoOff.clear();
    this.held.clear();
    const client = this.client;
    this.client = null;
    if (client) await client.endAsync(true);
  }

  private node(espId: string): EmulatedNode {
    const node = this.nodes.get(espId);
    if (!node) throw new Error(`unknown node ${espId}; emulated: ${this.options.espIds.join(', ')}`);
    return node;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const body = parseJson(payload);
    if (topic === BROADCAST_EMERGENCY_TOPIC) {
      // The firmware reads `action`; AutomationOne's server also sends `command`, which it ignores.
      if (body?.action !== 'stop_all') return;
      for (const espId of this.nodes.keys()) this.emergencyStop(espId, String(body.reason ?? 'broadcast'));
      return;
    }
    const [, , , espId = '', kind, rest] = topic.split('/');
    if (!this.nodes.has(espId)) return;
    if (kind === 'actuator' && rest === 'emergency') {
      if (body?.command === 'clear_emergency') return this.changeEmergency(espId, (node) => node.clearEmergency());
      if (body?.action === 'stop_all' || body?.command === 'emergency_stop') this.emergencyStop(espId, String(body.reason ?? 'emergency'));
      return;
    }
    if (kind === 'system' && rest === 'command') {
      if (body?.command === 'resume_operation') this.changeEmergency(espId, (node) => node.resume(Date.now()));
      return;
    }
    if (kind === 'actuator') this.onCommand(espId, Number(rest), body);
  }

  private emergencyStop(espId: string, reason: string): void {
    for (const key of [...this.autoOff.keys()].filter((k) => k.startsWith(`${espId}:`))) this.cancelAutoOff(espId, Number(key.slice(espId.length + 1)));
    this.log(`${espId}: emergency stop (${reason}), outputs off, safe mode`);
    this.changeEmergency(espId, (node) => node.emergencyStop(reason, Date.now()));
  }

  private changeEmergency(espId: string, change: (node: EmulatedNode) => NodeMessage[]): void {
    const node = this.node(espId);
    const before = node.emergency;
    this.publish(change(node));
    if (node.emergency !== before) {
      this.log(`${espId}: emergency ${before} -> ${node.emergency}`);
      this.emit('emergency', espId, node.emergency);
    }
  }

  private onCommand(espId: string, gpio: number, body: Record<string, unknown> | null): void {
    const behaviour = this.behaviours.get(espId) as DeviceBehaviour;
    if (!Number.isInteger(gpio)) return;
    const received = this.parse(espId, gpio, body);
    if (!received) return;
    this.emit('command', received);
    const said = `${received.command} value=${received.value} duration=${received.duration}s`;
    this.log(`${espId} gpio ${gpio} <- ${said}${EmulatedNode.idOf(received)}`);
    if (behaviour.silent) {
      this.log(`${espId} gpio ${gpio}: silent, no answer`);
      return;
    }
    const respond = (): void => {
      if (this.closed) return;
      const current = this.behaviours.get(espId) as DeviceBehaviour;
      if (current.hold) return void this.held.set(espId, [...(this.held.get(espId) ?? []), respond]);
      const { applied, messages } = this.node(espId).command(received, current.fail === true, Date.now());
      if (applied) this.scheduleAutoOff(received);
      this.publish(messages);
    };
    const latency = behaviour.latencyMs ?? this.latencyMs;
    // A 0 ms timer still waits about 1 ms; latency 0 means "as fast as the node can".
    if (latency <= 0) return void setImmediate(respond);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      respond();
    }, latency);
    this.timers.add(timer);
  }

  /** Validates a command payload; answers failure for one it can attribute but not understand. */
  private parse(espId: string, gpio: number, body: Record<string, unknown> | null): ReceivedCommand | null {
    if (!body) {
      this.log(`${espId} gpio ${gpio}: ignored a payload that is not a JSON object`);
      return null;
    }
    const id = typeof body.correlation_id === 'string' && !this.options.firmware ? body.correlation_id : '';
    const { command, value = 0, duration, timestamp } = body;
    if (typeof command !== 'string' || !COMMANDS.has(command) || typeof value !== 'number' || value < 0 || value > 1) {
      const message = this.options.firmware ? `Unknown command: ${String(command)}` : `${espId} gpio ${gpio}: invalid command ${JSON.stringify({ command, value })}`;
      const answer = { gpio, command, success: false, message, ...(id === '' ? {} : { correlation_id: id }) };
      this.publish([{ topic: `kaiser/${this.kaiserId}/esp/${espId}/actuator/${gpio}/response`, payload: answer, qos: 1 }]);
      return null;
    }
    return {
      esp_id: espId,
      gpio,
      command,
      value,
      duration: typeof duration === 'number' ? duration : 0,
      timestamp: typeof timestamp === 'number' ? timestamp : 0,
      correlation_id: id,
    };
  }

  /** The firmware switches an actuator off by itself after `duration`, even if the server never says OFF. */
  private scheduleAutoOff(cmd: ReceivedCommand): void {
    this.cancelAutoOff(cmd.esp_id, cmd.gpio);
    if (cmd.duration <= 0 || !this.node(cmd.esp_id).isOn(cmd.gpio)) return;
    const key = `${cmd.esp_id}:${cmd.gpio}`;
    const timer = setTimeout(() => {
      this.autoOff.delete(key);
      this.log(`${cmd.esp_id} gpio ${cmd.gpio}: off after ${cmd.duration}s`);
      this.publish(this.node(cmd.esp_id).autoOff(cmd.gpio, Date.now()));
    }, cmd.duration * 1000);
    this.autoOff.set(key, timer);
  }

  private cancelAutoOff(espId: string, gpio: number): void {
    const key = `${espId}:${gpio}`;
    clearTimeout(this.autoOff.get(key));
    this.autoOff.delete(key);
  }

  private actuatorChanged(statusTopic: string): void {
    const [, , , espId = '', , gpio = ''] = statusTopic.split('/');
    const duty = this.nodes.get(espId)?.duty(Number(gpio)) ?? 0;
    const readings = this.sensors.actuatorChanged(espId, Number(gpio), duty, Date.now());
    if (readings.length > 0) this.publish(readings);
  }

  private sendHeartbeats(): void {
    if (!this.ready) return;
    const now = Date.now();
    this.publish([...this.nodes.values()].filter((node) => this.behaviours.get(node.espId)?.heartbeat !== false).map((node) => node.heartbeat(now)));
  }

  private publish(messages: NodeMessage[]): void {
    for (const { topic, payload, qos, retain } of messages) {
      this.client?.publish(topic, JSON.stringify(payload), { qos, retain: retain ?? false });
      // Every change of an actuator publishes its status: the sensors following it change pace from here.
      if (topic.endsWith('/status') && topic.includes('/actuator/')) this.actuatorChanged(topic);
      if (topic.endsWith('/response')) {
        const answer = payload as { success: boolean; message: string; gpio: number };
        const espId = topic.split('/')[3];
        this.log(`${espId} gpio ${answer.gpio} -> ${answer.success ? 'ok' : 'FAILED'}: ${answer.message}`);
      }
    }
  }
}

function parseJson(payload: Buffer): Record<string, unknown> | null {
  try {
    const body: unknown = JSON.parse(payload.toString('utf8'));
    return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
