/**
 * The composition root: builds the driver, the store, the safety system and the engine from a
 * resolved configuration, wires them together, and closes them in order. The HTTP app and the CLI
 * both stand on it.
 */
import { DEFAULT_SAFE_STATE_TIMEOUT_SECONDS, type ServerConfig } from './config/server-config.ts';
import { leaseGuarded } from './cluster/lease-guarded-driver.ts';
import { Codes, SequencerError } from './domain/errors.ts';
import type { ActuatorDriver, DeviceDirectory } from './drivers/actuator-driver.ts';
import { createMqttDriver, EmbeddedBrokerMqttDriver } from './drivers/create-driver.ts';
import { MqttDriver } from './drivers/mqtt.driver.ts';
import { SimDriver } from './drivers/sim.driver.ts';
import { Engine } from './engine/engine.ts';
import type { RecoveryCounts } from './engine/recovery.ts';
import { EventHub } from './events/event-hub.ts';
import { startInspector, type Inspector } from './events/inspector.ts';
import { builtinExecutors } from './executors/builtin-executors.ts';
import { silentLogger, type Logger } from './logging/logger.ts';
import { logRunLifecycle } from './logging/run-log.ts';
import { createMetrics, type Metrics } from './metrics/metrics.ts';
import { SensorTable } from './sensors/sensor-table.ts';
import { applyDeviceAlert } from './safety/device-faults.ts';
import type { LatchPress, LatchState } from './safety/emergency-latch.ts';
import { StartRateLimiter } from './safety/rate-limiter.ts';
import { PausedOutputs } from './safety/paused-outputs.ts';
import { SafetyPolicy } from './safety/safety-policy.ts';
import { recoveredCommands } from './safety/recovered-commands.ts';
import { failedText, safetyAlerts } from './safety/safe-state-report.ts';
import { SafetySystem, type UnconfirmedLease } from './safety/safety-system.ts';
import { pruneInChunks } from './store/history.retention.ts';
import type { RunStore } from './store/run-store.ts';
import { TemplateService } from './templates/template-service.ts';
import { ClusterLeases } from './cluster/cluster-leases.ts';
import { ClusterRateLimit } from './cluster/cluster-rate-limit.ts';
import { ClusterNode } from './cluster/cluster-node.ts';
import { openPgPool } from './store/postgres/postgres.pool.ts';
import { PostgresStore } from './store/postgres/postgres.store.ts';

/** Everything a running server holds. */
export interface Services {
  config: ServerConfig;
  engine: Engine;
  driver: ActuatorDriver;
  /** The simulated nodes, when the driver is `sim`. */
  sim: SimDriver | null;
  /** The MQTT driver (connection events, counters, `whenConnected()`), when the driver is `mqtt`. */
  mqtt: MqttDriver | null;
  /** The nodes the driver knows (SPEC 7 `GET /devices`); empty for a driver that cannot tell. */
  devices: DeviceDirectory;
  /** The latest reading of every sensor (SPEC 9.1), fed by the driver. */
  sensors: SensorTable;
  safety: SafetySystem;
  store: RunStore | null;
  /** Stored sequence templates (SPEC 7); also resolves nested template calls for the engine. */
  templates: TemplateService;
  /** Prometheus instruments of this server (the driver above counts its commands into them). */
  metrics: Metrics;
  /** The last events of the engine (in a cluster: of every node), for the WebSocket stream's replay. */
  hub: EventHub;
  /** This node's part in a cluster, when the store is PostgreSQL (SPEC 14). */
  cluster: ClusterNode | null;
  /** The Stately inspector, when `config.inspect`. */
  inspector: Inspector | null;
  /** The server's logger: runs, requests, the driver, errors (silent unless the caller gave one). */
  logger: Logger;
  /**
   * What recovery at start did with the runs the store held as unfinished (SPEC 11); `cancelled`:
   * those of them cancelled because the emergency stop still holds.
   */
  recovered: RecoveryCounts & { cancelled: number };
  /**
   * Cancels every run, turns OFF every actuator runs touched, blocks commands and starts; with the
   * mqtt driver also broadcasts the stop to every node (SPEC 10).
   */
  emergencyStop(reason: string | null): Promise<EmergencyStopResult>;
  /** Lifts the emergency stop (and, with the mqtt driver, the nodes' own: SPEC 10); resolves once that is stored. */
  clearEmergencyStop(): Promise<void>;
  /** Idempotent: stops the engine, the safety system, the driver and the store, in that order. */
  close(): Promise<void>;
}

