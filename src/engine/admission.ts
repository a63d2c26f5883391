/**
 * Admission of runs (the engine's producer, as BullMQ's Queue): the start modes of SPEC 6 against
 * the runs of the same sequence_id, the concurrency limit kept by the registry actor, the queues
 * of `queued` and `restart` runs, and what happens when a run ends (its queue moves on). Every
 * admitted run's start record goes to the write-ahead.
 */
import { randomBytes } from 'node:crypto';
import { createActor, type Actor } from 'xstate';
import type { SequencePlan } from '../../machines/sequence.types.ts';
import { registryMachine } from '../../machines/registry.machine.ts';
import type { SequenceDefinition } from '../domain/definition.schema.ts';
import { Codes, SequencerError } from '../domain/errors.ts';
import { newRunId } from '../domain/run-id.ts';
import type { EngineLimits, EngineOptions, QueuedElsewhere, StartOptions, StartResult } from './engine-options.ts';
import type { RunBook } from './run-book.ts';
import type { RunHost } from './run-host.ts';
import { runParent, type RunParent } from './run-parent.ts';
import type { Run } from './run.ts';
import type { WriteAhead } from './write-ahead.ts';

/** What admission works with. */
export interface AdmissionParts {
  limits: EngineLimits;
  options: EngineOptions;
  book: RunBook;
  host: RunHost;
  out: WriteAhead;
  /** The plan of a validated definition; throws a SequencerError (5600) when it cannot be built. */
  plan(definition: SequenceDefinition): SequencePlan;
  /** The registry's periodic sweep. */
  sweep(): void;
  report(error: unknown, message: string): void;
  /** This node's id on a store shared by several nodes (the runs' `node`), else null. */
  nodeId: string | null;
}

/** Admits, queues and launches runs, and moves a sequence's queue on when its run ends. */
export class Admission {
  /** The registry actor: it owns the runs and counts them against the limit. */
  readonly registry: Actor<typeof registryMachine>;
  /** What top-level runs' actors report their end to: the registry, by fixed event types. */
  readonly runParent: RunParent;
  readonly #parts: AdmissionParts;
  #spawning: { run: Run; admitted: boolean } | null = null;

