/**
 * Plays ESP32 actuator nodes over MQTT, following the same topic contract as the `mqtt` driver,
 * so the MQTT path can be tried end to end on one machine (`sequencer emulate`) and tested.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';

/** Options of the emulator. */
export interface DeviceEmulatorOptions {
  /** Broker URL. Required. */
  url: string;
  /** The `kaiser_id` topic segment. Default: `god`. */
  kaiserId?: string;
  /** The nodes to play, e.g. `['ESP_1', 'ESP_2']`. Required. */
  espIds: string[];
  /** Time before a node answers, unless its behaviour says otherwise. Default: 20 ms. */
  latencyMs?: number;
  /** Receives one human-readable line per command and per answer. Default: silent. */
  log?: (line: string) => void;
  /** MQTT client id. Default: `emulator-` + 8 random hex digits. */
  clientId?: string;
  /** Pause between reconnection attempts while the broker is away. Default: 1000 ms. */
  reconnectPeriodMs?: number;
}

/** How one node behaves; every field is optional and merges into the current behaviour. */
export interface DeviceBehaviour {
  /** Answer delay of this node. Default: the emulator's `latencyMs`. */
  latencyMs?: number;
  /** Answer `success: false` and leave the actuator as it was. Default: false. */
  fail?: boolean;
  /** Never answer (and leave the actuator as it was), like a node that hangs. Default: false. */
  silent?: boolean;
}

/** The state of one emulated actuator. */
export interface EmulatedActuator {
  esp_id: string;
  gpio: number;
  on: boolean;
  /** PWM duty 0..1; 1 when ON, 0 when OFF. */
  value: number;
  /** The last command applied. */
  last_command: string;
  /** Commands applied to it so far. */
  commands: number;
}

/** A command as a node received it, before it answers. */
export interface ReceivedCommand {
  esp_id: string;
  gpio: number;
  command: string;
  value: number;
  duration: number;
  timestamp: number;
  correlation_id: string;
}

/** Events of the emulator. */
export interface DeviceEmulatorEvents {
  /** Connected and subscribed to its nodes' command topics. */
  ready: [];
  /** A well-formed command reached a node (emitted whatever the node's behaviour). */
  command: [ReceivedCommand];
}

const COMMANDS = new Set(['ON', 'OFF', 'PWM', 'TOGGLE']);

/** Emulated ESP32 nodes answering actuator commands over MQTT. */
export class DeviceEmulator extends EventEmitter<DeviceEmulatorEvents> {
  private readonly kaiserId: string;
  private readonly latencyMs: number;
  private readonly log: (line: string) => void;
  private readonly behaviours = new Map<string, DeviceBehaviour>();
  private readonly actuators = new Map<string, EmulatedActuator>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly autoOff = new Map<string, NodeJS.Timeout>();
  private client: MqttClient | null = null;
  private subscribed = false;
  private closed = false;

  /** Resolves the options; nothing connects before `start()`. */
  constructor(private readonly options: DeviceEmulatorOptions) {
    super();
    this.kaiserId = options.kaiserId ?? 'god';
    this.latencyMs = options.latencyMs ?? 20;
    this.log = options.log ?? (() => undefined);
    for (const espId of options.espIds) this.behaviours.set(espId, {});
  }

  /** True while connected and subscribed, i.e. commands reach the nodes. */
  get ready(): boolean {
    return this.subscribed && this.client?.connected === true;
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
    client.on('message', (topic, payload) => this.onCommand(topic, payload));
    client.on('connect', () => {
      // Answers are tiny packets; Nagle's delay would dominate the emulated round trip.
      (client.stream as Partial<Pick<Socket, 'setNoDelay'>>).setNoDelay?.(true);
      const topics = this.options.espIds.map((espId) => `kaiser/${this.kaiserId}/esp/${espId}/actuator/+/command`);
      client.subscribe(topics, { qos: 2 }, (err) => {
        if (err) return this.log(`emulator: subscribe failed: ${err.message}`);
        this.subscribed = true;
        this.log(`emulator: ${this.options.espIds.join(', ')} listening on ${this.options.url}`);
        this.emit('ready');
      });
    });
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
  }

