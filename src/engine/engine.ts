/**
 * The sequence engine: validates definitions, admits runs through the registry actor (start modes
 * of SPEC 6, the concurrency limit), controls them (cancel, pause, resume), answers queries, keeps
 * terminal runs for the retention time, and shuts down cleanly. Every run is an XState actor
 * hosted by `RunHost`; every event comes out of one `EventBus`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createActor, type Actor, type InspectionEvent, type Observer } from 'xstate';
import type { ZodType } from 'zod';
import type { PlanAction, SequenceContext, SequencePlan } from '../../machines/sequence.types.ts';
import { registryMachine } from '../../machines/registry.machine.ts';
import { upgradeSnapshot, type PersistedSnapshot } from '../../machines/sequence.snapshot.ts';
import { DEFAULT_LIMITS, type DefinitionLimits, type SequenceDefinition } from '../domain/definition.schema.ts';
import { Codes, SequencerError } from '../domain/errors.ts';
import type { Progress, RunContext } from '../domain/progress.ts';
import { TERMINAL_STATUSES } from '../domain/progress.ts';
import { validateDefinition, type TemplateResolver, type ValidationResult } from '../domain/validate-definition.ts';
import { EventBus } from '../events/event-bus.ts';
import type { ExecutionContext, Executor, ExecutorRegistry } from '../executors/executor.ts';
import { sequenceExecutor } from '../executors/sequence.executor.ts';
import type { RunQuery, RunStats, RunStore, StoredRun } from '../store/run-store.ts';
import { buildPlan, SAFE_STATE_ACTION } from './plan.ts';
import { toProgress } from './progress.ts';
import { RunHost } from './run-host.ts';
import { runParent, type RunParent } from './run-parent.ts';
import type { Run } from './run.ts';
import { WriteAhead } from './write-ahead.ts';

/** Engine limits; every field has the SPEC 3 default. */
export interface EngineLimits extends DefinitionLimits {
  /** Runs at once (default 1000). */
  maxConcurrent: number;
  /** How long terminal runs stay in memory (default 3600 s). */
  retentionMs: number;
  /** How often terminal runs are swept (default 300 s). */
  sweepIntervalMs: number;
  /** Runs waiting in `queued` mode per sequence_id (default 10). */
  maxQueued: number;
}

/** The defaults of SPEC 3. */
export const DEFAULT_ENGINE_LIMITS: EngineLimits = {
  ...DEFAULT_LIMITS,
  maxConcurrent: 1000,
  retentionMs: 3_600_000,
  sweepIntervalMs: 300_000,
  maxQueued: 10,
};

/** Options of the engine, resolved once. */
export interface EngineOptions {
  /** Executors of the action types (the engine adds `sequence` and a default safe state). */
  executors: ExecutorRegistry;
  limits?: Partial<EngineLimits>;
  /** Where runs are persisted (null: memory only). */
  store?: RunStore | null;
  /** Fills templates named by nested `sequence` actions. */
  templates?: TemplateResolver;
  /**
   * Admits a start or throws the SequencerError that refuses it (rate limit 5641, emergency stop
   * 5642). Asked only once nothing else refuses the start (409), so a refused start takes no token.
   */
  admitStart?: () => void;
  /**
   * A run ended without its cleanup steps: its actor crashed (a defect), or it could not be
   * recovered after a restart (too many to resume, its snapshot unusable). Its actuators are made
   * safe here.
   */
  onRunCrashed?: (run: Run) => void;
  /** A top-level run ended (leases are released here). */
  onRunEnded?: (run: Run) => void;
  /** A terminal run left memory after its retention. */
  onRunDropped?: (runId: string) => void;
  /** The periodic sweep ran (the store prunes its history here). */
  onSweep?: (now: number) => void;
  /** A run was restored from the store after a restart (before its actor starts): rebuild what it held. */
  onRunRecovered?: (run: Run, context: SequenceContext) => void;
  /** Extra inspection observer (the Stately inspector). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Reports internal errors (a failed write, a listener that threw). */
  onError?: (error: unknown, message: string) => void;
}

