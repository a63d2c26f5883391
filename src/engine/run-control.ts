/**
 * The control calls of a run (SPEC 7: cancel, pause, resume, signal; a device fault): applied at
 * once to a run this node holds; for a run another node drives (a cluster, SPEC 14) sent to that
 * node; else 409 when the store knows the run ended and 404 when nobody knows it.
 */
import { MAX_SIGNALS } from '../../machines/sequence.machine.ts';
import { Codes, SequencerError } from '../domain/errors.ts';
import type { Progress } from '../domain/progress.ts';
import { TERMINAL_STATUSES } from '../domain/progress.ts';
import type { RunStore } from '../store/run-store.ts';
import type { Admission } from './admission.ts';
import type { EngineOptions, RemoteControl } from './engine-options.ts';
import { toProgress } from './progress.ts';
import type { RunBook } from './run-book.ts';
import type { RunHost } from './run-host.ts';
import { notFound } from './run-queries.ts';
import type { Run } from './run.ts';
import type { WriteAhead } from './write-ahead.ts';

/** What the control calls work on. */
export interface RunControlParts {
  book: RunBook;
  host: RunHost;
  admission: Admission;
  out: WriteAhead;
  store: RunStore;
  cluster: EngineOptions['cluster'];
  outputs: EngineOptions['outputs'];
}

/** A control call as it travels to the node that drives a run. */
interface RemoteCall {
  kind: RemoteControl;
  body: Record<string, unknown>;
}

/** An event as the engine sends it to a run (the host adds `now`). */
type HostEvent = Parameters<RunHost['send']>[1];

/** The control calls of the engine's runs. */
export class RunControl {
  readonly #parts: RunControlParts;

  constructor(parts: RunControlParts) {
    this.#parts = parts;
  }