  /** Every actuator that received a command, sorted by node and GPIO. */
  state(): EmulatedActuator[] {
    return [...this.actuators.values()]
      .map((a) => ({ ...a }))
      .sort((a, b) => a.esp_id.localeCompare(b.esp_id) || a.gpio - b.gpio);
  }

  /** Idempotent. Drops unanswered commands and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of [...this.timers, ...this.autoOff.values()]) clearTimeout(timer);
    this.timers.clear();
    this.autoOff.clear();
    const client = this.client;
    this.client = null;
    if (client) await client.endAsync(true);
  }

  private onCommand(topic: string, payload: Buffer): void {
    const parts = topic.split('/');
    const espId = parts[3];
    const gpio = Number(parts[5]);
    const behaviour = this.behaviours.get(espId);
    if (!behaviour || !Number.isInteger(gpio)) return;
    const received = this.parse(espId, gpio, payload);
    if (!received) return;
    this.emit('command', received);
    const said = `${received.command} value=${received.value} duration=${received.duration}s`;
    this.log(`${espId} gpio ${gpio} <- ${said} [${received.correlation_id}]`);
    if (behaviour.silent) {
      this.log(`${espId} gpio ${gpio}: silent, no answer`);
      return;
    }
    const respond = (): void => {
      if (this.closed) return;
      const success = !behaviour.fail;
      if (success) this.apply(received);
      const message = `${espId} gpio ${gpio}: ${said} ${success ? 'applied' : 'failed: simulated failure'} [${received.correlation_id}]`;
      this.answer(espId, gpio, { success, message, correlation_id: received.correlation_id });
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

  /** Validates a command payload; answers failure for one it can correlate but not understand. */
  private parse(espId: string, gpio: number, payload: Buffer): ReceivedCommand | null {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    } catch {
      this.log(`${espId} gpio ${gpio}: ignored a payload that is not JSON`);
      return null;
    }
    const id = body?.correlation_id;
    if (typeof id !== 'string') {
      this.log(`${espId} gpio ${gpio}: ignored a command without correlation_id`);
      return null;
    }
    const { command, value, duration, timestamp } = body;
    if (typeof command !== 'string' || !COMMANDS.has(command) || typeof value !== 'number' || value < 0 || value > 1) {
      const message = `${espId} gpio ${gpio}: invalid command ${JSON.stringify({ command, value })}`;
      this.answer(espId, gpio, { success: false, message, correlation_id: id });
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

  /** Applies a command to the actuator's state, as the firmware would. */
  private apply(cmd: ReceivedCommand): void {
    const key = `${cmd.esp_id}:${cmd.gpio}`;
    const actuator = this.actuators.get(key) ?? {
      esp_id: cmd.esp_id, gpio: cmd.gpio, on: false, value: 0, last_command: '', commands: 0,
    };
    const on = cmd.command === 'TOGGLE' ? !actuator.on : cmd.command === 'ON' || (cmd.command === 'PWM' && cmd.value > 0);
    actuator.on = on;
    actuator.value = cmd.command === 'PWM' ? cmd.value : on ? 1 : 0;
    actuator.last_command = cmd.command;
    actuator.commands += 1;
    this.actuators.set(key, actuator);
    clearTimeout(this.autoOff.get(key));
    this.autoOff.delete(key);
    if (on && cmd.duration > 0) {
      // The firmware switches itself off after `duration`, even if the server never says OFF.
      const timer = setTimeout(() => {
        this.autoOff.delete(key);
        actuator.on = false;
        actuator.value = 0;
        actuator.last_command = 'AUTO_OFF';
        this.log(`${cmd.esp_id} gpio ${cmd.gpio}: off after ${cmd.duration}s`);
      }, cmd.duration * 1000);
      this.autoOff.set(key, timer);
    }
  }

  private answer(espId: string, gpio: number, response: { success: boolean; message: string; correlation_id: string }): void {
    const topic = `kaiser/${this.kaiserId}/esp/${espId}/actuator/${gpio}/response`;
    this.client?.publish(topic, JSON.stringify(response), { qos: 1 });
    this.log(`${espId} gpio ${gpio} -> ${response.success ? 'ok' : 'FAILED'}: ${response.message}`);
  }
}
