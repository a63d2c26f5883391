/**
 * A node of a cluster (SPEC 14), wired around one engine: it joins the membership and keeps its
 * heartbeat, feeds the WebSocket hub from the shared event log (every node's events, with the
 * cluster-wide seq), executes the control calls other nodes send for the runs it drives, and sends
 * its own to the nodes that drive the others (`RemoteRuns`), and starts its runs queued behind
 * another node's run once the log shows that run ended. Events that come with no commit
 * (emergency stop, device alerts) are logged in transactions of their own.
 */
import type { Pool } from 'pg';
import { Codes, SequencerError } from '../domain/errors.ts';
import type { Progress } from '../domain/progress.ts';
import type { SequenceDefinition } from '../domain/definition.schema.ts';
import type { Engine, RemoteControl, RemoteRuns, StartResult } from '../engine/engine.ts';
import type { EventHub } from '../events/event-hub.ts';
import type { EventType, PendingEvent } from '../events/event-types.ts';
import { ClusterAdmission, type LocalStart } from './cluster-admission.ts';
import { CommandBus, type CommandKind } from './command-bus.ts';
import { headSeq, logEvents, pruneEvents } from './event-log.ts';
import { EventTail } from './event-tail.ts';
import { LatchSync, type LatchHooks } from './latch-sync.ts';
import { NodeMembership } from './node-membership.ts';

/** Heartbeat period (SPEC 14: with the lease renewal, every 2 s). */
const HEARTBEAT_MS = 2_000;
/** Longest wait for another node's answer to a read. */
const READ_TIMEOUT_MS = 2_000;
/** Events published on the engine's bus without a commit: logged on their own. */
const UNCOMMITTED: ReadonlySet<EventType> = new Set(['emergency_stop', 'device_alert']);

/** Options of {@link ClusterNode}. */
export interface ClusterNodeOptions {
  pool: Pool;
  /** A pool of its own for admissions: each holds a connection until the store (on `pool`) has committed its start. */
  admissionPool: Pool;
  nodeId: string;
  /** Milliseconds between polls of the event log and the command table (default 500). */
  pollMs?: number;
  /** Longest wait for another node's answer to a control call (default 5,000 ms). */
  commandTimeoutMs?: number;
  onError(error: unknown, message: string): void;
}

/** This node's part in the cluster. */
export class ClusterNode implements RemoteRuns {
  readonly nodeId: string;
  readonly pool: Pool;
  readonly membership: NodeMembership;
  readonly #options: ClusterNodeOptions;
  readonly #bus: CommandBus;
  readonly #admission: ClusterAdmission;
  #engine: Engine | null = null;
  #tail: EventTail | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #unsubscribe: (() => void) | null = null;
  #logging: Promise<void> = Promise.resolve();
  #latch: LatchSync | null = null;
  /** Sequences whose queued runs this node is trying to start now. */
  readonly #startingQueued = new Set<string>();

