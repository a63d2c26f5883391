/**
 * Helpers of the MQTT integration tests: a server configuration driving MQTT nodes, action
 * steps, a user's view of a server (start runs and read them over HTTP, wait on the engine's
 * events), an MQTT spy that records what crosses the broker, a wait on a snapshot, and a whole rig
 * (the emulator on a broker and a server driving it).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { expect } from 'vitest';
import { defaultConfig, type ServerConfig } from '../../src/config/server-config.ts';
import type { Progress } from '../../src/domain/progress.ts';
import { DeviceEmulator, type DeviceEmulatorOptions } from '../../src/drivers/device-emulator.ts';
import { startServer, type RunningServer } from '../../src/server.ts';

/** A server on port 0, memory only, no rate limits (the burst would wait for tokens), driving MQTT nodes. */
export function mqttConfig(overrides: Partial<ServerConfig>): ServerConfig {
  return {
    ...defaultConfig(),
    port: 0,
    db: ':memory:',
    driver: 'mqtt',
    rate_limits: { starts_per_second: 0, commands_per_second: 0, commands_per_esp_per_second: 0 },
    ...overrides,
  };
}

/** An action step; `extra` adds step fields such as `timeout_seconds` or `on_failure`. */
export function act(esp_id: string, gpio: number, command: 'ON' | 'OFF' | 'PWM', extra: Record<string, unknown> = {}, value?: number): object {
  const action = { type: 'actuator_command', esp_id, gpio, command, ...(value === undefined ? {} : { value }) };
  return { name: `${command} ${esp_id}:${gpio}`, action, ...extra };
}

/** The user's view of a server: start runs and read their progress over HTTP, wait on the engine's events. */
export function client(server: RunningServer) {
  const ended = new Set<string>();
  const waiting = new Map<string, () => void>();
  // Subscribed before any start: a run that fails at once may end before its POST is answered.
  server.services.engine.events.subscribe((event) => {
    if (event.type !== 'sequence_completed') return;
    const runId = (event.data as { run_id: string }).run_id;
    ended.add(runId);
    waiting.get(runId)?.();
  });
  const getJson = async (path: string): Promise<{ status: number; body: unknown; text: string }> => {
    const response = await fetch(`${server.url}${path}`);
    const text = await response.text();
    return { status: response.status, text, body: response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : null };
  };
  return {
    async start(definition: object): Promise<string> {
      const response = await fetch(`${server.url}/api/v1/sequences`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(definition),
      });
      const body = (await response.json()) as { run_id: string };
      expect(response.status, JSON.stringify(body)).toBe(202);
      return body.run_id;
    },
    async ended(runId: string): Promise<Progress> {
      if (!ended.has(runId)) await new Promise<void>((resolve) => waiting.set(runId, resolve));
      return (await getJson(`/api/v1/sequences/${runId}`)).body as Progress;
    },
    async run(definition: object): Promise<Progress> {
      return this.ended(await this.start(definition));
    },
    get: getJson,
    async post(path: string, body: object = {}): Promise<{ status: number; body: unknown }> {
      const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: await response.json() };
    },
    health: () => getJson('/health'),
    metrics: async () => (await getJson('/metrics')).text,
  };
}

/** One message the spy saw. */
export interface Seen {
  topic: string;
  payload: unknown;
}

/** An MQTT client subscribed to `filters` that keeps every message, and waits for one. */
export async function mqttSpy(url: string, filters: string[]) {
  const client: MqttClient = await mqtt.connectAsync(url);
  const seen: Seen[] = [];
  const waiters: { match(m: Seen): boolean; resolve(m: Seen): void }[] = [];
  client.on('message', (topic, payload) => {
    let body: unknown = payload.toString();
    try {
      body = JSON.parse(body as string);
    } catch {
      // Kept as text: the spy records what crossed the broker, whatever it was.
    }
    const message = { topic, payload: body };
    seen.push(message);
    for (const waiter of [...waiters]) {
      if (!waiter.match(message)) continue;
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(message);
    }
  });
  if (filters.length > 0) await client.subscribeAsync(filters, { qos: 2 });
  return {
    seen,
    /** The first message (seen already or to come) on `topic` whose payload `match` accepts. */
    next(topic: string, match: (payload: Record<string, unknown>) => boolean = () => true): Promise<Seen> {
      const accepts = (m: Seen) => m.topic === topic && match(m.payload as Record<string, unknown>);
      const already = seen.find(accepts);
      if (already) return Promise.resolve(already);
      return new Promise((resolve) => waiters.push({ match: accepts, resolve }));
    },
    /** Publishes `payload` (JSON-encoded unless it is a string) at QoS 1. */
    publish: (topic: string, payload: unknown) =>
      client.publishAsync(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 }),
    close: () => client.endAsync(true),
  };
}

/** Resolves once `check` returns a value other than undefined, looking again after each turn of the event loop that let I/O in. */
export async function until<T>(check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The emulator playing the nodes on a broker, and a server driving them over MQTT. */
export interface MqttRig {
  emulator: DeviceEmulator;
  server: RunningServer;
  user: ReturnType<typeof client>;
  /** Closes the server, then the emulator (the broker is the caller's). */
  close(): Promise<void>;
}

/** Starts the emulator (before the server, so the first commands find their nodes) and a server on `brokerUrl`. */
export async function startMqttRig(brokerUrl: string, emulatorOptions: Omit<DeviceEmulatorOptions, 'url'>, onEmulator?: (emulator: DeviceEmulator) => void): Promise<MqttRig> {
  const emulator = new DeviceEmulator({ url: brokerUrl, ...emulatorOptions });
  onEmulator?.(emulator);
  await emulator.start();
  const server = await startServer(mqttConfig({ mqttUrl: brokerUrl }));
  return {
    emulator,
    server,
    user: client(server),
    async close() {
      await server.close();
      await emulator.close();
    },
  };
}