  constructor(parts: AdmissionParts) {
    this.#parts = parts;
    const { book, host, limits, options } = parts;
    const registry = registryMachine.provide({
      actions: {
        spawnRun: () => {
          if (this.#spawning) this.#spawning.admitted = true;
        },
        refuseRun: () => {},
        runEnded: () => {},
        runCrashed: (_, { runId, error }) => this.crashed(runId, error),
        sweep: () => parts.sweep(),
        stopRuns: () => {
          // Newest first: a nested run stops before its parent's aborted attempt could cancel it.
          for (const run of [...book.runs.values()].reverse()) if (run.endedAt === null) host.halt(run);
        },
      },
      delays: { sweepInterval: limits.sweepIntervalMs },
    });
    this.registry = createActor(registry, {
      input: { maxConcurrent: limits.maxConcurrent },
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    this.registry.start();
    this.runParent = runParent(this.registry, {
      ended: (runId) => this.registry.send({ type: 'RUN_ENDED', runId }),
      crashed: (runId, error) => this.registry.send({ type: 'RUN_CRASHED', runId, error }),
    });
  }

  /** Runs spawned and not yet ended (paused runs included). */
  get runningCount(): number {
    return this.registry.getSnapshot().context.running;
  }

  /**
   * Admits a validated definition by its start mode; throws a SequencerError (409, 429, 5600) when it
   * cannot. `runningElsewhere`: the runs other nodes of a cluster are running, which count against the limit;
   * `elsewhere`: their runs of this sequence, which a `queued` start waits behind.
   */
  start(definition: SequenceDefinition, options: StartOptions, runningElsewhere = 0, elsewhere: QueuedElsewhere = { unfinished: 0, pending: 0 }): StartResult {
    const { book, limits, host, out } = this.#parts;
    const sequenceId = definition.sequence_id ?? this.#newSequenceId();
    const active = book.active.get(sequenceId) ?? [];
    const mode = definition.mode;
    if (active.length > 0 && mode === 'single') {
      throw new SequencerError(Codes.ALREADY_RUNNING, `Sequence '${sequenceId}' is already running (run ${active[active.length - 1]?.runId})`);
    }
    const queue = book.queues.get(sequenceId) ?? [];
    const waits = (active.length > 0 || queue.length > 0 || elsewhere.unfinished > 0) && (mode === 'queued' || mode === 'restart');
    const queued = queue.length + elsewhere.pending;
    if (waits && mode === 'queued' && queued >= limits.maxQueued) {
      throw new SequencerError(Codes.ALREADY_RUNNING, `Sequence '${sequenceId}' has ${queued} runs queued (max ${limits.maxQueued})`);
    }
    if (!waits && this.runningCount + runningElsewhere >= limits.maxConcurrent) {
      throw new SequencerError(Codes.ALREADY_RUNNING, `Concurrency limit reached (${limits.maxConcurrent} runs)`);
    }
    // Last: a start refused above takes no start token.
    this.#parts.options.admitStart?.();
    const plan = this.#parts.plan(definition);
    const run = this.newRun({ ...definition, sequence_id: sequenceId }, plan, options);
    book.runs.set(run.runId, run);
    if (waits) run.queuedAt = run.createdAt;
    out.started(run);
    if (!waits) {
      this.launch(run);
    } else if (mode === 'queued') {
      book.queueOf(sequenceId).push(run);
    } else {
      // restart: the new run waits until the old ones have made their actuators safe; a run still
      // waiting from an earlier restart is superseded, or it would run after this one.
      const waiting = book.queueOf(sequenceId);
      for (const superseded of waiting.filter((q) => q.mode === 'restart')) this.cancelQueued(superseded, 'restarted');
      book.queueOf(sequenceId).unshift(run);
      for (const old of [...active]) host.send(old, { type: 'CANCEL', reason: 'restarted' });
    }
    return { success: true, sequence_id: sequenceId, run_id: run.runId, total_steps: plan.steps.length, status: run.status === 'pending' ? 'pending' : 'running' };
  }

  /** A new run's record (not yet admitted); nested under `parent` when given. */
  newRun(definition: SequenceDefinition, plan: SequencePlan, options: StartOptions, parent: Run | null = null): Run {
    const createdAt = Date.now();
    const run = {
      runId: newRunId(createdAt),
      sequenceId: definition.sequence_id as string,
      // A nested run is not stored apart: its definition is its parent's step.
      definition: parent ? null : options.sent === undefined ? definition : { ...(options.sent as object), sequence_id: definition.sequence_id },
      description: definition.description ?? null,
      mode: definition.mode,
      priority: definition.priority,
      plan,
      context: {
        rule_id: options.context?.rule_id ?? null,
        rule_name: options.context?.rule_name ?? null,
        triggered_by: options.context?.triggered_by ?? null,
        trigger_data: options.context?.trigger_data ?? null,
      },
      template: options.template ?? null,
      redrive: options.redrive ?? null,
      createdAt,
      queuedAt: null,
      parent,
      depth: parent ? parent.depth + 1 : 1,
      actor: null,
      endError: null,
      cancelReason: null,
      lastEvent: 'xstate.init',
      state: 'idle',
      status: 'pending',
      snapshot: null,
      armedAt: null,
      slot: -1,
      inFlight: null,
      outputsOff: null,
      ask: null,
      endedAt: null,
      onEnd: null,
      // A nested run is journaled inside its parent's step; no run is journaled on a store nothing recovers from.
      turn: parent === null && this.#parts.out.journaled ? [] : null,
      records: 0,
      storedStatus: null,
      node: this.#parts.nodeId,
    } as Omit<Run, 'root'> as Run;
    run.root = parent ? parent.root : run;
    return run;
  }

  /** A fresh `seq-<8 hex>` id that no active run uses (AutomationOne's generated ids collided). */
  #newSequenceId(): string {
    const { book } = this.#parts;
    for (;;) {
      const id = `seq-${randomBytes(4).toString('hex')}`;
      if (!book.active.has(id) && !book.queues.has(id)) return id;
    }
  }

  /** Spawns a run through the registry and starts it (from `snapshot` when restored); false when the limit refuses it. */
  launch(run: Run, snapshot?: unknown): boolean {
    const { book, host } = this.#parts;
    const spawning = { run, admitted: false };
    this.#spawning = spawning;
    this.registry.send({ type: 'SPAWN', runId: run.runId });
    this.#spawning = null;
    if (!spawning.admitted) {
      book.runs.delete(run.runId);
      return false;
    }
    // Created here rather than inside the registry's action: XState computes a new actor's first
    // context with assign(), which it refuses to run inside another actor's custom action.
    try {
      host.createActor(run, this.runParent, snapshot);
    } catch (error) {
      // A stored snapshot XState cannot restore: give the slot back.
      book.runs.delete(run.runId);
      this.registry.send({ type: 'RUN_STOPPED', runId: run.runId });
      throw error;
    }
    book.addActive(run);
    if (!snapshot) {
      host.emit(run, 'sequence_started', {
        sequence_id: run.sequenceId,
        run_id: run.runId,
        total_steps: run.plan.steps.length,
        description: run.description,
        rule_id: run.context.rule_id,
        rule_name: run.context.rule_name,
        mode: run.mode,
      });
    }
    (run.actor as NonNullable<Run['actor']>).start();
    if (!snapshot) host.send(run, { type: 'START' });
    return true;
  }

  /** A top-level run reached its end: its last event, its history row, and its sequence's queue moves on. */
  onEnded(run: Run): void {
    const { book, host, out, options } = this.#parts;
    const ctx = run.snapshot?.context;
    const results = ctx?.results ?? [];
    host.emit(run, 'sequence_completed', {
      sequence_id: run.sequenceId,
      run_id: run.runId,
      status: run.status,
      success: run.status === 'completed',
      duration_seconds: ((run.endedAt ?? Date.now()) - (ctx?.startedAt ?? run.createdAt)) / 1000,
      steps_completed: results.filter((r) => r.success).length,
      steps_failed: results.filter((r) => !r.success).length,
      error: ctx?.end?.message ?? run.endError?.message ?? null,
      error_code: ctx?.end?.code ?? run.endError?.code ?? null,
    });
    out.ended(run);
    options.onRunEnded?.(run);
    // The registry learns of the end after this transition; the next queued run starts then.
    if (book.removeActive(run)) queueMicrotask(() => this.drainQueue(run.sequenceId));
  }

  /** Starts the next waiting run of a sequence; one that cannot start fails, and the one after it is tried. */
  drainQueue(sequenceId: string): void {
    const { book, limits } = this.#parts;
    for (;;) {
      const queue = book.queues.get(sequenceId);
      const next = queue?.shift();
      if (!queue || !next) return;
      if (queue.length === 0) book.queues.delete(sequenceId);
      if (this.launch(next)) return;
      this.cancelQueued(next, `Concurrency limit reached (${limits.maxConcurrent} runs)`, 'failed');
    }
  }

  /** Ends a run that never started (queued, superseded, refused, or not resumable after a restart). */
  cancelQueued(
    run: Run,
    reason: string,
    status: 'cancelled' | 'failed' = 'cancelled',
    code: number = status === 'cancelled' ? Codes.CANCELLED : Codes.ALREADY_RUNNING,
  ): void {
    const { book, host, out } = this.#parts;
    book.dequeue(run);
    book.runs.set(run.runId, run);
    run.status = status;
    run.state = status;
    run.endedAt = Date.now();
    run.endError = { message: reason, code };
    host.emit(run, 'sequence_completed', {
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
    out.ended(run);
  }

  /** A run's actor threw (a defect): the run ends failed with 5631, its actuators made safe. */
  crashed(runId: string, error: unknown): void {
    const { book, host, options } = this.#parts;
    const run = book.runs.get(runId);
    this.#parts.report(error, `run ${runId} crashed`);
    if (!run || run.endedAt !== null) return;
    // Its actor moves no more: stop its timer and its action in flight (a nested run is cancelled).
    host.halt(run);
    run.status = 'failed';
    run.state = 'failed';
    run.endedAt = Date.now();
    run.endError = { message: `Run crashed: ${error instanceof Error ? error.message : String(error)}`, code: Codes.INTERNAL_ERROR };
    options.onRunCrashed?.(run.root);
    this.onEnded(run);
  }

  /**
   * Forgets a top-level run this node no longer drives (another node owns it now, SPEC 14): its
   * actor, its nested runs and its timers stop without any effect (no cleanup, no safe state: the
   * new owner has them), its slot is given back, and nothing of it is kept.
   */
  drop(run: Run): void {
    const { book, host, options } = this.#parts;
    // Nested runs first, newest first, as at shutdown: their parents' aborted attempts find them stopped.
    for (const nested of [...book.runs.values()].reverse()) {
      if (nested.root !== run || nested === run) continue;
      host.halt(nested);
      book.runs.delete(nested.runId);
    }
    const counted = run.actor !== null && run.endedAt === null;
    host.halt(run);
    if (counted) this.registry.send({ type: 'RUN_STOPPED', runId: run.runId });
    book.removeActive(run);
    book.dequeue(run);
    book.forget(run);
    options.onRunDropped?.(run.runId);
  }

  /** Stops the registry and, through it, every run's actor (shutdown). */
  stop(): void {
    this.registry.send({ type: 'SHUTDOWN' });
    this.registry.stop();
  }
}