  constructor(options: ClusterNodeOptions) {
    this.#options = options;
    this.nodeId = options.nodeId;
    this.pool = options.pool;
    this.membership = new NodeMembership({ pool: options.pool, nodeId: options.nodeId });
    this.#bus = new CommandBus({
      pool: options.pool,
      nodeId: options.nodeId,
      execute: (kind, runId, body) => this.#execute(kind, runId, body as Record<string, unknown>),
      ...(options.commandTimeoutMs !== undefined ? { timeoutMs: options.commandTimeoutMs } : {}),
      ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
      onError: (error) => options.onError(error, 'cluster command bus failed'),
    });
    this.#admission = new ClusterAdmission(options.admissionPool, options.nodeId, {
      cancel: (runId, reason) => this.control(runId, 'cancel', { reason }),
      durable: () => (this.#engine as Engine).whenDurable(),
    });
  }

  /**
   * Joins the cluster: the hub is filled with the newest stored events (replay survives a restart)
   * and follows the log from there; control calls for this node's runs are served from now on.
   */
  async start(engine: Engine, hub: EventHub, latch: LatchHooks): Promise<void> {
    const { pool, onError } = this.#options;
    this.#engine = engine;
    this.#latch = new LatchSync(pool, latch, {
      ...(this.#options.pollMs !== undefined ? { pollMs: this.#options.pollMs } : {}),
      onError: (error) => onError(error, 'cluster emergency latch could not be followed'),
    });
    await this.#latch.start();
    this.#unsubscribe = engine.events.subscribe((event) => {
      if (UNCOMMITTED.has(event.type)) this.log({ type: event.type, data: event.data, at: event.timestamp * 1000 });
    });
    this.#tail = new EventTail({
      pool,
      after: Math.max(0, (await headSeq(pool)) - hub.capacity),
      onEvents: (events) => {
        for (const event of events) {
          hub.append(event);
          if (event.type === 'sequence_completed') this.#startQueued((event.data as { sequence_id: string }).sequence_id);
        }
      },
      ...(this.#options.pollMs !== undefined ? { pollMs: this.#options.pollMs } : {}),
      onError: (error) => onError(error, 'cluster event log could not be read'),
    });
    await this.#tail.start();
    await this.membership.join();
    await this.#bus.start();
    this.#heartbeat = setInterval(() => {
      this.membership.tick().catch((error: unknown) => onError(error, 'cluster heartbeat failed'));
      pruneEvents(pool).catch((error: unknown) => onError(error, 'cluster event log could not be pruned'));
      // The fallback for an end the log showed before this node's queued run was admitted.
      for (const sequenceId of engine.queuedBehindOthers()) this.#startQueued(sequenceId);
    }, HEARTBEAT_MS);
  }

  /** Tells every node that this one stored a press or clear of the emergency latch. */
  announceLatch(): Promise<void> {
    return this.#latch?.announce() ?? Promise.resolve();
  }

  /** Logs events that come with no commit, in order, each batch in a transaction of its own. */
  log(...events: PendingEvent[]): void {
    this.#logging = this.#logging
      .then(() => logEvents(this.#options.pool, events))
      .catch((error: unknown) => this.#options.onError(error, 'cluster event could not be logged'));
  }

  /** Resolves once the hub has every event stored now (tests, and an answer that must be seen). */
  async caughtUp(): Promise<void> {
    await this.#logging;
    await this.#tail?.catchUp();
  }

  async control(runId: string, kind: RemoteControl, body: Record<string, unknown>): Promise<{ answer: unknown } | null> {
    const owner = await this.#ownerOf(runId);
    if (owner === null || owner === this.nodeId) return null;
    return { answer: await this.#bus.send(owner, runId, kind, body) };
  }

  async progress(runId: string): Promise<Progress | null> {
    const owner = await this.#ownerOf(runId);
    if (owner === null || owner === this.nodeId) return null;
    // A read must not fail because the owner is slow: the stored status stands in for it.
    return (this.#bus.send(owner, runId, 'progress', {}, READ_TIMEOUT_MS) as Promise<Progress | null>).catch(() => null);
  }

  admit(definition: SequenceDefinition, start: LocalStart): Promise<StartResult> {
    return this.#admission.admit(definition, start);
  }

  /** Starts this node's next queued run of the sequence when it waits behind another node's run and none runs now. */
  #startQueued(sequenceId: string): void {
    const engine = this.#engine as Engine;
    if (this.#startingQueued.has(sequenceId) || !engine.queuedBehindOthers().includes(sequenceId)) return;
    this.#startingQueued.add(sequenceId);
    this.#admission
      .startQueued(sequenceId, () => engine.startQueued(sequenceId))
      .catch((error: unknown) => this.#options.onError(error, `queued run of ${sequenceId} could not be started`))
      .finally(() => this.#startingQueued.delete(sequenceId));
  }

  async #ownerOf(runId: string): Promise<string | null> {
    const { rows } = await this.#options.pool.query<{ owner: string }>('SELECT owner FROM run_starts WHERE run_id = $1', [runId]);
    return rows[0]?.owner ?? null;
  }

  /** A call another node sent for a run this node drives. */
  async #execute(kind: CommandKind, runId: string, body: Record<string, unknown>): Promise<unknown> {
    const engine = this.#engine as Engine;
    // Not sent on again: the run moved (a takeover) while the call was on its way; the caller may retry.
    if (!engine.holds(runId)) throw new SequencerError(Codes.NODE_UNREACHABLE, `Node ${this.nodeId} no longer drives run ${runId}; try again`, [], 503);
    if (kind === 'progress') return engine.get(runId);
    const answer = await this.#control(engine, kind, runId, body);
    // Answered once stored, as the same call on this node would be.
    await engine.whenDurable();
    return answer;
  }

  #control(engine: Engine, kind: RemoteControl, runId: string, body: Record<string, unknown>): Promise<unknown> {
    if (kind === 'cancel') return engine.cancel(runId, typeof body.reason === 'string' ? body.reason : undefined);
    if (kind === 'pause') return engine.pause(runId, body.outputs === 'hold' ? 'hold' : 'off');
    if (kind === 'resume') return engine.resume(runId);
    return engine.signal(runId, String(body.name), body.data ?? undefined);
  }

  /** Leaves the cluster's services (the membership row stays: a restart joins again). Idempotent. */
  async close(): Promise<void> {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    await this.#bus.close();
    await this.#latch?.close();
    await this.#tail?.close();
    await this.#logging;
    await this.#options.admissionPool.end();
  }
}
