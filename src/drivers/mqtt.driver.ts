/**
 * The `mqtt` actuator driver: speaks AutomationOne's ESP32 topic contract (SPEC section 9) over
 * MQTT.js. One client, one wildcard subscription for every response, and a map from
 * `correlation_id` to the waiting caller.
 */
import { EventEmitter, once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { Codes, SequencerError } from '../domain/errors.ts';
import type {
  ActuatorCommand,
  ActuatorDriver,
  ActuatorResponse,
  DriverHealth,
  SendOptions,
} from './actuator-driver.ts';

/** Options of the MQTT driver; every field but `url` has a default. */
export interface MqttDriverOptions {
  /** Broker URL, `mqtt://host:port` or `mqtts://host:port`. Required. */
  url: string;
  /** Broker user name. Default: none (anonymous). */
  username?: string;
  /** Broker password. Default: none. */
  password?: string;
  /** PEM file of the CA that signed the broker's certificate (TLS). Default: the system CAs. */
  caFile?: string;
  /** PEM file of this client's certificate (mutual TLS). Default: none. */
  certFile?: string;
  /** PEM file of this client's private key (mutual TLS). Default: none. */
  keyFile?: string;
  /** MQTT client id. Default: `sequencer-` + 8 random hex digits, so two instances never evict each other. */
  clientId?: string;
  /** The `kaiser_id` topic segment. Default: `god`. */
  kaiserId?: string;
  /** How long `start()` and each connection attempt wait for the broker. Default: 5000 ms. */
  connectTimeoutMs?: number;
  /** Pause between reconnection attempts while the broker is down. Default: 1000 ms. */
  reconnectPeriodMs?: number;
  /** MQTT keepalive; a silently dead broker is noticed within 1.5x this. Default: 30 s. */
  keepaliveSeconds?: number;
}

/** Events of the driver, for metrics and logs. Listeners must be cheap; their errors are ignored. */
export interface MqttDriverEvents {
  /** Connected and subscribed to responses: commands can flow (health is ok). */
  connect: [];
  /** An established connection was lost; `reason` is the last error seen. Counted by `disconnects`. */
  disconnect: [reason: string];
}

type Resolved = Required<Omit<MqttDriverOptions, 'username' | 'password' | 'caFile' | 'certFile' | 'keyFile'>> &
  Pick<MqttDriverOptions, 'username' | 'password' | 'caFile' | 'certFile' | 'keyFile'>;

interface Pending {
  /** The only topic a valid answer to this command may arrive on. */
  responseTopic: string;
  resolve(response: ActuatorResponse): void;
  reject(error: unknown): void;
}

/** An `esp_id` usable as one topic level: no separator, no wildcard, not empty. */
const TOPIC_LEVEL = /^[^/+#]+$/;

/** The command topic of one actuator. */
export function commandTopic(kaiserId: string, espId: string, gpio: number): string {
  return `kaiser/${kaiserId}/esp/${espId}/actuator/${gpio}/command`;
}

/** The response topic of one actuator. */
export function responseTopic(kaiserId: string, espId: string, gpio: number): string {
  return `kaiser/${kaiserId}/esp/${espId}/actuator/${gpio}/response`;
}

/** The URL without credentials, safe for messages and `/health`. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

function readPem(kind: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new SequencerError(Codes.INTERNAL_ERROR, `MQTT TLS ${kind} file unreadable (${path}): ${(err as Error).message}`);
  }
}

/** Parses a device answer; null when it does not follow the contract. */
function parseResponse(payload: Buffer): { success: boolean; message: string; correlation_id: string } | null {
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof body !== 'object' || body === null) return null;
  const { success, message, correlation_id } = body as Record<string, unknown>;
  if (typeof success !== 'boolean' || typeof correlation_id !== 'string' || correlation_id === '') return null;
  if (message !== undefined && typeof message !== 'string') return null;
  return { success, message: message ?? '', correlation_id };
}

/**
 * Drives ESP32 actuators through an MQTT broker. Commands fail at once while the broker is away,
 * and every command still waiting when the connection drops fails too; the client reconnects in
 * the background and `connect`/`disconnect` events tell metrics about it.
 */
export class MqttDriver extends EventEmitter<MqttDriverEvents> implements ActuatorDriver {
  readonly kind = 'mqtt' as const;
  private readonly options: Resolved;
  private readonly safeUrl: string;
  private readonly responseFilter: string;
  private readonly pending = new Map<string, Pending>();
  private client: MqttClient | null = null;
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
  private unmatchedCount = 0;

  /** Resolves the options once; nothing connects before `start()`. */
  constructor(options: MqttDriverOptions) {
    super();
    // `??` per field, so an explicit `undefined` from a parsed config still gets the default.
    this.options = {
      ...options,
      clientId: options.clientId ?? `sequencer-${Math.random().toString(16).slice(2, 10)}`,
      kaiserId: options.kaiserId ?? 'god',
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      reconnectPeriodMs: options.reconnectPeriodMs ?? 1000,
      keepaliveSeconds: options.keepaliveSeconds ?? 30,
    };
    this.safeUrl = redactUrl(this.options.url);
    this.responseFilter = `kaiser/${this.options.kaiserId}/esp/+/actuator/+/response`;
  }

  /** Connections lost since start (not failed reconnection attempts). */
  get disconnects(): number {
    return this.disconnectCount;
  }

  /** Response payloads ignored because they were not valid JSON of the contract's shape. */
  get malformedResponses(): number {
    return this.malformedCount;
  }

  /** Well-formed responses nobody waited for (late, after an abort, or on the wrong topic). */
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
    const clientOptions: IClientOptions = {
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      ca: readPem('ca', o.caFile),
      cert: readPem('cert', o.certFile),
      key: readPem('key', o.keyFile),
      connectTimeout: o.connectTimeoutMs,
      reconnectPeriod: o.reconnectPeriodMs,
      // A broker refusing us (credentials, overload) may accept later; an unattended service keeps trying.
      reconnectOnConnackError: true,
      keepalive: o.keepaliveSeconds,
      clean: true,
      // The driver subscribes itself on every connect, so it knows when responses can arrive.
      resubscribe: false,
    };
    const client = mqtt.connect(o.url, clientOptions);
    this.client = client;
    client.on('connect', () => this.onConnect(client));
    client.on('close', () => this.onClose(client));
    client.on('error', (err) => {
      this.lastError = err.message;
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
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
   * Publishes the command at QoS 2 and waits for the device's answer with the same correlation id.
   * Rejects at once with 5614 while the broker is unreachable; rejects with `signal.reason` on abort.
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
    const id = command.correlation_id;
    if (this.pending.has(id)) {
      return Promise.reject(new SequencerError(Codes.INTERNAL_ERROR, `correlation_id ${id} is already waiting for an answer`));
    }
    const { kaiserId } = this.options;
    return new Promise<ActuatorResponse>((resolve, reject) => {
      const onAbort = (): void => settle(() => reject(signal.reason));
      const settle = (finish: () => void): void => {
        if (this.pending.get(id) !== entry) return;
        this.pending.delete(id);
        signal.removeEventListener('abort', onAbort);
        finish();
      };
      const entry: Pending = {
        responseTopic: responseTopic(kaiserId, command.esp_id, command.gpio),
        resolve: (response) => settle(() => resolve(response)),
        reject: (error) => settle(() => reject(error)),
      };
      this.pending.set(id, entry);
      signal.addEventListener('abort', onAbort, { once: true });
      const payload = JSON.stringify({
        command: command.command,
        value: command.value,
        duration: command.duration_seconds,
        timestamp: Math.floor(Date.now() / 1000),
        correlation_id: id,
      });
      client.publish(commandTopic(kaiserId, command.esp_id, command.gpio), payload, { qos: 2 }, (err) => {
        if (err) entry.reject(this.unreachable(err.message));
      });
    });
  }

  /** Broker state: ok only while connected and subscribed to responses. */
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

  private onConnect(client: MqttClient): void {
    // Commands and answers are tiny packets; with Nagle on, bench/mqtt ran about 3x slower.
    (client.stream as Partial<Pick<Socket, 'setNoDelay'>>).setNoDelay?.(true);
    this.lastError = null;
    this.linkUp = true;
    this.subscribed = false;
    this.subscribeError = null;
    client.subscribe(this.responseFilter, { qos: 1 }, (err, granted) => {
      if (client !== this.client) return;
      if (err || !granted || granted.some((g) => g.qos === 128)) {
        this.subscribeError = `subscription to ${this.responseFilter} refused${err ? `: ${err.message}` : ''}`;
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
    const response = parseResponse(payload);
    if (!response) {
      this.malformedCount += 1;
      return;
    }
    const entry = this.pending.get(response.correlation_id);
    if (!entry || entry.responseTopic !== topic) {
      this.unmatchedCount += 1;
      return;
    }
    entry.resolve({ success: response.success, message: response.message });
  }

  private failAll(error: SequencerError): void {
    for (const entry of [...this.pending.values()]) entry.reject(error);
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
