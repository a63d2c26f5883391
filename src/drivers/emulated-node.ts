/**
 * One emulated ESP32 node as AutomationOne's firmware document describes it: actuators that
 * apply ON / OFF / PWM / TOGGLE and switch themselves off after a command's `duration`, a status
 * after every change, alerts, an emergency stop that switches every output off and refuses ON
 * until `resume_operation`, and its safe mode. It does no I/O: each method returns the messages
 * the node publishes, in order, and the device emulator sends them.
 */

/** One message a node publishes. */
export interface NodeMessage {
  topic: string;
  payload: object;
  qos: 0 | 1;
  retain?: boolean;
}

/** The state of one emulated actuator. */
export interface EmulatedActuator {
  esp_id: string;
  gpio: number;
  on: boolean;
  /** PWM duty 0..1; 1 when ON, 0 when OFF. */
  value: number;
  /** The last command applied (`AUTO_OFF` after a duration ran out, `EMERGENCY_STOP`, `LOCAL` for a hand switch). */
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
  /** The id to echo; empty when the command carries none (the firmware's own commands do not). */
  correlation_id: string;
}

/** The node's emergency state, as its actuator status reports it. */
export type EmergencyState = 'normal' | 'active' | 'clearing';

interface Actuator extends EmulatedActuator {
  /** This actuator alone was emergency-stopped (runtime protection), or the whole node was. */
  stopped: boolean;
  onSince: number | null;
  runtimeMs: number;
}

/** How a node answers: as the firmware does (no id, its messages), or echoing the id with ours. */
export type AnswerStyle = 'firmware' | 'echo';

/** The state and rules of one emulated node. */
export class EmulatedNode {
  readonly espId: string;
  readonly #base: string;
  readonly #style: AnswerStyle;
  readonly #actuators = new Map<number, Actuator>();
  readonly #startedAt: number;
  #emergency: EmergencyState = 'normal';
  #safeMode = false;

  /** A node that has applied nothing yet. */
  constructor(espId: string, kaiserId: string, style: AnswerStyle, now: number) {
    this.espId = espId;
    this.#base = `kaiser/${kaiserId}/esp/${espId}`;
    this.#style = style;
    this.#startedAt = now;
  }

  /** The node's emergency state. */
  get emergency(): EmergencyState {
    return this.#emergency;
  }

  /** True while the node is in safe mode (after an emergency stop, until `resume_operation`). */
  get safeMode(): boolean {
    return this.#safeMode;
  }

