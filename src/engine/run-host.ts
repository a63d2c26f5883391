/**
 * Hosts the sequence actors: provides the machine's effects (running actions through executors,
 * aborting them, publishing step events, pausing and resuming a nested run in flight), watches every transition through a subscription per
 * run (the host knows which event it sent, so XState's inspection events are not needed), queues each run for the next deadline in its context (one `WakeQueue`, one timer, for all runs), and persists
 * each transition before its events go out and before the actions it asks for leave the process.
 */
import type { Actor } from 'xstate';
import { createActor } from 'xstate';
import { holdWakeAt, runDeadline, sequenceMachine, type PausedOutput, type RunActionParams, type SequenceEvent, type StepEventParams } from '../../machines/sequence.machine.ts';
import type { Reading } from '../conditions/evaluate-condition.ts';
import { Codes, SequencerError } from '../domain/errors.ts';
import type { ExecutionContext, ExecutorRegistry } from '../executors/executor.ts';
import type { EventType, SequenceEvents } from '../events/event-types.ts';
import type { ClosedLoop } from './closed-loop.ts';
import type { RunOutputs } from './engine-options.ts';
import { completedSteps, percentOf } from './progress.ts';
import { stateString, statusOf, type Run } from './run.ts';
import type { RunParent } from './run-parent.ts';
import { WakeQueue } from './wake-queue.ts';
import type { WriteAhead } from './write-ahead.ts';

/** What the host tells its owner about runs. */
export interface RunHostHooks {
  /** A run reached a final state (its last events are queued). */
  onEnded(run: Run): void;
  /** A transition happened (after it was queued for persistence). */
  onTransition(run: Run): void;
  /**
   * Asked right before an action starts: false when this node may no longer drive its runs (its
   * leases on a shared store may have expired); the runs are stopped by then and nothing starts.
   */
  mayDrive(): boolean;
}

type RunActor = Actor<typeof sequenceMachine>;

/** Hosts the actors of every run (top-level and nested). */
export class RunHost {
  /** Every run the engine holds, top-level and nested, by run_id (the engine's `RunBook` owns it). */
  readonly runs: Map<string, Run>;
  readonly machine;
  readonly #executors: ExecutorRegistry;
  readonly #out: WriteAhead;
  readonly #now: () => number;
  readonly #hooks: RunHostHooks;
  readonly #loop: ClosedLoop;
  readonly #outputs: RunOutputs | undefined;
  readonly #wakes: WakeQueue<Run>;

  constructor(runs: Map<string, Run>, executors: ExecutorRegistry, out: WriteAhead, now: () => number, hooks: RunHostHooks, loop: ClosedLoop, outputs?: RunOutputs) {
    this.runs = runs;
    this.#executors = executors;
    this.#out = out;
    this.#now = now;
    this.#hooks = hooks;
    this.#loop = loop;
    this.#outputs = outputs;
    this.#wakes = new WakeQueue<Run>(now, this.#wake);
    // One provided machine for every run: a provide() per run would cost 5 KB and 55 us each.
    this.machine = sequenceMachine.provide({
      actions: {
        runAction: ({ self }, params) => this.#runAction(self.id, params),
        abortAction: ({ self }) => this.#abort(self.id),
        emitStep: ({ self, context }, params) => this.#emitStep(self.id, params, completedSteps(context.results)),
        forwardPause: ({ self }) => this.runs.get(self.id)?.inFlight?.control?.pause(),
        forwardResume: ({ self }) => this.runs.get(self.id)?.inFlight?.control?.resume(),
        turnOutputsOff: ({ self }, { outputs }) => {
          const run = this.runs.get(self.id);
          if (run) this.#turnOutputsOff(run, outputs);
        },
        restoreOutputs: ({ self }, { outputs, timeoutMs }) => {
          const run = this.runs.get(self.id);
          if (run) this.#restoreOutputs(run, outputs, timeoutMs);
        },
        forwardSignal: ({ self, event }) => {
          if (event.type === 'SIGNAL') this.runs.get(self.id)?.inFlight?.control?.signal?.(event.name);
        },
        // Answered once the transition that asks is over (see #deliver).
        checkCondition: ({ self }, params) => {
          const run = this.runs.get(self.id);
          if (run) run.ask = params;
        },
        watchCondition: ({ self, context }) => {
          const run = this.runs.get(self.id);
          if (run) this.#loop.watchRun(run, context.plan.steps[context.currentStep]?.wait?.condition);
        },
        unwatchCondition: ({ self }) => {
          const run = this.runs.get(self.id);
          if (run) this.#loop.watch.unwatch(run);
        },
      },
    });
  }

