/**
 * Prometheus metrics of one server (issue 3): runs started and ended by status, runs running now,
 * step durations, actuator commands by result, WebSocket clients and event lag, all named
 * `sequencer_*`; beside them prom-client's process and Node.js defaults (CPU, memory, event loop
 * lag, GC, handles) under their usual names. Each server has its own registry (tests build many
 * servers in one process); the defaults describe the process, so they are collected once per
 * process and rendered with every server's. The engine's events feed the registry through one
 * subscription, and the actuator driver is wrapped once so every command is counted, whoever sends it.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ActuatorCommand, ActuatorDriver, ActuatorResponse, SendOptions } from '../drivers/actuator-driver.ts';
import type { EventBus } from '../events/event-bus.ts';
import { LagHistogram, type LagObserver } from './lag-histogram.ts';

/** What the metrics read from the engine. */
export interface MetricsSource {
  events: EventBus;
  /** Runs spawned and not yet ended, read at scrape time. */
  readonly runningCount: number;
}

/** The result label of `sequencer_actuator_commands_total`. */
export type CommandResult = 'ok' | 'failed' | 'error' | 'aborted';

/** The instruments of one server. */
export interface Metrics {
  /** This server's `sequencer_*` instruments (the process defaults are in `render()` too). */
  readonly registry: Registry;
  readonly runsStarted: Counter;
  readonly runsEnded: Counter<'status'>;
  readonly stepDuration: Histogram<'phase' | 'result'>;
  readonly actuatorCommands: Counter<'result'>;
  /** MQTT connections lost (the composition root feeds it from the mqtt driver's `disconnect` event). */
  readonly mqttDisconnects: Counter;
  /** Device answers no waiting command matched (fed from the mqtt driver's `unmatched` event). */
  readonly mqttUnmatchedResponses: Counter;
  /** Device alerts by type (fed from the mqtt driver's `device_alert` event). */
  readonly deviceAlerts: Counter<'type'>;
  /** Actuators a safe state could not confirm OFF (`safety_alert` events). */
  readonly safetyAlerts: Counter;
  /** Sensor readings kept in the sensor table, by source (`mqtt`, `sim`). */
  readonly sensorReadings: Counter<'source'>;
  /** Sensor payloads ignored because they do not follow the firmware document (fed from the mqtt driver's `malformed_sensor` event). */
  readonly sensorPayloadsMalformed: Counter;
  /** Connected WebSocket clients: the stream plugin calls `inc()` on connect and `dec()` on close. */
  readonly wsClients: Gauge;
  /** Seconds from an event happening to its hand-over to a WebSocket client (the stream observes it). */
  readonly eventLagSeconds: LagObserver;
  /** Seconds from an event happening to its publication on the bus (write-ahead batching shows here). */
  readonly publishLagSeconds: LagObserver;
  /** Subscribes to the engine's events and reads its running count; returns the unsubscribe. */
  watch(source: MetricsSource): () => void;
  /** Wraps a driver so that every command it sends is counted by result. */
  countCommands(driver: ActuatorDriver): ActuatorDriver;
  /** The Prometheus text exposition. */
  render(): Promise<string>;
  /** The content type of `render()`. */
  readonly contentType: string;
}

let processRegistry: Registry | null = null;

