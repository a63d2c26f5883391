/**
 * The simulated ESP32 nodes of SPEC section 9: every command is answered after the node's latency;
 * a node can be told to fail or to hang. Nodes appear on first use. Simulated sensors (SPEC 9.1)
 * follow the nodes' actuators; their readings go out at once when set or when an actuator they
 * follow changes, and every sensor's reading once per `readingIntervalMs` from one timer for all.
 */
import type { Reading } from '../conditions/evaluate-condition.ts';
import { SimulatedSensors, type SensorSetting, type SimulatedSensorView } from '../sensors/simulated-sensors.ts';
import type { ActuatorCommand, ActuatorDriver, ActuatorResponse, DeviceDirectory, DriverHealth, NodeReport, SendOptions } from './actuator-driver.ts';

/** How one simulated node behaves. */
export interface SimBehaviour {
  /** Answer delay in ms (default: the driver's latency). */
  latency_ms: number;
  /** Answer every command with `success: false`. */
  fail: boolean;
  /** Never answer. */
  hang: boolean;
}

/** State of one simulated actuator. */
export interface SimActuator {
  gpio: number;
  on: boolean;
  value: number;
  last_command: string;
  updated_at: string;
}

/** A simulated node as `GET /api/v1/sim/devices` shows it. */
export interface SimDevice extends SimBehaviour {
  esp_id: string;
  commands: number;
  actuators: SimActuator[];
}

/** An actuator as the node holds it: the time as a number, formatted only when someone looks. */
interface ActuatorState extends Omit<SimActuator, 'updated_at'> {
  updatedAt: number;
}

interface Node extends SimBehaviour {
  commands: number;
  actuators: Map<number, ActuatorState>;
}

/** Options of the simulated sensors. */
export interface SimSensorOptions {
  /** Receives every reading of a simulated sensor (the server's sensor table). Default: nowhere. */
  onReading?: (reading: Reading) => void;
  /** How often every simulated sensor reports, as a node would. Default: 1000 ms. */
  readingIntervalMs?: number;
}