  /** Creates a run's actor under `parent` (standing for the registry, or for the run it is nested in). */
  createActor(run: Run, parent: RunParent, snapshot?: unknown): RunActor {
    const actor = createActor(this.machine, {
      parent: parent as never,
      id: run.runId,
      // A nested run has the signals its parent received so far (a wait inside it may read them).
      input: { plan: run.plan, signals: run.parent?.actor?.getSnapshot().context.signals, firstStep: run.redrive?.from_step },
      ...(snapshot ? { snapshot: snapshot as never } : {}),
    });
    run.actor = actor;
    run.lastEvent = 'xstate.init';
    actor.subscribe(new RunObserver(run, this.#observed, this.#crashed));
    return actor;
  }

  readonly #observed = (run: Run, snapshot: Run['snapshot']): void => this.#onSnapshot(run, snapshot, run.lastEvent);

  /**
   * A throwing action is a defect; the registry hears of it through the parent (a nested run's
   * crash as its top-level run's) and fails the top-level run. The crashed actor moves no more.
   */
  readonly #crashed = (run: Run): void => {
    this.#disarm(run);
    this.#loop.watch.unwatch(run);
    if (run.parent !== null) this.runs.delete(run.runId);
  };

  /**
   * The OFFs of a pause with `outputs: "off"`, once the pause is stored (like any effect that leaves
   * the process). One not confirmed OFF ends the run failed (5643): its safe state then tries again.
   */
  #turnOutputsOff(run: Run, outputs: PausedOutput[]): void {
    const outputsOff = new Promise<boolean>((settled) => {
      this.#out.afterCommit(() => {
        (this.#outputs?.turnOff(run.runId, outputs) ?? Promise.resolve()).then(
          () => settled(true),
          (error: unknown) => {
            settled(false);
            this.send(run, { type: 'ABORT', code: codeOf(error), message: messageOf(error) });
          },
        );
      });
    });
    run.outputsOff = outputsOff;
  }

  /** Turns the paused outputs back (after the pause's OFFs, never racing them), then answers OUTPUTS_RESTORED or ABORT. */
  #restoreOutputs(run: Run, outputs: PausedOutput[], timeoutMs: number): void {
    const off = run.outputsOff ?? Promise.resolve(true);
    run.outputsOff = null;
    this.#out.afterCommit(() => {
      void off.then(async (allOff) => {
        // An OFF that failed has aborted the run already.
        if (!allOff) return;
        try {
          await this.#outputs?.restore(run.runId, run.priority, outputs, timeoutMs);
          this.send(run, { type: 'OUTPUTS_RESTORED' });
        } catch (error) {
          this.send(run, { type: 'ABORT', code: codeOf(error), message: messageOf(error) });
        }
      });
    });
  }

  /** Sends an event to a run's actor with the current time. */
  send(run: Run, event: DistributiveOmit<SequenceEvent, 'now'>): void {
    this.#deliver(run, Object.assign({ now: this.#now() }, event) as SequenceEvent);
  }

  /** Every event reaches a run through here, so its snapshot observer knows what caused a transition. */
  #deliver(run: Run, event: SequenceEvent): void {
    // A late answer may find its run ended or halted by shutdown: nothing is left to move.
    if (!run.actor || run.actor.getSnapshot().status !== 'active') return;
    run.lastEvent = event.type;
    if (event.type === 'CANCEL') run.cancelReason ??= event.reason;
    // The journal of the run: replaying these events rebuilds its snapshot after a restart.
    run.turn?.push(event);
    const before = run.snapshot;
    run.actor.send(event);
    // An event the chart took no transition for (a reading that changes nothing) is not journaled.
    if (run.snapshot === before && run.turn?.[run.turn.length - 1] === event) run.turn.pop();
    // A condition the transition asked about is answered now, as the run's next event.
    const ask = run.ask;
    if (ask !== null) {
      run.ask = null;
      this.#deliver(run, this.#loop.answer(run, ask, event.now));
    }
  }

  /** A reading arrived: the runs waiting on its sensor, and only those, take its CONDITION. */
  onReading(reading: Reading): void {
    for (const [run, event] of this.#loop.wakeUps(reading, this.#now())) this.#deliver(run, event);
  }

  /** Publishes an event about a run (nested runs stay quiet: their parent's step speaks for them). */
  emit<T extends EventType>(run: Run, type: T, data: SequenceEvents[T]): void {
    if (run.parent === null) this.#out.event(type, data, this.#now());
  }

  #onSnapshot(run: Run, snapshot: Run['snapshot'], eventType: string): void {
    if (!snapshot || snapshot === run.snapshot) return;
    const previous = run.snapshot;
    const previousState = run.state;
    const previousStatus = run.status;
    run.snapshot = snapshot;
    run.state = stateString(snapshot.value);
    run.status = statusOf(run.state);
    const ctx = snapshot.context;
    // Literals, not `{ ...ref, more }`: V8 (Node 20) adds each key after a spread on a slow path, ~0.5 us a key.
    const sequence_id = run.sequenceId;
    const run_id = run.runId;
    if (eventType !== 'xstate.init') {
      this.emit(run, 'sequence_state', {
        sequence_id,
        run_id,
        state: run.state,
        previous_state: previousState,
        event: eventType,
        current_step: ctx.currentStep,
        status: run.status,
      });
      if (run.status === 'paused' && previousStatus !== 'paused') this.emit(run, 'sequence_paused', { sequence_id, run_id, current_step: ctx.currentStep });
      if (previousStatus === 'paused' && run.status !== 'paused') this.emit(run, 'sequence_resumed', { sequence_id, run_id, current_step: ctx.currentStep });
      const end = ctx.end;
      if (end !== null && previous?.context.end == null) {
        const reason = end.outcome === 'cancelled' ? (run.cancelReason ?? end.message) : end.message;
        if (end.outcome === 'cancelled') this.emit(run, 'sequence_cancelled', { sequence_id, run_id, reason });
        else this.emit(run, 'sequence_error', { sequence_id, run_id, error_code: end.code, message: reason });
        this.emit(run, 'sequence_stopping', { sequence_id, run_id, ending_as: end.outcome, reason });
      }
    }
    if (snapshot.status === 'done') {
      run.endedAt = ctx.endedAt ?? this.#now();
      this.#disarm(run);
      run.inFlight = null;
      this.#hooks.onEnded(run);
    } else {
      this.#arm(run);
    }
    this.#hooks.onTransition(run);
  }

  /** Queues the run for its next deadline: the current wait, or the run's max duration. */
  #arm(run: Run): void {
    const ctx = run.snapshot?.context;
    if (!ctx) return;
    let at = ctx.deadline ?? Infinity;
    // A wait whose condition holds is looked at again when its for_seconds end or its readings age out.
    const hold = holdWakeAt(ctx);
    if (hold !== null) at = Math.min(at, hold);
    const bounded = run.state.startsWith('running') || run.status === 'paused';
    if (bounded) at = Math.min(at, runDeadline(ctx) ?? Infinity);
    this.#wakes.set(run, at === Infinity ? null : at);
  }

  #disarm(run: Run): void {
    this.#wakes.set(run, null);
  }

  /** A run's deadline came (it is out of the queue): TIMEOUT when its max duration ran out, else WAKE for its current wait. */
  readonly #wake = (run: Run): void => {
    const ctx = run.snapshot?.context;
    if (!run.actor || !ctx) return;
    const now = this.#now();
    const bounded = run.state.startsWith('running') || run.status === 'paused';
    const timedOut = bounded && now >= (runDeadline(ctx) ?? Infinity);
    this.#deliver(run, { type: timedOut ? 'TIMEOUT' : 'WAKE', now });
    // When nothing moved (no guard took the event), the run is queued again (not an actor that crashed).
    if (run.armedAt === null && run.endedAt === null && run.actor.getSnapshot().status === 'active') this.#arm(run);
  };

  /** Stops a run's actor and takes it out of the wake queue without ending the run (shutdown: it is recovered later). */
  halt(run: Run): void {
    this.#disarm(run);
    // Stopped before the abort, so the aborted attempt's answer finds no actor to move. XState's
    // stop() refuses actors that have a parent (the registry or a parent run); _stop() is what a
    // parent uses to stop its child.
    (run.actor as unknown as { _stop(): void } | null)?._stop();
    run.inFlight?.controller.abort(new SequencerError(Codes.CANCELLED, 'Server shutting down'));
    run.inFlight = null;
    // A stopped actor runs no exit action: a wait it was in leaves the index here.
    this.#loop.watch.unwatch(run);
  }

  #runAction(runId: string, params: RunActionParams): void {
    const run = this.runs.get(runId);
    const action = params.step.action;
    if (!run || !action) return;
    const executor = this.#executors.get(action.type);
    if (!executor?.execute) {
      return this.#settle(run, params.attemptId, new SequencerError(Codes.EXECUTOR_NOT_FOUND, `No executor for action type '${action.type}'`), false);
    }
    const controller = new AbortController();
    run.inFlight = { attemptId: params.attemptId, controller, control: null };
    const context: ExecutionContext = {
      runId: run.runId,
      rootRunId: run.root.runId,
      sequenceId: run.sequenceId,
      priority: run.root.priority,
      ruleName: run.root.context.rule_name,
      stepIndex: params.stepIndex,
      stepName: params.step.name,
      phase: params.phase,
      attempt: params.attempt,
      depth: run.depth,
      signal: controller.signal,
      timeoutMs: params.step.timeoutMs,
      deadline: params.deadline,
      attachControl: (control) => {
        if (run.inFlight?.attemptId === params.attemptId) run.inFlight.control = control;
      },
      emit: (type, data) => this.emit(run.root, type, data),
    };
    // Actions start after the transition that asked for them, as XState starts invoked actors (a
    // nested run started from inside the parent's transition would run inside it); one whose effect
    // leaves the process starts once that transition is stored, so a crash never leaves a device
    // acting for a run nobody stored.
    const start = executor.external === false ? queueMicrotask : this.#out.afterCommit;
    start(() => {
      if (run.inFlight?.controller !== controller || !this.#hooks.mayDrive()) return;
      let pending: Promise<string>;
      try {
        pending = (executor.execute as NonNullable<typeof executor.execute>)(action, context);
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (message) => this.#settle(run, params.attemptId, message, true),
        (error: unknown) => this.#settle(run, params.attemptId, error, false),
      );
    });
  }

  /** Reports an attempt's end to its run, unless the run has moved on (a late or aborted answer). */
  #settle(run: Run, attemptId: number, result: unknown, ok: boolean): void {
    if (run.inFlight?.attemptId === attemptId) run.inFlight = null;
    const now = this.#now();
    // Decided by how the promise settled: an executor may reject with a bare string.
    if (ok) {
      this.#deliver(run, { type: 'STEP_DONE', attemptId, now, message: String(result) });
      return;
    }
    const code = result instanceof SequencerError ? result.code : Codes.STEP_FAILED;
    const message = result instanceof Error ? result.message : String(result);
    this.#deliver(run, { type: 'STEP_FAILED', attemptId, now, message, code });
  }

  #abort(runId: string): void {
    const run = this.runs.get(runId);
    if (!run?.inFlight) return;
    run.inFlight.controller.abort(new SequencerError(Codes.CANCELLED, 'Action aborted'));
    run.inFlight = null;
  }

  #emitStep(runId: string, params: StepEventParams, done: number): void {
    const run = this.runs.get(runId);
    if (!run) return;
    const total = run.plan.steps.length;
    // A redrive begins past the steps the run it redrives got through: they count as done.
    done += run.redrive?.from_step ?? 0;
    this.emit(run, 'sequence_step', {
      sequence_id: run.sequenceId,
      run_id: run.runId,
      status: params.status,
      phase: params.phase,
      step: params.stepIndex,
      step_name: params.stepName,
      total_steps: total,
      progress_percent: percentOf(done, total, false),
      success: params.success,
      message: params.message,
      duration_ms: params.durationMs,
      error_code: params.errorCode,
      attempt: params.attempt,
    });
  }
}

/**
 * A run's observer. Its handlers are methods, shared by every run: XState binds an observer's
 * `next` and `error` to it, and binding two closures made for each run cost ~350 B a run (their
 * bound copies, contexts and, under tsx, names of their own).
 */
class RunObserver {
  readonly #run: Run;
  readonly #observed: (run: Run, snapshot: Run['snapshot']) => void;
  readonly #crashed: (run: Run) => void;

  constructor(run: Run, observed: (run: Run, snapshot: Run['snapshot']) => void, crashed: (run: Run) => void) {
    this.#run = run;
    this.#observed = observed;
    this.#crashed = crashed;
  }

  next(snapshot: Run['snapshot']): void {
    this.#observed(this.#run, snapshot);
  }

  error(): void {
    this.#crashed(this.#run);
  }
}

const codeOf = (error: unknown): number => (error instanceof SequencerError ? error.code : Codes.STEP_FAILED);
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Omit that keeps a union a union. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