/**
 * The process and Node.js defaults, collected once per process: each collection starts its own
 * event-loop monitor and GC observer, which must not multiply with the servers of a test run.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

const LAG_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const STEP_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 3600];

/** Creates the instruments in a fresh registry. Nothing is counted until `watch` / `countCommands`. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  const defaults = processMetrics();
  const registers = [registry];
  let source: MetricsSource | null = null;
  const runsStarted = new Counter({ name: 'sequencer_runs_started_total', help: 'Runs started', registers });
  const runsEnded = new Counter({
    name: 'sequencer_runs_ended_total',
    help: 'Runs ended, by final status',
    labelNames: ['status'] as const,
    registers,
  });
  new Gauge({
    name: 'sequencer_runs_running',
    help: 'Runs spawned and not yet ended (paused runs included)',
    registers,
    collect() {
      this.set(source?.runningCount ?? 0);
    },
  });
  const stepDuration = new Histogram({
    name: 'sequencer_step_duration_seconds',
    help: 'Duration of ended steps, by phase (steps, cleanup) and result (success, failure)',
    labelNames: ['phase', 'result'] as const,
    buckets: STEP_BUCKETS,
    registers,
  });
  const actuatorCommands = new Counter({
    name: 'sequencer_actuator_commands_total',
    help: 'Actuator commands sent, by result (ok, failed: device said no, error: not delivered, aborted)',
    labelNames: ['result'] as const,
    registers,
  });
  const mqttDisconnects = new Counter({
    name: 'sequencer_mqtt_disconnects_total',
    help: 'Established MQTT broker connections lost (failed reconnection attempts are not counted)',
    registers,
  });
  const mqttUnmatchedResponses = new Counter({
    name: 'sequencer_mqtt_unmatched_responses_total',
    help: 'Well-formed device answers that no waiting command matched (late, after an abort, another system\'s); never applied',
    registers,
  });
  const deviceAlerts = new Counter({
    name: 'sequencer_device_alerts_total',
    help: 'Device alerts by type: firmware alerts, safe_mode, status_mismatch, offline, online',
    labelNames: ['type'] as const,
    registers,
  });
  const safetyAlerts = new Counter({
    name: 'sequencer_safety_alerts_total',
    help: 'Actuators a safe state could not confirm OFF (safety_alert events, code 5643)',
    registers,
  });
  const sensorReadings = new Counter({
    name: 'sequencer_sensor_readings_total',
    help: 'Sensor readings kept as their sensor\'s latest, by source (mqtt, sim)',
    labelNames: ['source'] as const,
    registers,
  });
  const sensorPayloadsMalformed = new Counter({
    name: 'sequencer_sensor_payloads_malformed_total',
    help: 'MQTT sensor data and batch payloads ignored because they do not follow the firmware document',
    registers,
  });
  const wsClients = new Gauge({ name: 'sequencer_ws_clients', help: 'Connected WebSocket clients', registers });
  const eventLagSeconds = new LagHistogram({
    name: 'sequencer_event_lag_seconds',
    help: 'Seconds from an event happening to its hand-over to a WebSocket client',
    buckets: LAG_BUCKETS,
    registry,
  });
  const publishLagSeconds = new LagHistogram({
    name: 'sequencer_event_publish_lag_seconds',
    help: 'Seconds from an event happening to its publication on the event bus',
    buckets: LAG_BUCKETS,
    registry,
  });
  // Pre-create the usual label sets so a scrape shows zeros rather than missing series.
  for (const result of ['ok', 'failed', 'error', 'aborted']) actuatorCommands.inc({ result }, 0);

  return {
    registry,
    runsStarted,
    runsEnded,
    stepDuration,
    actuatorCommands,
    mqttDisconnects,
    mqttUnmatchedResponses,
    deviceAlerts,
    safetyAlerts,
    sensorReadings,
    sensorPayloadsMalformed,
    wsClients,
    eventLagSeconds,
    publishLagSeconds,
    contentType: registry.contentType,
    watch(next) {
      source = next;
      return next.events.subscribe((event) => {
        publishLagSeconds.observe(Math.max(0, Date.now() / 1000 - event.timestamp));
        switch (event.type) {
          case 'sequence_started':
            runsStarted.inc();
            break;
          case 'safety_alert':
            safetyAlerts.inc();
            break;
          case 'sequence_completed':
            runsEnded.inc({ status: (event.data as { status: string }).status });
            break;
          case 'sequence_step': {
            const step = event.data as { status: string; phase: string; duration_ms: number | null };
            if ((step.status === 'completed' || step.status === 'failed') && step.duration_ms !== null) {
              stepDuration.observe({ phase: step.phase, result: step.status === 'completed' ? 'success' : 'failure' }, step.duration_ms / 1000);
            }
            break;
          }
        }
      });
    },
    countCommands(driver) {
      return new CountingDriver(driver, (result) => actuatorCommands.inc({ result }));
    },
    render: async () => (await registry.metrics()) + (await defaults.metrics()),
  };
}

/** A driver that counts what the driver it wraps does with each command. */
class CountingDriver implements ActuatorDriver {
  readonly #inner: ActuatorDriver;
  readonly #count: (result: CommandResult) => void;

  constructor(inner: ActuatorDriver, count: (result: CommandResult) => void) {
    this.#inner = inner;
    this.#count = count;
  }

  get kind(): ActuatorDriver['kind'] {
    return this.#inner.kind;
  }

  start(): Promise<void> {
    return this.#inner.start();
  }

  async send(command: ActuatorCommand, options: SendOptions): Promise<ActuatorResponse> {
    try {
      const response = await this.#inner.send(command, options);
      this.#count(response.success ? 'ok' : 'failed');
      return response;
    } catch (error) {
      this.#count(options.signal.aborted ? 'aborted' : 'error');
      throw error;
    }
  }

  health() {
    return this.#inner.health();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