  /** Every actuator that received a command, by gpio. */
  actuators(): EmulatedActuator[] {
    return [...this.#actuators.values()].map(({ esp_id, gpio, on, value, last_command, commands }) => ({ esp_id, gpio, on, value, last_command, commands }));
  }

  /**
   * Answers a command: refused while the node or that actuator is emergency-stopped (OFF is
   * always obeyed: its outputs are off already), or when `fail`; otherwise applied, its status
   * published, then the response.
   */
  command(cmd: ReceivedCommand, fail: boolean, now: number): { applied: boolean; messages: NodeMessage[] } {
    const actuator = this.#actuators.get(cmd.gpio);
    const stopped = this.#emergency !== 'normal' || actuator?.stopped === true;
    if (stopped && cmd.command !== 'OFF') {
      return { applied: false, messages: [this.#response(cmd, false, `Actuator GPIO ${cmd.gpio} is emergency stopped`, now)] };
    }
    if (fail) {
      const message = this.#style === 'firmware' ? `Failed to turn actuator ${cmd.command}` : 'failed: simulated failure';
      return { applied: false, messages: [this.#response(cmd, false, message, now)] };
    }
    const target = this.#actuator(cmd.gpio);
    const on = cmd.command === 'TOGGLE' ? !target.on : cmd.command === 'ON' || (cmd.command === 'PWM' && cmd.value > 0);
    this.#set(target, on, cmd.command === 'PWM' ? cmd.value : on ? 1 : 0, cmd.command, now);
    target.commands += 1;
    const answer = this.#response(cmd, true, this.#style === 'firmware' ? 'Command executed' : 'applied', now);
    return { applied: true, messages: [this.#status(target, now), answer] };
  }

  /** Whether the actuator on `gpio` is on. */
  isOn(gpio: number): boolean {
    return this.#actuators.get(gpio)?.on === true;
  }

  /** The duty 0..1 the actuator on `gpio` runs at (0 when off), for the sensors that follow it. */
  duty(gpio: number): number {
    const actuator = this.#actuators.get(gpio);
    return actuator?.on ? actuator.value : 0;
  }

  /** A command's `duration` ran out: the firmware switches the actuator off by itself. */
  autoOff(gpio: number, now: number): NodeMessage[] {
    const actuator = this.#actuators.get(gpio);
    if (!actuator?.on) return [];
    this.#set(actuator, false, 0, 'AUTO_OFF', now);
    return [this.#status(actuator, now)];
  }

  /** The emergency broadcast (or `stop_all` on its own emergency topic): every output off, alerts, safe mode. */
  emergencyStop(reason: string, now: number): NodeMessage[] {
    const messages: NodeMessage[] = [];
    this.#emergency = 'active';
    for (const actuator of this.#actuators.values()) {
      this.#set(actuator, false, 0, 'EMERGENCY_STOP', now);
      actuator.stopped = true;
      messages.push(this.alert(actuator.gpio, 'emergency_stop', 'Actuator stopped', now), this.#status(actuator, now));
    }
    this.#safeMode = true;
    messages.push(this.#safeModeMessage(reason, now));
    return messages;
  }

  /** One actuator stopped by the node's own protection (e.g. `runtime_protection`): off, alert, status. */
  stopActuator(gpio: number, type: string, message: string, now: number): NodeMessage[] {
    const actuator = this.#actuator(gpio);
    this.#set(actuator, false, 0, 'EMERGENCY_STOP', now);
    actuator.stopped = true;
    return [this.alert(gpio, type, message, now), this.#status(actuator, now)];
  }

  /** `clear_emergency`: the flags are cleared, but the outputs stay off and ON is refused until `resume_operation`. */
  clearEmergency(): NodeMessage[] {
    if (this.#emergency === 'active') this.#emergency = 'clearing';
    return [];
  }

  /** `resume_operation`: back to normal; every actuator's status is published and safe mode ends. */
  resume(now: number): NodeMessage[] {
    const wasStopped = this.#emergency !== 'normal' || [...this.#actuators.values()].some((a) => a.stopped);
    if (!wasStopped) return [];
    this.#emergency = 'normal';
    for (const actuator of this.#actuators.values()) actuator.stopped = false;
    const messages = [...this.#actuators.values()].map((actuator) => this.#status(actuator, now));
    if (this.#safeMode) {
      this.#safeMode = false;
      messages.push(this.#safeModeMessage('Operation resumed', now));
    }
    return messages;
  }

  /** Someone switched an actuator by hand at the node: its status tells. */
  override(gpio: number, on: boolean, now: number): NodeMessage[] {
    const actuator = this.#actuator(gpio);
    this.#set(actuator, on, on ? 1 : 0, 'LOCAL', now);
    return [this.#status(actuator, now)];
  }

  /** An actuator alert (`{ts, gpio, type, message}`; gpio 255 for the whole node). */
  alert(gpio: number, type: string, message: string, now: number): NodeMessage {
    return { topic: `${this.#base}/actuator/${gpio}/alert`, payload: { ts: seconds(now), gpio, type, message }, qos: 1 };
  }

  /** The heartbeat the firmware sends every 60 s (QoS 0). */
  heartbeat(now: number): NodeMessage {
    const payload = {
      esp_id: this.espId,
      ts: seconds(now),
      uptime: Math.floor((now - this.#startedAt) / 1000),
      heap_free: 245_760,
      wifi_rssi: -60,
      sensor_count: 0,
      actuator_count: this.#actuators.size,
    };
    return { topic: `${this.#base}/system/heartbeat`, payload, qos: 0 };
  }

  /** The id an answer echoes, as the log shows it. */
  static idOf(cmd: ReceivedCommand): string {
    return cmd.correlation_id === '' ? '' : ` [${cmd.correlation_id}]`;
  }

  #actuator(gpio: number): Actuator {
    let actuator = this.#actuators.get(gpio);
    if (!actuator) {
      actuator = { esp_id: this.espId, gpio, on: false, value: 0, last_command: '', commands: 0, stopped: false, onSince: null, runtimeMs: 0 };
      this.#actuators.set(gpio, actuator);
    }
    return actuator;
  }

  #set(actuator: Actuator, on: boolean, value: number, command: string, now: number): void {
    if (actuator.on && actuator.onSince !== null) actuator.runtimeMs += now - actuator.onSince;
    actuator.onSince = on ? now : null;
    Object.assign(actuator, { on, value, last_command: command });
  }

  #status(actuator: Actuator, now: number): NodeMessage {
    const pwm = actuator.last_command === 'PWM';
    const running = actuator.on && actuator.onSince !== null ? now - actuator.onSince : 0;
    const payload = {
      ts: seconds(now),
      esp_id: this.espId,
      gpio: actuator.gpio,
      type: pwm ? 'pwm' : 'relay',
      state: actuator.on,
      pwm: pwm ? Math.round(actuator.value * 255) : 0,
      runtime_ms: actuator.runtimeMs + running,
      emergency: actuator.stopped && this.#emergency === 'normal' ? 'active' : this.#emergency,
    };
    return { topic: `${this.#base}/actuator/${actuator.gpio}/status`, payload, qos: 1 };
  }

  #response(cmd: ReceivedCommand, success: boolean, message: string, now: number): NodeMessage {
    const base = { ts: seconds(now), gpio: cmd.gpio, command: cmd.command, value: cmd.value, duration: cmd.duration, success };
    const topic = `${this.#base}/actuator/${cmd.gpio}/response`;
    if (this.#style === 'firmware') return { topic, payload: { ...base, message }, qos: 1 };
    const said = `${cmd.command} value=${cmd.value} duration=${cmd.duration}s`;
    const echoed = `${this.espId} gpio ${cmd.gpio}: ${said} ${message}${EmulatedNode.idOf(cmd)}`;
    return { topic, payload: { ...base, message: echoed, ...(cmd.correlation_id === '' ? {} : { correlation_id: cmd.correlation_id }) }, qos: 1 };
  }

  #safeModeMessage(reason: string, now: number): NodeMessage {
    const payload = { ts: seconds(now), esp_id: this.espId, safe_mode_active: this.#safeMode, reason };
    return { topic: `${this.#base}/safe_mode`, payload, qos: 1, retain: true };
  }
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}