/** Simulated nodes inside the process; they are always online and never in safe mode. */
export class SimDriver implements ActuatorDriver, DeviceDirectory {
  readonly kind = 'sim' as const;
  readonly #nodes = new Map<string, Node>();
  readonly #latencyMs: number;
  readonly #sensors = new SimulatedSensors((espId, gpio) => {
    const actuator = this.#nodes.get(espId)?.actuators.get(gpio);
    return actuator?.on ? actuator.value : 0;
  });
  readonly #onReading: (reading: Reading) => void;
  readonly #readingIntervalMs: number;
  #ticker: NodeJS.Timeout | null = null;

  /** `latencyMs`: default answer delay of every node (SPEC default 20). */
  constructor(latencyMs = 20, sensors: SimSensorOptions = {}) {
    this.#latencyMs = latencyMs;
    this.#onReading = sensors.onReading ?? (() => {});
    this.#readingIntervalMs = sensors.readingIntervalMs ?? 1000;
  }

  async start(): Promise<void> {}

  /** Idempotent: stops the sensors' timer. */
  async close(): Promise<void> {
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = null;
  }

  /** Sets a simulated sensor's reading and model (creating it) and reports the reading at once. */
  setSensor(espId: string, gpio: number, setting: SensorSetting): SimulatedSensorView {
    const now = Date.now();
    this.#onReading(this.#sensors.set(espId, gpio, setting, now));
    // One timer for every sensor, started with the first: a node reports its sensors every few seconds.
    this.#ticker ??= setInterval(() => this.#report(), this.#readingIntervalMs).unref();
    return this.#sensors.list(now).find((s) => s.esp_id === espId && s.gpio === gpio) as SimulatedSensorView;
  }

  /** Every simulated sensor with its model and its value now. */
  sensors(): SimulatedSensorView[] {
    return this.#sensors.list(Date.now());
  }

  #report(): void {
    for (const reading of this.#sensors.readings(Date.now())) this.#onReading(reading);
  }

  health(): DriverHealth {
    return { ok: true, detail: `sim: ${this.#nodes.size} nodes` };
  }

  send(command: ActuatorCommand, { signal }: SendOptions): Promise<ActuatorResponse> {
    const node = this.#node(command.esp_id);
    node.commands++;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const answer = () => {
        if (node.fail) return resolve({ success: false, message: `${command.esp_id}: simulated failure` });
        this.#apply(node, command);
        resolve({ success: true, message: `${command.esp_id} gpio ${command.gpio} ${command.command} ok` });
      };
      // An answer within this tick cannot be overtaken by an abort: no listener needed.
      if (!node.hang && node.latency_ms <= 0) {
        queueMicrotask(() => (signal.aborted ? reject(signal.reason) : answer()));
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      if (node.hang) return;
      timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        answer();
      }, node.latency_ms);
    });
  }

  /** Changes a node's behaviour (creating it if new) and returns it. */
  configure(espId: string, change: Partial<SimBehaviour>): SimDevice {
    Object.assign(this.#node(espId), change);
    return this.#view(espId, this.#node(espId));
  }

  /** Every node with its actuators. */
  devices(): SimDevice[] {
    return [...this.#nodes.entries()].map(([id, node]) => this.#view(id, node));
  }

  /** Every node as `GET /devices` shows it: online (it lives in this process), seen when it last applied a command. */
  nodes(): NodeReport[] {
    return [...this.#nodes.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([espId, node]) => {
        const actuators = [...node.actuators.values()].sort((a, b) => a.gpio - b.gpio);
        const updated = actuators.map((a) => a.updatedAt);
        return {
          esp_id: espId,
          presence: 'online' as const,
          last_seen_at: updated.length > 0 ? Math.max(...updated) : null,
          safe_mode: false,
          safe_mode_reason: null,
          actuators: actuators.map((a) => ({
            gpio: a.gpio,
            state: a.on ? ('ON' as const) : ('OFF' as const),
            value: a.value,
            last_command: a.last_command,
            emergency: null,
            updated_at: a.updatedAt,
          })),
        };
      });
  }

  /** One actuator's state, or undefined if never commanded. */
  actuator(espId: string, gpio: number): SimActuator | undefined {
    const state = this.#nodes.get(espId)?.actuators.get(gpio);
    return state && viewOf(state);
  }

  #node(espId: string): Node {
    let node = this.#nodes.get(espId);
    if (!node) {
      node = { latency_ms: this.#latencyMs, fail: false, hang: false, commands: 0, actuators: new Map() };
      this.#nodes.set(espId, node);
    }
    return node;
  }

  #apply(node: Node, command: ActuatorCommand): void {
    const current = node.actuators.get(command.gpio);
    const wasOn = current?.on ?? false;
    let on: boolean;
    let value: number;
    switch (command.command) {
      case 'ON': on = true; value = 1; break;
      case 'OFF': on = false; value = 0; break;
      case 'PWM': value = command.value; on = value > 0; break;
      case 'TOGGLE': on = !wasOn; value = on ? 1 : 0; break;
    }
    const now = Date.now();
    node.actuators.set(command.gpio, { gpio: command.gpio, on, value, last_command: command.command, updatedAt: now });
    for (const reading of this.#sensors.actuatorChanged(command.esp_id, command.gpio, on ? value : 0, now)) this.#onReading(reading);
  }

  #view(espId: string, node: Node): SimDevice {
    return {
      esp_id: espId,
      latency_ms: node.latency_ms,
      fail: node.fail,
      hang: node.hang,
      commands: node.commands,
      actuators: [...node.actuators.values()].sort((a, b) => a.gpio - b.gpio).map(viewOf),
    };
  }
}

function viewOf({ updatedAt, ...actuator }: ActuatorState): SimActuator {
  return { ...actuator, updated_at: new Date(updatedAt).toISOString() };
}