/** What a start returns (SPEC 7). */
export interface StartResult {
  success: true;
  sequence_id: string;
  run_id: string;
  total_steps: number;
  status: 'running' | 'pending';
}

/** Who started a run and from which template. */
export interface StartOptions {
  context?: Partial<RunContext>;
  template?: { name: string; version: number };
}

/** Aggregates of `GET /sequences/stats`. */
export interface EngineStats {
  total_sequences: number;
  running: number;
  completed_last_hour: number;
  failed_last_hour: number;
  average_duration_seconds: number | null;
  longest_sequence_id: string | null;
  most_common_failure_step: string | null;
}

const HOUR_MS = 3_600_000;

export class Engine {
  readonly events: EventBus;
  readonly limits: EngineLimits;
  readonly #host: RunHost;
  readonly #out: WriteAhead;
  readonly #registry: Actor<typeof registryMachine>;
  /** What top-level runs' actors report their end to: the registry, by fixed event types. */
  readonly #runParent: RunParent;
  readonly #executors: ExecutorRegistry;
  readonly #store: RunStore | null;
  readonly #options: EngineOptions;
  /** Non-terminal top-level runs by sequence_id, oldest first (start modes look here, O(1)). */
  readonly #active = new Map<string, Run[]>();
  /** Runs waiting in `queued` mode (or behind a restart) by sequence_id. */
  readonly #queues = new Map<string, Run[]>();
  /** Terminal top-level runs in the order they ended, for the sweep. */
  readonly #ended = new Map<string, Run>();
  /** The run of each sequence_id that ended last, so a lookup by sequence_id needs no scan. */
  readonly #lastEnded = new Map<string, Run>();
  #spawning: { run: Run; admitted: boolean } | null = null;
  #closed = false;

