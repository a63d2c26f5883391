/**
 * The sequence engine, a thin facade over its parts (BullMQ's Queue / Worker / QueueEvents split):
 * `Admission` admits runs (start modes, the registry actor and its limit, queues), `RunHost` runs
 * them (one XState actor each, their effects and timers), `WriteAhead` journals them (one store
 * commit per turn, events published after it), `RunQueries` answers from the store,
 * `RunControl` takes the control calls, and `recoverRuns` replays the journal after a restart.
 * Every event comes out of one `EventBus`.
 */
import type { ZodType } from 'zod';
import type { SequencePlan } from '../../machines/sequence.types.ts';
import type { SequenceDefinition } from '../domain/definition.schema.ts';
import { Codes, SequencerError } from '../domain/errors.ts';
import type { Progress } from '../domain/progress.ts';
import { validateDefinition, type ValidationResult } from '../domain/validate-definition.ts';
import { EventBus } from '../events/event-bus.ts';
import type { Executor, ExecutorRegistry } from '../executors/executor.ts';
import { repeatExecutor } from '../executors/repeat.executor.ts';
import { sequenceExecutor } from '../executors/sequence.executor.ts';
import { DEFAULT_RENEWAL } from '../cluster/lease-keeper.ts';
import type { RunQuery, RunStore, UnfinishedRun } from '../store/run-store.ts';
import { openSqliteStore } from '../store/sqlite/sqlite.store.ts';
import { Admission } from './admission.ts';
import { BoundedHistory, OWN_HISTORY_RUNS } from './bounded-history.ts';
import {
  DEFAULT_ENGINE_LIMITS,
  type EngineLimits,
  type EngineOptions,
  type EnginePage,
  type EngineStats,
  type QueuedElsewhere,
  type StartOptions,
  type StartResult,
} from './engine-options.ts';
import { withoutPlan } from './journal-records.ts';
import { runNested } from './nested-runs.ts';
import { ClosedLoop } from './closed-loop.ts';
import { buildPlan, NOTHING_HELD, SAFE_STATE_ACTION } from './plan.ts';
import { recoverRuns, type RecoveryCounts } from './recovery.ts';
import { notRedrivable, redriveOf } from './redrive.ts';
import { runRepeat } from './repeat-runs.ts';
import { RunBook } from './run-book.ts';
import { RunControl } from './run-control.ts';
import { RunHost } from './run-host.ts';
import { RunLeases } from './run-leases.ts';
import { notFound, RunQueries, type RunDefinition } from './run-queries.ts';
import type { Run } from './run.ts';
import { WriteAhead } from './write-ahead.ts';

export * from './engine-options.ts';

export class Engine {
  readonly events: EventBus;
  readonly limits: EngineLimits;
  readonly #book = new RunBook();
  readonly #host: RunHost;
  readonly #out: WriteAhead;
  readonly #admission: Admission;
  readonly #queries: RunQueries;
  readonly #control: RunControl;
  readonly #executors: ExecutorRegistry;
  readonly #store: RunStore;
  /** The store is the engine's own (in memory): it closes it. */
  readonly #ownStore: boolean;
  readonly #options: EngineOptions;
  /** Stops listening to the sensor readings. */
  readonly #offReadings: () => void;
  /** Leases of the runs this node drives, on a store shared by several nodes. */
  readonly #leases: RunLeases | null;
  /** The history of the engine's own store, bounded (nothing else prunes it). */
  readonly #history: BoundedHistory | null;
  /** What recovery does with unfinished runs (at start, and with runs claimed later). */
  #policy: 'resume' | 'abort' = 'resume';
  #closed = false;

