/**
 * The contract between the engine and whatever moves real (or simulated) actuators.
 * `sim` and `mqtt` implement it; the `actuator_command` executor is its only caller.
 */

/** The commands an ESP32 actuator understands (SPEC section 2). */
export type ActuatorCommandName = 'ON' | 'OFF' | 'PWM' | 'TOGGLE';

/** One command to one actuator, addressed as `esp_id` + `gpio`. */
export interface ActuatorCommand {
  esp_id: string;
  gpio: number;
  command: ActuatorCommandName;
  /** PWM duty 0.0..1.0; 1 for ON, 0 for OFF. */
  value: number;
  /** Seconds the device keeps the actuator on by itself; 0 = until told otherwise. */
  duration_seconds: number;
  /** Matches a device's response to this command. Unique per command. */
  correlation_id: string;
}

/** What the device answered. `success: false` fails the step with the device's message. */
export interface ActuatorResponse {
  success: boolean;
  message: string;
}

/** Per-call options. The caller owns the timeout: it aborts `signal` when the attempt's time is up. */
export interface SendOptions {
  signal: AbortSignal;
  /** The attempt's time budget, for drivers that want to tell the device (e.g. message expiry). */
  timeoutMs: number;
}

/** Health of the path to the devices, shown on `/health` and in metrics. */
export interface DriverHealth {
  ok: boolean;
  detail: string;
}

/**
 * An actuator driver. `send` resolves with the device's answer, rejects with a `SequencerError`
 * when the command cannot be delivered (broker down: at once, never by hanging), and rejects with
 * the signal's reason when `signal` aborts. It never resolves after an abort.
 */
export interface ActuatorDriver {
  readonly kind: 'sim' | 'mqtt';
  start(): Promise<void>;
  send(command: ActuatorCommand, options: SendOptions): Promise<ActuatorResponse>;
  health(): DriverHealth;
  /** Idempotent. Stops reconnecting and releases sockets. */
  close(): Promise<void>;
}

/** How a node's presence is known: `unknown` until it sent a heartbeat (or with no way to tell). */
export type Presence = 'online' | 'offline' | 'unknown';

/** One actuator of a node as a driver knows it (SPEC 7 `GET /devices`, without the lease). */
export interface ActuatorReport {
  gpio: number;
  /** What the node last reported, or else what it last accepted; `UNKNOWN` when neither is known. */
  state: 'ON' | 'OFF' | 'UNKNOWN';
  /** The duty 0..1 that goes with `state`. */
  value: number | null;
  /** The last command sent to it, if any. */
  last_command: string | null;
  /** The node's emergency status of it (`normal`, `active`, `clearing`, `resuming`), when it reports one. */
  emergency: string | null;
  /** Unix ms of the last report or command. */
  updated_at: number | null;
}

/** One node as a driver knows it. */
export interface NodeReport {
  esp_id: string;
  presence: Presence;
  /** Unix ms of the last message from the node (or of the last answer of a simulated node). */
  last_seen_at: number | null;
  safe_mode: boolean;
  safe_mode_reason: string | null;
  actuators: ActuatorReport[];
}

/** A driver that can list the nodes it knows (both built-in drivers can). */
export interface DeviceDirectory {
  /** Every known node, sorted by `esp_id`, its actuators by gpio. */
  nodes(): NodeReport[];
}