  constructor(options: EngineOptions) {
    this.#options = options;
    this.limits = { ...DEFAULT_ENGINE_LIMITS, ...options.limits };
    this.#store = options.store ?? null;
    this.events = new EventBus((error) => this.#report(error, 'event listener failed'));
    this.#out = new WriteAhead(this.events, this.#store, (run) => this.#row(run), (error, runs) => this.#writeFailed(error, runs));
    this.#host = new RunHost(options.executors, this.#out, () => Date.now(), {
      onEnded: (run) => this.#onEnded(run),
      // A nested run lives inside its parent's step: storing it apart would recover it as a run of its own.
      onTransition: (run) => {
        if (run.parent === null) this.#out.touch(run);
      },
    });
    this.#executors = options.executors;
    this.#executors.register(sequenceExecutor((action, context) => this.#runNested(action, context)));
    if (!this.#executors.get(SAFE_STATE_ACTION)) this.#executors.register(nothingHeld);
    const registry = registryMachine.provide({
      actions: {
        spawnRun: () => {
          if (this.#spawning) this.#spawning.admitted = true;
        },
        refuseRun: () => {},
        runEnded: () => {},
        runCrashed: (_, { runId, error }) => this.#crashed(runId, error),
        sweep: () => this.sweep(),
        stopRuns: () => {
          // Newest first: a nested run stops before its parent's aborted attempt could cancel it.
          for (const run of [...this.#host.runs.values()].reverse()) if (run.endedAt === null) this.#host.halt(run);
        },
      },
      delays: { sweepInterval: this.limits.sweepIntervalMs },
    });
    this.#registry = createActor(registry, {
      input: { maxConcurrent: this.limits.maxConcurrent },
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    this.#registry.start();
    this.#runParent = runParent(this.#registry, {
      ended: (runId) => this.#registry.send({ type: 'RUN_ENDED', runId }),
      crashed: (runId, error) => this.#registry.send({ type: 'RUN_CRASHED', runId, error }),
    });
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
    return this.startValidated(result.definition, options);
  }

  /** Starts a run of a definition that passed validation. */
  startValidated(definition: SequenceDefinition, options: StartOptions = {}): StartResult {
    if (this.#closed) throw new SequencerError(Codes.TASK_CREATION_FAILED, 'The server is shutting down', [], 503);
    const sequenceId = definition.sequence_id ?? this.#newSequenceId();
    const active = this.#active.get(sequenceId) ?? [];
    const mode = definition.mode;
    if (active.length > 0 && mode === 'single') {
      throw new SequencerError(Codes.ALREADY_RUNNING, `Sequence '${sequenceId}' is already running (run ${active[active.length - 1]?.runId})`);
    }
    const queue = this.#queues.get(sequenceId) ?? [];
    const waits = (active.length > 0 || queue.length > 0) && (mode === 'queued' || mode === 'restart');
    if (waits && mode === 'queued' && queue.length >= this.limits.maxQueued) {
      throw new SequencerError(Codes.ALREADY_RUNNING, `Sequence '${sequenceId}' has ${queue.length} runs queued (max ${this.limits.maxQueued})`);
    }
    if (!waits && this.runningCount >= this.limits.maxConcurrent) {
      throw new SequencerError(Codes.ALREADY_RUNNING, `Concurrency limit reached (${this.limits.maxConcurrent} runs)`);
    }
    // Last: a start refused above takes no start token.
    this.#options.admitStart?.();
    const plan = this.#plan(definition);
    const run = this.#newRun({ ...definition, sequence_id: sequenceId }, plan, options);
    this.#host.runs.set(run.runId, run);
    if (!waits) {
      this.#launch(run);
    } else if (mode === 'queued') {
      queue.push(run);
      this.#queues.set(sequenceId, queue);
      this.#out.touch(run);
    } else {
      // restart: the new run waits until the old ones have made their actuators safe; a run still
      // waiting from an earlier restart is superseded, or it would run after this one.
      for (const waiting of queue.filter((q) => q.definition.mode === 'restart')) this.#cancelQueued(waiting, 'restarted');
      queue.unshift(run);
      this.#queues.set(sequenceId, queue);
      this.#out.touch(run);
      for (const old of [...active]) this.#host.send(old, { type: 'CANCEL', reason: 'restarted' });
    }
    return { success: true, sequence_id: sequenceId, run_id: run.runId, total_steps: plan.steps.length, status: run.status === 'pending' ? 'pending' : 'running' };
  }

  /**
   * Resolves once every change made so far (a start, a cancel, a pause) is committed to the store;
   * rejects when that commit failed. An answer that acknowledges a change waits for this.
   */
  whenDurable(): Promise<void> {
    return this.#out.whenDurable();
  }

  /** Runs spawned and not yet ended (paused runs included). */
  get runningCount(): number {
    return this.#registry.getSnapshot().context.running;
  }

  /** Cancels a run (by run_id or the newest run of a sequence_id). */
  cancel(id: string, reason = 'Cancelled by operator'): { success: true; message: string; reason: string } {
    const run = this.#find(id);
    if (!run) throw notFound(id);
    if (TERMINAL_STATUSES.has(run.status) || run.state.startsWith('cleanup')) {
      throw new SequencerError(Codes.INVALID_STATE, `Run ${run.runId} is ${run.status}; only a pending, running or paused run can be cancelled`);
    }
    if (run.actor === null) {
      this.#cancelQueued(run, reason);
    } else {
      this.#host.send(run, { type: 'CANCEL', reason });
    }
    return { success: true, message: `Run ${run.runId} cancelled`, reason };
  }

  /**
   * Ends a running or paused top-level run failed with `code`, recording the step in flight as
   * failed with `message` (a device fault, SPEC 9); its cleanup and safe state follow as for any
   * failure. False, changing nothing, when the run is unknown, not started, or already ending.
   */
  fault(runId: string, code: number, message: string): boolean {
    const run = this.#host.runs.get(runId);
    if (!run || run.parent !== null || !run.actor || run.endedAt !== null) return false;
    if (run.status !== 'running' && run.status !== 'paused') return false;
    if (run.state.startsWith('cleanup')) return false;
    this.#host.send(run, { type: 'ABORT', code, message });
    return true;
  }

  /** Pauses a running run; 409 when its state does not allow it. */
  pause(id: string): Progress {
    return this.#control(id, 'PAUSE', (run) => run.status === 'running' && run.state.startsWith('running'));
  }

  /** Resumes a paused run; 409 when it is not paused. */
  resume(id: string): Progress {
    return this.#control(id, 'RESUME', (run) => run.status === 'paused');
  }

  #control(id: string, type: 'PAUSE' | 'RESUME', allowed: (run: Run) => boolean): Progress {
    const run = this.#find(id);
    if (!run) throw notFound(id);
    if (!allowed(run) || !run.actor) {
      throw new SequencerError(Codes.INVALID_STATE, `Run ${run.runId} is ${run.status}; only a ${type === 'PAUSE' ? 'running run can be paused' : 'paused run can be resumed'}`);
    }
    this.#host.send(run, { type });
    return toProgress(run, Date.now());
  }

  /** The progress of a run by run_id or sequence_id (newest run), from memory or the store. */
  get(id: string): Progress | undefined {
    const run = this.#find(id);
    if (run) return toProgress(run, Date.now());
    return this.#store?.getRun(id)?.progress;
  }

  /** The persisted XState snapshot of a run. */
  snapshot(id: string): unknown {
    const run = this.#find(id);
    if (run?.actor) return run.actor.getPersistedSnapshot();
    if (run?.snapshot) return run.snapshot;
    const stored = this.#store?.getRun(id);
    if (!stored) throw notFound(id);
    return stored.snapshot;
  }

  /** History, newest first: from the store when there is one, else from memory. */
  list(query: RunQuery): { items: Progress[]; total: number; running: number; completed: number; failed: number } {
    if (this.#store) {
      this.#out.flush();
      const page = this.#store.listRuns(query);
      const counts = this.#store.countByStatus();
      return { ...page, running: counts.running + counts.paused, completed: counts.completed, failed: counts.failed };
    }
    const now = Date.now();
    const all = this.#topLevel().reverse();
    const matching = all.filter(
      (run) =>
        (query.sequence_id === undefined || run.sequenceId === query.sequence_id) &&
        (query.running_only ? !TERMINAL_STATUSES.has(run.status) : query.status === undefined || run.status === query.status),
    );
    const count = (status: string) => all.filter((r) => r.status === status).length;
    return {
      items: matching.slice(query.offset, query.offset + query.limit).map((run) => toProgress(run, now)),
      total: matching.length,
      running: count('running') + count('paused'),
      completed: count('completed'),
      failed: count('failed'),
    };
  }

  /** Aggregates over the last hour (SPEC 7 `GET /sequences/stats`). */
  stats(): EngineStats {
    const since = Date.now() - HOUR_MS;
    if (this.#store) {
      this.#out.flush();
      const s: RunStats = this.#store.stats(since);
      return {
        total_sequences: s.total_sequences,
        running: this.runningCount,
        completed_last_hour: s.completed_since,
        failed_last_hour: s.failed_since,
        average_duration_seconds: s.average_duration_seconds,
        longest_sequence_id: s.longest_sequence_id,
        most_common_failure_step: s.most_common_failure_step,
      };
    }
    return memoryStats(this.#topLevel(), since, this.runningCount);
  }

  /**
   * Restores every run the store holds as unfinished (SPEC 11). `resume`: each goes on where it
   * was (a wait that ended meanwhile ends at once; an action in flight fails with 5633 unless it
   * is idempotent, then it is sent again). `abort`: each ends failed with 5633 after its safe state.
   * Queued runs queue again with `resume`; with `abort` they end failed with 5633 without starting.
   * Call once, before taking requests.
   */
  recover(policy: 'resume' | 'abort'): { resumed: number; aborted: number; queued: number; failed: number } {
    const counts = { resumed: 0, aborted: 0, queued: 0, failed: 0 };
    if (!this.#store) return counts;
    for (const stored of this.#store.activeRuns()) {
      try {
        counts[this.#recoverRun(stored, policy)]++;
      } catch (error) {
        // One run that cannot be restored (a template it needs is gone, a damaged snapshot) must
        // neither keep the server from starting nor come back at every start.
        this.#report(error, `run ${stored.run_id} could not be recovered`);
        this.#host.runs.delete(stored.run_id);
        this.#storeUnrecoverable(stored, error);
        counts.failed++;
      }
    }
    for (const sequenceId of [...this.#queues.keys()]) if (!this.#active.has(sequenceId)) this.#drainQueue(sequenceId);
    return counts;
  }

  #recoverRun(stored: StoredRun, policy: 'resume' | 'abort'): 'resumed' | 'aborted' | 'queued' {
    const definition = stored.definition as SequenceDefinition;
    // Stored by an older chart: brought to the current one before XState restores it.
    const snapshot = stored.snapshot ? (upgradeSnapshot(stored.snapshot as PersistedSnapshot) as { context?: SequenceContext; value?: unknown }) : null;
    // Runs stored before schema v4 carry their plan in the snapshot; a run that never started has none.
    const plan = (stored.plan as SequencePlan | undefined) ?? snapshot?.context?.plan ?? this.#plan(definition);
    if (snapshot?.context) snapshot.context.plan = plan;
    const run = this.#newRun(definition, plan, { context: stored.progress.context, template: stored.progress.template ?? undefined });
    run.runId = stored.run_id;
    run.createdAt = stored.created_at;
    run.root = run;
    this.#host.runs.set(run.runId, run);
    if (!snapshot) {
      // It never started: with `abort`, nothing asked for before the stop goes on (SPEC 11).
      if (policy === 'abort') {
        this.#cancelQueued(run, 'Run interrupted by a restart', 'failed', Codes.STATE_CORRUPTION);
        return 'aborted';
      }
      const queue = this.#queues.get(run.sequenceId) ?? [];
      queue.push(run);
      this.#queues.set(run.sequenceId, queue);
      return 'queued';
    }
    if (snapshot.context) this.#options.onRunRecovered?.(run, snapshot.context);
    try {
      if (!this.#launch(run, snapshot)) {
        throw new SequencerError(Codes.ALREADY_RUNNING, `Concurrency limit reached (${this.limits.maxConcurrent} runs)`);
      }
    } catch (error) {
      // None of its cleanup steps can run: what it may have switched on is made safe as for a crash.
      this.#options.onRunCrashed?.(run);
      throw error;
    }
    // A run already in cleanup is ending anyway: it only has to learn that its action was lost.
    if (policy === 'abort' && !run.state.startsWith('cleanup')) {
      this.#host.send(run, { type: 'ABORT', code: Codes.STATE_CORRUPTION, message: 'Run interrupted by a restart' });
      return 'aborted';
    }
    this.#host.send(run, { type: 'RECOVER' });
    return policy === 'abort' ? 'aborted' : 'resumed';
  }

  /** Stores a run that could not be recovered as failed with 5633, so that history tells why. */
  #storeUnrecoverable(stored: StoredRun, error: unknown): void {
    const now = Date.now();
    const message = `Run could not be recovered after a restart: ${error instanceof Error ? error.message : String(error)}`;
    try {
      this.#store?.queueRun({
        ...stored,
        status: 'failed',
        snapshot: null,
        ended_at: now,
        progress: { ...stored.progress, status: 'failed', state: 'failed', completed_at: new Date(now).toISOString(), error: message, error_code: Codes.STATE_CORRUPTION },
      });
      this.#store?.flush();
    } catch (writeError) {
      this.#report(writeError, `run ${stored.run_id} could not be stored as failed`);
    }
  }

  /** Every top-level run that has not ended, queued ones included (for emergency stop and shutdown). */
  activeRuns(): Run[] {
    return [...this.#active.values(), ...this.#queues.values()].flat();
  }

  /** Drops terminal runs whose retention has passed (SPEC 3); the registry calls it on its timer. */
  sweep(now = Date.now()): number {
    let dropped = 0;
    for (const [runId, run] of this.#ended) {
      if ((run.endedAt ?? now) + this.limits.retentionMs > now) break;
      this.#ended.delete(runId);
      if (this.#lastEnded.get(run.sequenceId) === run) this.#lastEnded.delete(run.sequenceId);
      this.#host.runs.delete(runId);
      this.#options.onRunDropped?.(runId);
      dropped++;
    }
    this.#options.onSweep?.(now);
    return dropped;
  }

  /** Stops intake, persists every run as it is, stops every timer and actor. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#out.flush();
    this.#registry.send({ type: 'SHUTDOWN' });
    this.#registry.stop();
    this.#out.flush();
  }

  // ---- internals ----------------------------------------------------------------------------

  #plan(definition: SequenceDefinition): SequencePlan {
    try {
      return buildPlan(definition, { limits: this.limits, actions: this.#executors, templates: this.#options.templates });
    } catch (error) {
      throw new SequencerError(Codes.INVALID_DEFINITION, error instanceof Error ? error.message : String(error));
    }
  }

  #newRun(definition: SequenceDefinition, plan: SequencePlan, options: StartOptions, parent: Run | null = null): Run {
    const run = {
      runId: `run-${randomUUID()}`,
      sequenceId: definition.sequence_id as string,
      definition,
      plan,
      context: {
        rule_id: options.context?.rule_id ?? null,
        rule_name: options.context?.rule_name ?? null,
        triggered_by: options.context?.triggered_by ?? null,
        trigger_data: options.context?.trigger_data ?? null,
      },
      template: options.template ?? null,
      createdAt: Date.now(),
      parent,
      depth: parent ? parent.depth + 1 : 1,
      actor: null,
      endError: null,
      cancelReason: null,
      lastEvent: 'xstate.init',
      state: 'idle',
      status: 'pending',
      snapshot: null,
      timer: null,
      armedAt: null,
      inFlight: null,
      endedAt: null,
      onEnd: null,
    } as Omit<Run, 'root'> as Run;
    run.root = parent ? parent.root : run;
    return run;
  }

  /** A fresh `seq-<8 hex>` id that no active run uses (AutomationOne's generated ids collided). */
  #newSequenceId(): string {
    for (;;) {
      const id = `seq-${randomBytes(4).toString('hex')}`;
      if (!this.#active.has(id) && !this.#queues.has(id)) return id;
    }
  }

  /** Spawns a run through the registry and starts it; a refused run fails with 5610. */
  #launch(run: Run, snapshot?: unknown): boolean {
    const spawning = { run, admitted: false };
    this.#spawning = spawning;
    this.#registry.send({ type: 'SPAWN', runId: run.runId });
    this.#spawning = null;
    if (!spawning.admitted) {
      this.#host.runs.delete(run.runId);
      return false;
    }
    // Created here rather than inside the registry's action: XState computes a new actor's first
    // context with assign(), which it refuses to run inside another actor's custom action.
    try {
      this.#host.createActor(run, this.#runParent, snapshot);
    } catch (error) {
      // A stored snapshot XState cannot restore: give the slot back.
      this.#host.runs.delete(run.runId);
      this.#registry.send({ type: 'RUN_STOPPED', runId: run.runId });
      throw error;
    }
    const active = this.#active.get(run.sequenceId);
    if (active) active.push(run);
    else this.#active.set(run.sequenceId, [run]);
    if (!snapshot) {
      this.#host.emit(run, 'sequence_started', {
        sequence_id: run.sequenceId,
        run_id: run.runId,
        total_steps: run.plan.steps.length,
        description: run.definition.description ?? null,
        rule_id: run.context.rule_id,
        rule_name: run.context.rule_name,
        mode: run.definition.mode,
      });
    }
    (run.actor as NonNullable<Run["actor"]>).start();
    if (!snapshot) this.#host.send(run, { type: 'START' });
    return true;
  }

  #onEnded(run: Run): void {
    run.onEnd?.(run);
    if (run.parent) {
      this.#host.runs.delete(run.runId);
      return;
    }
    const ctx = run.snapshot?.context;
    const results = ctx?.results ?? [];
    this.#host.emit(run, 'sequence_completed', {
      sequence_id: run.sequenceId,
      run_id: run.runId,
      status: run.status,
      success: run.status === 'completed',
      duration_seconds: ((run.endedAt ?? Date.now()) - (ctx?.startedAt ?? run.createdAt)) / 1000,
      steps_completed: results.filter((r) => r.success).length,
      steps_failed: results.filter((r) => !r.success).length,
      error: ctx?.error ?? run.endError?.message ?? null,
      error_code: ctx?.errorCode ?? run.endError?.code ?? null,
    });
    this.#ended.set(run.runId, run);
    this.#lastEnded.set(run.sequenceId, run);
    this.#options.onRunEnded?.(run);
    const active = this.#active.get(run.sequenceId);
    if (active) {
      const i = active.indexOf(run);
      if (i >= 0) active.splice(i, 1);
      if (active.length === 0) {
        this.#active.delete(run.sequenceId);
        // The registry learns of the end after this transition; the next queued run starts then.
        queueMicrotask(() => this.#drainQueue(run.sequenceId));
      }
    }
  }

  /** Starts the next waiting run of a sequence; one that cannot start fails, and the one after it is tried. */
  #drainQueue(sequenceId: string): void {
    for (;;) {
      const queue = this.#queues.get(sequenceId);
      const next = queue?.shift();
      if (!queue || !next) return;
      if (queue.length === 0) this.#queues.delete(sequenceId);
      if (this.#launch(next)) return;
      this.#cancelQueued(next, `Concurrency limit reached (${this.limits.maxConcurrent} runs)`, 'failed');
    }
  }

  #cancelQueued(
    run: Run,
    reason: string,
    status: 'cancelled' | 'failed' = 'cancelled',
    code: number = status === 'cancelled' ? Codes.CANCELLED : Codes.ALREADY_RUNNING,
  ): void {
    const queue = this.#queues.get(run.sequenceId);
    const index = queue ? queue.indexOf(run) : -1;
    // A run whose launch failed was already taken off its queue: splice(-1) would drop another.
    if (queue && index >= 0) {
      queue.splice(index, 1);
      if (queue.length === 0) this.#queues.delete(run.sequenceId);
    }
    this.#host.runs.set(run.runId, run);
    run.status = status;
    run.state = status;
    run.endedAt = Date.now();
    run.endError = { message: reason, code };
    this.#host.emit(run, 'sequence_completed', {
      sequence_id: run.sequenceId,
      run_id: run.runId,
      status,
      success: false,
      duration_seconds: 0,
      steps_completed: 0,
      steps_failed: 0,
      error: reason,
      error_code: run.endError.code,
    });
    this.#ended.set(run.runId, run);
    this.#lastEnded.set(run.sequenceId, run);
    this.#out.touch(run);
  }

  #crashed(runId: string, error: unknown): void {
    const run = this.#host.runs.get(runId);
    this.#report(error, `run ${runId} crashed`);
    if (!run || run.endedAt !== null) return;
    // Its actor moves no more: stop its timer and its action in flight (a nested run is cancelled).
    this.#host.halt(run);
    run.status = 'failed';
    run.state = 'failed';
    run.endedAt = Date.now();
    run.endError = { message: `Run crashed: ${error instanceof Error ? error.message : String(error)}`, code: Codes.INTERNAL_ERROR };
    this.#options.onRunCrashed?.(run.root);
    this.#onEnded(run);
    // Stored as ended, or a restart would recover it from its last snapshot.
    this.#out.touch(run);
  }

  /** Runs a nested sequence as a child actor of the parent run and settles the parent's attempt. */
  #runNested(action: PlanAction, context: ExecutionContext): Promise<string> {
    const parent = this.#host.runs.get(context.runId);
    if (!parent?.actor) return Promise.reject(new SequencerError(Codes.INTERNAL_ERROR, 'Parent run is gone'));
    const plan = action.plan as SequencePlan;
    const definition = { ...parent.definition, sequence_id: `${parent.sequenceId}/${context.stepName}` };
    const child = this.#newRun(definition, plan, {}, parent);
    this.#host.runs.set(child.runId, child);
    // The child's end reaches its parent's attempt through `onEnd`; its crash is its top-level run's.
    const root = parent.root;
    const actor = this.#host.createActor(
      child,
      runParent(parent.actor, {
        ended: () => {},
        crashed: (_, error) => this.#registry.send({ type: 'RUN_CRASHED', runId: root.runId, error }),
      }),
    );
    return new Promise<string>((resolve, reject) => {
      child.onEnd = (ended) => {
        const ctx = ended.snapshot?.context;
        if (ended.status === 'completed') resolve(`Nested sequence completed ${ctx?.results.length ?? 0} steps`);
        else reject(new SequencerError(ctx?.errorCode ?? Codes.STEP_FAILED, `Nested sequence ${ended.status}: ${ctx?.error ?? ''}`));
      };
      // These arrive from the parent's transition; the child moves after it, not inside it.
      const later = (event: { type: 'CANCEL'; reason: string } | { type: 'PAUSE' } | { type: 'RESUME' }) =>
        queueMicrotask(() => this.#host.send(child, event));
      context.signal.addEventListener('abort', () => later({ type: 'CANCEL', reason: 'parent step aborted' }), { once: true });
      context.attachControl({ pause: () => later({ type: 'PAUSE' }), resume: () => later({ type: 'RESUME' }) });
      actor.start();
      this.#host.send(child, { type: 'START' });
    });
  }

  #find(id: string): Run | undefined {
    const byRun = this.#host.runs.get(id);
    if (byRun) return byRun.parent ? undefined : byRun;
    const active = this.#active.get(id);
    if (active?.length) return active[active.length - 1];
    const queued = this.#queues.get(id);
    if (queued?.length) return queued[queued.length - 1];
    return this.#lastEnded.get(id);
  }

  #topLevel(): Run[] {
    return [...this.#host.runs.values()].filter((run) => run.parent === null);
  }

  #row(run: Run): StoredRun {
    return {
      run_id: run.runId,
      sequence_id: run.sequenceId,
      status: run.status,
      definition: run.definition,
      // Stored once with the definition while the run is unfinished; each snapshot leaves it out
      // (two thirds of its size).
      plan: run.endedAt === null ? run.plan : undefined,
      progress: toProgress(run, Date.now()),
      // From the last snapshot the host saw: a halted actor's own snapshot says `stopped`, and a
      // stopped snapshot restored after a restart would never move again.
      snapshot: run.snapshot && run.endedAt === null ? this.#host.machine.getPersistedSnapshot(withoutPlan(run.snapshot)) : null,
      created_at: run.createdAt,
      ended_at: run.endedAt,
    };
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
  execute: async () => 'Nothing held',
};