  constructor(options: EngineOptions) {
    this.#options = options;
    this.limits = { ...DEFAULT_ENGINE_LIMITS, ...options.limits };
    this.#ownStore = !options.store;
    this.#store = options.store ?? openSqliteStore(':memory:', { journal: false });
    const historyFailed = (error: unknown) => this.#report(error, 'history prune failed');
    this.#history = this.#ownStore ? new BoundedHistory(this.#store, options.historyRuns ?? OWN_HISTORY_RUNS, historyFailed) : null;
    this.events = new EventBus((error) => this.#report(error, 'event listener failed'));
    this.#out = new WriteAhead({
      bus: this.events,
      store: this.#store,
      durable: !this.#ownStore,
      logEvents: options.cluster !== undefined,
      snapshotOf: (run) => (run.snapshot ? this.#host.machine.getPersistedSnapshot(withoutPlan(run.snapshot)) : null),
      onWriteError: (error, runs) => this.#writeFailed(error, runs),
      onEndsCommitted: (runs) => this.#leaveMemory(runs),
      mayCommit: () => this.mayDrive(),
      onLost: (runIds) => this.#drop(runIds, 'another node owns them now'),
    });
    const loop = new ClosedLoop(options.sensors);
    const hooks = {
      onEnded: (run: Run) => this.#onEnded(run),
      // A nested run lives inside its parent's step: storing it apart would recover it as a run of its own.
      onTransition: (run: Run) => {
        if (run.parent === null) this.#out.touch(run);
      },
      mayDrive: () => this.mayDrive(),
    };
    this.#host = new RunHost(this.#book.runs, options.executors, this.#out, () => Date.now(), hooks, loop, options.outputs);
    this.#offReadings = options.sensors?.onReading((reading) => this.#host.onReading(reading)) ?? (() => {});
    this.#executors = options.executors;
    const report = (error: unknown, message: string) => this.#report(error, message);
    const plan = (definition: SequenceDefinition) => this.#plan(definition);
    this.#admission = new Admission({ limits: this.limits, options, book: this.#book, host: this.#host, out: this.#out, plan, sweep: () => this.sweep(), report, nodeId: this.#store.ownership?.nodeId ?? null });
    this.#control = new RunControl({ book: this.#book, host: this.#host, admission: this.#admission, out: this.#out, store: this.#store, cluster: options.cluster, outputs: options.outputs });
    this.#queries = new RunQueries({ book: this.#book, out: this.#out, store: this.#store, runningCount: () => this.runningCount, remote: options.cluster });
    const nested = { book: this.#book, host: this.#host, admission: this.#admission };
    this.#executors.register(sequenceExecutor((action, context) => runNested(nested, action, context)));
    this.#executors.register(repeatExecutor((action, context) => runRepeat(nested, loop, action, context)));
    if (!this.#executors.get(SAFE_STATE_ACTION)) this.#executors.register(nothingHeld);
    const ownership = this.#store.ownership;
    this.#leases = ownership
      ? new RunLeases({
          ownership,
          times: { ...DEFAULT_RENEWAL, ...options.renewal, leaseMs: ownership.leaseMs },
          drop: (runIds) => this.#drop(runIds, 'their leases could not be renewed in time'),
          held: () => [...new Set([...this.#book.unfinished().map((run) => run.runId), ...this.#out.pendingRunIds()])],
          recover: async (runs) => {
            await this.#recoverRuns(runs);
          },
          capacity: () => Math.max(0, this.limits.maxConcurrent - this.runningCount),
          report,
          now: options.monotonicNow,
        })
      : null;
  }

  /** This node's id when it shares its store with other nodes (SPEC 14), else null. */
  get nodeId(): string | null {
    return this.#store.ownership?.nodeId ?? null;
  }

  /** The schema of every action type a definition may name (for the API's documentation). */
  actionSchemas(): ZodType[] {
    return this.#executors.publicSchemas();
  }

  /** Validates a definition without starting it (SPEC 7 `POST /sequences/validate`). */
  validate(input: unknown): ValidationResult {
    return validateDefinition(input, { limits: this.limits, actions: this.#executors, templates: this.#options.templates });
  }

  /** Validates and starts a run; throws a SequencerError (422, 409, 429) when it cannot. */
  start(input: unknown, options: StartOptions = {}): StartResult {
    const result = this.validate(input);
    if (!result.ok) throw invalid(result.errors);
    return this.startValidated(result.definition, { sent: input, ...options });
  }

  /** Starts a run of a definition that passed validation. */
  startValidated(definition: SequenceDefinition, options: StartOptions = {}, runningElsewhere = 0, elsewhere?: QueuedElsewhere): StartResult {
    if (this.#closed) throw new SequencerError(Codes.TASK_CREATION_FAILED, 'The server is shutting down', [], 503);
    if (!this.mayDrive()) {
      throw new SequencerError(Codes.TASK_CREATION_FAILED, 'This node cannot renew its run leases on the database now; start the run on another node', [], 503);
    }
    return this.#admission.start(definition, options, runningElsewhere, elsewhere);
  }

  /**
   * Starts a run of a validated definition as a request does: in a cluster, after the start modes
   * allowed it against every node's runs (SPEC 14); on one node, as `startValidated`.
   */
  async admit(definition: SequenceDefinition, options: StartOptions = {}): Promise<StartResult> {
    const cluster = this.#options.cluster;
    // On one node no closure: a batch admits up to 1,000 runs a request through here.
    if (!cluster) return this.startValidated(definition, options);
    return cluster.admit(definition, (runningElsewhere = 0, elsewhere?: QueuedElsewhere) => this.startValidated(definition, options, runningElsewhere, elsewhere));
  }

  /** Sequences with runs queued here and none running here: they wait behind another node's run (SPEC 14). */
  queuedBehindOthers(): string[] {
    return [...this.#book.queues.keys()].filter((sequenceId) => !this.#book.active.get(sequenceId)?.length);
  }

  /** Starts the next run queued here of a sequence no run of which runs here (another node's has ended). */
  startQueued(sequenceId: string): void {
    if (this.queuedBehindOthers().includes(sequenceId)) this.#admission.drainQueue(sequenceId);
  }

  /**
   * Redrives a run that ended failed or timeout (SPEC 7): a new run of its definition that begins
   * at the step that failed, or at `fromStep`; admitted as a start (start modes, limits). 404/5611
   * unknown, 409/5619 for a run that did not end so, 422 for a step the definition does not have.
   */
  async redrive(id: string, fromStep?: number): Promise<StartResult & { redrive_of: string }> {
    const held = this.#book.find(id);
    if (held && held.endedAt === null) throw notRedrivable(held.runId, held.status);
    // A run that has just ended has its history row in the next commit.
    await this.#out.flush();
    const stored = await this.#store.getRun(held?.runId ?? id);
    if (!stored) throw notFound(id);
    const { definition, options } = redriveOf(stored, fromStep, (sent) => {
      const result = this.validate(sent);
      if (!result.ok) throw invalid(result.errors);
      return result.definition;
    });
    return { ...(await this.admit(definition, options)), redrive_of: stored.run_id };
  }

  /**
   * Resolves once every change made so far (a start, a cancel, a pause) is committed to the store;
   * rejects when that commit failed. An answer that acknowledges a change waits for this.
   */
  whenDurable(): Promise<void> {
    return this.#out.whenDurable();
  }

  /**
   * Whether this node may drive its runs now: always on a store of one node; on a shared store
   * while its lease validity holds. When it does not, every run this node held is stopped
   * without effects and forgotten before this answers (SPEC 14).
   */
  mayDrive(): boolean {
    return this.#leases?.mayDrive() ?? true;
  }

  /** Runs spawned and not yet ended (paused runs included). */
  get runningCount(): number {
    return this.#admission.runningCount;
  }

  /**
   * Cancels a run (by run_id or the newest run of a sequence_id). A run this engine holds is
   * cancelled before this returns; the promise rejects with 404/5611 or 409/5619.
   */
  cancel(id: string, reason = 'Cancelled by operator'): Promise<{ success: true; message: string; reason: string }> {
    return this.#control.cancel(id, reason);
  }

  /** Ends a running or paused top-level run failed with `code` (a device fault, SPEC 9); false when it cannot. */
  fault(runId: string, code: number, message: string): boolean {
    return this.#control.fault(runId, code, message);
  }

  /** Pauses a running run with its outputs turned off (default) or held (SPEC 7); 409 when its state does not allow it. */
  pause(id: string, outputs: 'off' | 'hold' = 'off'): Promise<Progress> {
    return this.#control.pause(id, outputs);
  }

  /** Resumes a paused run; 409 when it is not paused, or is restoring its outputs already. */
  resume(id: string): Promise<Progress> {
    return this.#control.resume(id);
  }

  /** Sends a signal to a run (SPEC 7); 409/5619 when it has ended, has not started, or holds too many. */
  signal(id: string, name: string, data?: unknown): Promise<{ success: true; run_id: string; name: string }> {
    return this.#control.signal(id, name, data);
  }

  /** True when this engine drives the top-level run `runId` (a cluster's node executes control calls for those only). */
  holds(runId: string): boolean {
    return this.#control.holds(runId);
  }

  /** The progress of a run by run_id or sequence_id (newest run), from memory or the store. */
  get(id: string): Promise<Progress | undefined> {
    return this.#queries.get(id);
  }

  /** The persisted XState snapshot of a run; null when it has none (it ended, or has not started). */
  snapshot(id: string): Promise<unknown> {
    return this.#queries.snapshot(id);
  }

  /** The definition a run was started with, as sent, from the store (the history keeps it). */
  definition(id: string): Promise<RunDefinition | undefined> {
    return this.#queries.definition(id);
  }

  /** History, newest first, from the store. */
  list(query: RunQuery): Promise<EnginePage> {
    return this.#queries.list(query);
  }

  /** Aggregates over the last hour (SPEC 7 `GET /sequences/stats`). */
  stats(): Promise<EngineStats> {
    return this.#queries.stats();
  }

  /**
   * Restores every run the store holds as unfinished (SPEC 11), by replaying its journal; see
   * `recoverRuns`. Call once, before taking requests.
   */
  recover(policy: 'resume' | 'abort'): Promise<RecoveryCounts> {
    this.#policy = policy;
    const counts = this.#recoverRuns(this.#store.unfinishedRuns());
    // On a shared store, from now on: renew this node's leases, take over runs whose leases expired.
    counts.then(
      () => this.#leases?.start(),
      () => {},
    );
    return counts;
  }

  /** Restores runs read (or claimed) from the store, by the policy `recover` was given. */
  #recoverRuns(runs: UnfinishedRun[] | Promise<UnfinishedRun[]>): Promise<RecoveryCounts> {
    const report = (error: unknown, message: string) => this.#report(error, message);
    const plan = (definition: SequenceDefinition) => this.#plan(definition);
    return recoverRuns({ store: this.#store, book: this.#book, host: this.#host, admission: this.#admission, options: this.#options, plan, report }, this.#policy, runs);
  }

  /**
   * Renews this node's leases and claims expired runs now, instead of at the next tick (tests;
   * a node that has just heard another is gone). Resolves at once on a store of one node.
   */
  renewLeases(): Promise<void> {
    return this.#leases?.tick() ?? Promise.resolve();
  }

  /** Every top-level run that has not ended, queued ones included (for emergency stop and shutdown). */
  activeRuns(): Run[] {
    return this.#book.unfinished();
  }

  /** The registry's periodic sweep: the store prunes its history (`onSweep`). */
  sweep(now = Date.now()): void {
    this.#options.onSweep?.(now);
  }

  /** Stops intake, persists every run as it is, stops every timer and actor. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#offReadings();
    this.#leases?.stop();
    await this.#out.flush();
    this.#admission.stop();
    await this.#out.flush();
    // Every run is stored as it is: other nodes may take them over at once instead of after their leases.
    await this.#store.ownership?.handOver().catch((error: unknown) => this.#report(error, 'leases could not be handed over; other nodes take the runs over when they expire'));
    if (this.#ownStore) await this.#store.close();
  }

  // ---- internals ----------------------------------------------------------------------------

  #plan(definition: SequenceDefinition): SequencePlan {
    try {
      return buildPlan(definition, { limits: this.limits, actions: this.#executors, templates: this.#options.templates });
    } catch (error) {
      throw new SequencerError(Codes.INVALID_DEFINITION, error instanceof Error ? error.message : String(error));
    }
  }

  #onEnded(run: Run): void {
    run.onEnd?.(run);
    if (run.parent) {
      this.#book.runs.delete(run.runId);
      return;
    }
    this.#admission.onEnded(run);
  }

  /** Stops runs another node drives now, without any effect, and forgets them (SPEC 14). */
  #drop(runIds: readonly string[], why: string): void {
    const ids = new Set(runIds);
    this.#out.discard(ids);
    for (const runId of ids) {
      const run = this.#book.runs.get(runId);
      if (run && run.parent === null) this.#admission.drop(run);
    }
    this.#store.ownership?.release(ids);
    this.#report(new Error(`runs lost: ${why}`), `${ids.size} runs stopped on this node: ${why}`);
  }

  /** Ended runs whose history rows are committed leave memory (SPEC 3): the store answers for them. */
  #leaveMemory(runs: Run[]): void {
    this.#history?.committed(runs.map((run) => run.endedAt ?? Date.now()));
    for (const run of runs) {
      this.#book.forget(run);
      this.#options.onRunDropped?.(run.runId);
    }
  }

  #writeFailed(error: unknown, runs: Run[]): void {
    this.#report(error, `store write failed for ${runs.length} runs`);
    for (const run of runs) {
      if (run.endedAt === null && run.actor) {
        this.#host.send(run, { type: 'ABORT', code: Codes.INTERNAL_ERROR, message: 'Run state could not be stored' });
      }
    }
  }

  #report(error: unknown, message: string): void {
    this.#options.onError?.(error, message);
  }
}

/** The safe state when no safety system is wired: nothing is held. */
const nothingHeld: Executor = {
  type: SAFE_STATE_ACTION,
  internal: true,
  external: false,
  schema: undefined as never,
  execute: async () => NOTHING_HELD,
};

function invalid(errors: { path: string; code: number; message: string }[]): SequencerError {
  const first = errors[0];
  const code = first ? first.code : Codes.INVALID_DEFINITION;
  return new SequencerError(code, first ? `Invalid sequence definition: ${first.message} (${first.path})` : 'Invalid sequence definition', errors, 422);
}