/** Hooks for what the services report. */
export interface ServiceHooks {
  /** Where every log line goes (default: nowhere). */
  logger?: Logger;
  /** Errors the services meet while running (default: an error line on the logger). */
  onError?: (error: unknown, message: string) => void;
  /** Opens the store (the durability layer); null keeps everything in memory. */
  openStore?: (config: ServerConfig) => RunStore | null | Promise<RunStore | null>;
  /** Builds the driver for `mqtt` instead of `createMqttDriver` (tests swap the devices with it). */
  createDriver?: (config: ServerConfig) => Promise<ActuatorDriver>;
  /** Port of the Stately inspector relay, overriding `config.inspectPort` (tests pick 0). */
  inspectPort?: number;
}

/** What an emergency stop did. */
export interface EmergencyStopResult {
  /** Runs it cancelled (running, paused and queued; runs already in cleanup are not counted). */
  runs_cancelled: number;
  /** Actuators the devices confirmed OFF. */
  actuators_off: number;
  /** `esp:gpio: why` for every OFF that failed: these need a person. */
  actuators_failed: string[];
}

const LATCH_KEY = 'emergency_stop';
const LATCH_HISTORY_KEY = 'emergency_stop_history';
const UNCONFIRMED_KEY = 'unconfirmed_off';
const DAY_MS = 86_400_000;