function invalid(errors: { path: string; code: number; message: string }[]): SequencerError {
  const first = errors[0];
  const code = first ? first.code : Codes.INVALID_DEFINITION;
  return new SequencerError(code, first ? `Invalid sequence definition: ${first.message} (${first.path})` : 'Invalid sequence definition', errors, 422);
}

function notFound(id: string): SequencerError {
  return new SequencerError(Codes.NOT_FOUND, `Sequence '${id}' not found`);
}

function memoryStats(runs: Run[], since: number, running: number): EngineStats {
  const recent = runs.filter((r) => r.endedAt !== null && r.endedAt >= since);
  const durations = recent
    .map((r) => ({ id: r.sequenceId, s: ((r.endedAt ?? 0) - (r.snapshot?.context.startedAt ?? r.createdAt)) / 1000 }));
  const failures = new Map<string, number>();
  for (const r of recent) {
    if (r.status !== 'failed') continue;
    const step = r.snapshot?.context.results.find((s) => !s.success);
    if (step) failures.set(step.name, (failures.get(step.name) ?? 0) + 1);
  }
  const longest = durations.reduce<{ id: string; s: number } | null>((a, b) => (a === null || b.s > a.s ? b : a), null);
  const common = [...failures.entries()].sort((a, b) => b[1] - a[1])[0];
  return {
    total_sequences: runs.length,
    running,
    completed_last_hour: recent.filter((r) => r.status === 'completed').length,
    failed_last_hour: recent.filter((r) => r.status === 'failed').length,
    average_duration_seconds: durations.length ? durations.reduce((a, b) => a + b.s, 0) / durations.length : null,
    longest_sequence_id: longest?.id ?? null,
    most_common_failure_step: common?.[0] ?? null,
  };
}

/** A snapshot to persist without its plan, which is stored once per run (`StoredRun.plan`). */
function withoutPlan(snapshot: NonNullable<Run['snapshot']>): NonNullable<Run['snapshot']> {
  return { ...snapshot, context: { ...snapshot.context, plan: null as unknown as SequencePlan } };
}