  /**
   * Cancels a run (by run_id or the newest run of a sequence_id). A run this engine holds is
   * cancelled before this returns; the promise rejects with 404/5611 or 409/5619.
   */
  cancel(id: string, reason = 'Cancelled by operator'): Promise<{ success: true; message: string; reason: string }> {
    const notRunning = (runId: string, status: string) =>
      new SequencerError(Codes.INVALID_STATE, `Run ${runId} is ${status}; only a pending, running or paused run can be cancelled`);
    return this.#withHeld(id, notRunning, { kind: 'cancel', body: { reason } }, (run) => {
      if (TERMINAL_STATUSES.has(run.status) || run.status === 'stopping') throw notRunning(run.runId, run.status);
      if (run.actor === null) this.#parts.admission.cancelQueued(run, reason);
      else this.#parts.host.send(run, { type: 'CANCEL', reason });
      return { success: true as const, message: `Run ${run.runId} cancelled`, reason };
    });
  }

  /**
   * Ends a running or paused top-level run failed with `code`, recording the step in flight as
   * failed with `message` (a device fault, SPEC 9); its cleanup and safe state follow as for any
   * failure. False, changing nothing, when the run is unknown, not started, or already ending.
   */
  fault(runId: string, code: number, message: string): boolean {
    const run = this.#parts.book.runs.get(runId);
    if (!run || run.parent !== null || !run.actor || run.endedAt !== null) return false;
    if (run.status !== 'running' && run.status !== 'paused') return false;
    this.#parts.host.send(run, { type: 'ABORT', code, message });
    return true;
  }

  /**
   * Pauses a running run; 409 when its state does not allow it. `outputs: "off"` (default) turns
   * OFF what the run holds, leases kept, and back on resume; `"hold"` leaves them (SPEC 7).
   */
  pause(id: string, outputs: 'off' | 'hold' = 'off'): Promise<Progress> {
    const call = { kind: 'pause' as const, body: { outputs } };
    return this.#pauseOrResume(id, call, (run) => run.status === 'running' && run.state.startsWith('running'), (run) =>
      outputs === 'off' ? { type: 'PAUSE', outputs, held: this.#parts.outputs?.held(run.runId) ?? [] } : { type: 'PAUSE', outputs },
    );
  }

  /** Resumes a paused run; 409 when it is not paused, or is restoring its outputs already. */
  resume(id: string): Promise<Progress> {
    return this.#pauseOrResume(id, { kind: 'resume', body: {} }, (run) => run.state === 'paused.held' || run.state === 'paused.off');
  }

  /**
   * Sends a signal to a run (SPEC 7 `POST /sequences/{id}/signal`): it keeps it until it ends (a
   * wait that reads it, now or later, sees it) and passes it on to a nested run in flight. Touches
   * only that run. 409/5619 when the run has ended, has not started, or holds `MAX_SIGNALS` already.
   */
  signal(id: string, name: string, data?: unknown): Promise<{ success: true; run_id: string; name: string }> {
    const refused = (runId: string, status: string) => new SequencerError(Codes.INVALID_STATE, `Run ${runId} is ${status}; only a run that has not ended takes signals`);
    return this.#withHeld(id, refused, { kind: 'signal', body: { name, data: data ?? null } }, (run) => {
      if (!run.actor || run.endedAt !== null) throw refused(run.runId, run.status);
      if ((run.snapshot?.context.signals.length ?? 0) >= MAX_SIGNALS) {
        throw new SequencerError(Codes.INVALID_STATE, `Run ${run.runId} has received ${MAX_SIGNALS} signals already; it keeps no more`);
      }
      // Announced before what it causes (a wait it satisfies).
      this.#parts.host.emit(run, 'sequence_signal', { sequence_id: run.sequenceId, run_id: run.runId, name, data: data ?? null });
      this.#parts.host.send(run, { type: 'SIGNAL', name });
      return { success: true as const, run_id: run.runId, name };
    });
  }

  #pauseOrResume(id: string, call: RemoteCall & { kind: 'pause' | 'resume' }, allowed: (run: Run) => boolean, event: (run: Run) => HostEvent = () => ({ type: 'RESUME' })): Promise<Progress> {
    const refused = (runId: string, status: string) =>
      new SequencerError(Codes.INVALID_STATE, `Run ${runId} is ${status}; only a ${call.kind === 'pause' ? 'running run can be paused' : 'paused run can be resumed'}`);
    return this.#withHeld(id, refused, call, (run) => {
      if (!allowed(run) || !run.actor) throw refused(run.runId, run.state === 'paused.restoring' ? 'restoring its outputs' : run.status);
      this.#parts.host.send(run, event(run));
      return toProgress(run, Date.now());
    });
  }

  /**
   * Applies `change` at once to the run of `id` this engine holds; for a run it does not hold, sends
   * `call` to the node that drives it (a cluster), else rejects with `ended` (a 409) when the store
   * knows it (it has ended) and 404 when nobody does.
   */
  #withHeld<T>(id: string, ended: (runId: string, status: string) => SequencerError, call: RemoteCall, change: (run: Run) => T): Promise<T> {
    const run = this.#parts.book.find(id);
    if (!run) return this.#notHeld(id, ended, call) as Promise<T>;
    try {
      return Promise.resolve(change(run));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #notHeld(id: string, ended: (runId: string, status: string) => SequencerError, call: RemoteCall): Promise<unknown> {
    // A run that ended this turn has left the book: its history row is on its way.
    await this.#parts.out.flush();
    const stored = await this.#parts.store.getRun(id);
    if (!stored) throw notFound(id);
    const remote = stored.ended_at === null ? await this.#parts.cluster?.control(stored.run_id, call.kind, call.body) : null;
    if (remote) return remote.answer;
    throw ended(stored.run_id, stored.status);
  }

  /** True when this engine drives the top-level run `runId` (a cluster's node executes control calls for those only). */
  holds(runId: string): boolean {
    const run = this.#parts.book.runs.get(runId);
    return run !== undefined && run.parent === null && run.endedAt === null;
  }
}