/** Builds and starts the services of a server. */
export async function createServices(config: ServerConfig, hooks: ServiceHooks = {}): Promise<Services> {
  const logger = hooks.logger ?? silentLogger();
  const onError = hooks.onError ?? ((error: unknown, message: string) => logger.error({ err: error }, message));
  const store = (await hooks.openStore?.(config)) ?? null;
  // Several nodes on one PostgreSQL: this one joins the cluster's services.
  const cluster =
    store instanceof PostgresStore
      ? new ClusterNode({ pool: store.pool, admissionPool: openPgPool(config.db, { max: 4, onError: (error) => onError(error, 'cluster admission connection failed') }), nodeId: store.nodeId, onError })
      : null;
  const metrics = createMetrics();
  const sensors = new SensorTable();
  const sim = config.driver === 'sim' ? new SimDriver(config.simLatencyMs, { onReading: (reading) => keep(reading, 'sim') }) : null;
  function keep(reading: Parameters<SensorTable['update']>[0], source: 'sim' | 'mqtt'): void {
    if (sensors.update(reading)) metrics.sensorReadings.inc({ source });
  }
  const inner = sim ?? (await (hooks.createDriver ?? createMqttDriver)(config));
  const mqtt = inner instanceof MqttDriver ? inner : null;
  const devices: DeviceDirectory = 'nodes' in inner && typeof inner.nodes === 'function' ? (inner as ActuatorDriver & DeviceDirectory) : { nodes: () => [] };
  if (inner instanceof EmbeddedBrokerMqttDriver) logger.info({ url: inner.broker.url }, `embedded MQTT broker listening on ${inner.broker.url}`);
  mqtt?.on('connect', () => logger.info('MQTT broker connected'));
  mqtt?.on('disconnect', (reason) => {
    metrics.mqttDisconnects.inc();
    logger.warn({ reason }, 'MQTT broker connection lost');
  });
  mqtt?.on('reading', (reading) => keep(reading, 'mqtt'));
  mqtt?.on('malformed_sensor', (topic) => {
    metrics.sensorPayloadsMalformed.inc();
    logger.debug({ topic }, 'MQTT sensor payload that does not follow the firmware document, ignored');
  });
  mqtt?.on('unmatched', (topic, detail) => {
    metrics.mqttUnmatchedResponses.inc();
    logger.debug({ topic, detail }, 'MQTT answer nobody waits for, ignored');
  });
  // On a store shared by several nodes no command leaves once this node's leases may have expired
  // (SPEC 14); a store of one node's own has no leases to expire.
  let mayDrive = () => true;
  const counted = metrics.countCommands(inner);
  const driver = store?.ownership ? leaseGuarded(counted, () => mayDrive()) : counted;
  await driver.start();
  // Latch writes are chained: each press or clear is stored after the one before, and an answer
  // about the stop waits for what it changed to be stored.
  let latchWrites: Promise<void> = Promise.resolve();
  // True while the latch follows another node's press or clear, which that node stored.
  let following = false;
  const storeSetting = (key: string, value: unknown, what: string) => {
    if (following) return;
    // An emergency stop must go on when the disk fails; the latch then holds until the restart.
    latchWrites = latchWrites.then(() => store?.setSetting(key, value)).catch((error: unknown) => onError(error, what));
  };
  const savedLatch = (await store?.getSetting(LATCH_KEY)) as LatchState | undefined;
  const savedHistory = (await store?.getSetting(LATCH_HISTORY_KEY)) as LatchPress[] | undefined;
  const safeStateTimeoutMs = (config.safety.safe_state_timeout_seconds ?? DEFAULT_SAFE_STATE_TIMEOUT_SECONDS) * 1000;
  const savedUnconfirmed = (await store?.getSetting(UNCONFIRMED_KEY)) as UnconfirmedLease[] | undefined;
  const safety = new SafetySystem({
    driver,
    policy: new SafetyPolicy(config.safety),
    commandsPerSecond: config.rate_limits.commands_per_second,
    commandsPerEspPerSecond: config.rate_limits.commands_per_esp_per_second,
    latch: savedLatch ?? undefined,
    onLatchChange: (state) => storeSetting(LATCH_KEY, state, 'emergency stop state could not be stored'),
    latchHistory: savedHistory ?? undefined,
    onLatchHistory: (history) => storeSetting(LATCH_HISTORY_KEY, history, 'emergency stop history could not be stored'),
    safeStateTimeoutMs,
    unconfirmed: savedUnconfirmed,
    ...(cluster ? { shared: new ClusterLeases(cluster.pool, cluster.nodeId, (error) => onError(error, 'cluster actuator lease could not be released')) } : {}),
    ...(cluster ? { sharedRate: new ClusterRateLimit(cluster.pool, { perEsp: config.rate_limits.commands_per_esp_per_second, total: config.rate_limits.commands_per_second }) } : {}),
    onUnconfirmedChange: (leases) => storeSetting(UNCONFIRMED_KEY, leases, 'leases of actuators not confirmed OFF could not be stored'),
  });
  const starts = new StartRateLimiter(config.rate_limits.starts_per_second);
  const executors = builtinExecutors(driver, safety).register(safety.safeStateExecutor());
  // The engine validates templates at PUT, and templates fill the engine's nested calls: each needs the other.
  const templates: TemplateService = new TemplateService({ store, validate: (definition) => engine.validate(definition) });
  // A busy inspector port must not leave the broker connection (or the embedded broker) keeping the process alive.
  const inspector = config.inspect
    ? await startInspector({ port: hooks.inspectPort ?? config.inspectPort }).catch(async (error: unknown) => {
        await driver.close();
        await store?.close();
        throw error;
      })
    : null;
  const engine = new Engine({
    executors,
    inspect: inspector?.inspect,
    store,
    sensors,
    templates,
    limits: {
      maxConcurrent: config.limits.max_concurrent,
      maxSteps: config.limits.max_steps,
      maxDurationSeconds: config.limits.max_duration_seconds,
    },
    admitStart: () => {
      safety.assertNotStopped('Start');
      if (!starts.tryStart()) {
        throw new SequencerError(Codes.RATE_LIMITED, `Start rate limit exceeded (${config.rate_limits.starts_per_second}/s)`, [], undefined, starts.retryAfterMs());
      }
    },
    onRunEnded: (run) => safety.runEnded(run.runId),
    onRunDropped: (runId) => safety.runDropped(runId),
    onRunCrashed: (run) => {
      safety.makeSafe(run.runId).then(
        (report) => {
          for (const alert of safetyAlerts(report, { sequence_id: run.sequenceId, run_id: run.runId })) engine.events.publish('safety_alert', alert, Date.now());
        },
        (error: unknown) => onError(error, `run ${run.runId} crashed and its actuators could not all be turned off`),
      );
    },
    onSweep: (now) => {
      if (!store) return;
      const before = now - config.limits.history_days * DAY_MS;
      pruneInChunks(store, before).catch((error: unknown) => onError(error, 'history prune failed'));
    },
    onRunRecovered: (run, context) => safety.restore(run.runId, run.priority, recoveredCommands(context)),
    outputs: new PausedOutputs(safety, driver, safeStateTimeoutMs),
    onError,
    ...(cluster ? { cluster } : {}),
  });

  mayDrive = () => engine.mayDrive();
  mqtt?.on('device_alert', (alert) => {
    metrics.deviceAlerts.inc({ type: alert.type });
    const failed = applyDeviceAlert(alert, safety.leases, engine);
    logger.warn({ esp_id: alert.esp_id, gpio: alert.gpio, type: alert.type, runs_failed: failed }, `device alert: ${alert.message}`);
  });
  metrics.watch(engine);
  logRunLifecycle(engine.events, logger);
  const hub = new EventHub();
  // In a cluster the stream is the shared event log, every node's events with the cluster's seq.
  // Every other node follows a press or clear once it is stored (they poll for it too).
  const announceLatch = () => latchWrites.then(() => cluster?.announceLatch()).catch((error: unknown) => onError(error, 'emergency stop could not be announced to the cluster'));
  const follow = (change: () => void) => {
    following = true;
    try {
      change();
    } finally {
      following = false;
    }
  };
  if (cluster) {
    await cluster.start(engine, hub, {
      stored: async () => (await store?.getSetting(LATCH_KEY)) as LatchState | undefined,
      local: () => safety.latch.state(),
      written: () => latchWrites,
      async stop(reason) {
        follow(() => safety.latch.trip(reason, Date.now()));
        await cancelEveryRun(engine, reason);
        await safety.turnOff(safety.touched());
      },
      async clear() {
        follow(() => safety.latch.clear(Date.now()));
      },
    });
  }
  else hub.attach(engine.events);
  await templates.load();
  const recovered = { ...(await engine.recover(config.recovery)), cancelled: 0 };
  // Restarted while the emergency stop holds (the server stopped during one, or before it was
  // cleared): the runs it found are cancelled, as the stop would have done, instead of resuming
  // into commands the latch refuses. Their safe state still turns OFF what they held.
  if (safety.latch.active) recovered.cancelled = await cancelEveryRun(engine, safety.latch.state().reason);

  let closed = false;
  return {
    config,
    engine,
    driver,
    sim,
    mqtt,
    devices,
    sensors,
    safety,
    store,
    templates,
    metrics,
    hub,
    cluster,
    inspector,
    logger,
    recovered,
    async emergencyStop(reason) {
      safety.latch.trip(reason, Date.now());
      const announced = announceLatch();
      const cancelled = await cancelEveryRun(engine, reason);
      const turningOff = safety.turnOff(safety.touched());
      // After the OFFs, on the same connection: an emergency-stopped firmware refuses every command, OFF included.
      mqtt?.broadcastEmergency(reason ?? '').catch((error: unknown) => onError(error, 'emergency broadcast could not be published'));
      const report = await turningOff;
      const result = { runs_cancelled: cancelled, actuators_off: report.off.length, actuators_failed: report.failed.map(failedText) };
      // A second press keeps the first reason in the latch; the event says what the latch says.
      const latched = safety.latch.state().reason ?? reason;
      engine.events.publish('emergency_stop', { active: true, reason: latched, runs_cancelled: cancelled, actuators_off: report.off.length }, Date.now());
      await announced;
      return result;
    },
    async clearEmergencyStop() {
      safety.latch.clear(Date.now());
      const announced = announceLatch();
      mqtt?.clearEmergency().catch((error: unknown) => onError(error, 'emergency clear could not be published to the nodes'));
      engine.events.publish('emergency_stop', { active: false, reason: null, runs_cancelled: 0, actuators_off: 0 }, Date.now());
      await announced;
    },
    async close() {
      if (closed) return;
      closed = true;
      await engine.close();
      await cluster?.close();
      await inspector?.close();
      safety.close();
      await driver.close();
      await latchWrites;
      await store?.close();
    },
  };
}

/** Cancels every active run for an emergency stop (reason: the operator's words, if any), each before this returns; resolves with how many were cancelled. */
async function cancelEveryRun(engine: Engine, reason: string | null): Promise<number> {
  const why = reason === null ? 'Emergency stop' : `Emergency stop: ${reason}`;
  const outcomes = engine.activeRuns().map((run) =>
    engine.cancel(run.runId, why).then(
      () => 1,
      // A run already in cleanup is making itself safe; the emergency stop's OFF covers it too.
      () => 0,
    ),
  );
  return (await Promise.all(outcomes)).reduce((a: number, b: number) => a + b, 0);
}
